"""The customer page's doors (conversations.access): every branch, with real roles."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from compliance.services import Actor, suppress_address
from conversations.access import access_customer, access_customer_suppression, may_on_customer
from kommunikation.roles import ADMIN
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna(brand_a):
    return CustomerFactory(brand=brand_a, email="anna@kunde.example")


@pytest.fixture
def admin_a(brand_a):
    return UserFactory(username="ada.admin", brands=[brand_a], roles=[ADMIN])


def bounce(value):
    return suppress_address(
        channel="email", value=value, reason="hard_bounce", actor=Actor("Versand")
    )


def test_a_customer_of_another_brand_is_not_found(agent_b, anna):
    with pytest.raises(Http404):
        access_customer(agent_b, anna.pk)


def test_an_agent_sees_the_customer_and_records_preferences_but_may_not_block(agent_a, anna):
    assert access_customer(agent_a, anna.pk) == anna
    assert access_customer(agent_a, anna.pk, action="preferences") == anna
    assert may_on_customer(agent_a, "events")
    with pytest.raises(PermissionDenied):
        access_customer(agent_a, anna.pk, action="block")


def test_a_team_lead_blocks_but_may_not_unblock(team_lead, anna):
    assert access_customer(team_lead, anna.pk, action="block") == anna
    suppression = bounce("anna@kunde.example")
    with pytest.raises(PermissionDenied):
        access_customer_suppression(team_lead, anna, suppression.pk)


def test_an_admin_lifts_only_the_customers_own_suppressions(admin_a, anna):
    own = bounce("anna@kunde.example")
    other = bounce("wer@anders.example")

    assert access_customer_suppression(admin_a, anna, own.pk) == own
    with pytest.raises(Http404):
        access_customer_suppression(admin_a, anna, other.pk)


def test_an_admin_may_not_lift_an_address_that_protects_another_brands_customer(
    admin_a, anna, brand_b
):
    CustomerFactory(brand=brand_b, email="anna@kunde.example")
    shared = bounce("anna@kunde.example")

    with pytest.raises(PermissionDenied):
        access_customer_suppression(admin_a, anna, shared.pk)
