"""The staff header links to the admin for users who may use it (is_staff), and only for them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string

from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ADMIN_LINK = 'class="admin-link" href="/admin/"'


def test_staff_see_the_admin_link_in_every_staff_header(client, team_lead, brand_a):
    customer = CustomerFactory(brand=brand_a)
    client.force_login(team_lead)

    for url in ["/", f"/kunden/{customer.pk}/", "/automatisierung/"]:
        response = client.get(url)

        assert response.status_code == 200
        assert ADMIN_LINK in response.text
        assert ">Verwaltung</a>" in response.text


def test_users_without_staff_status_get_no_admin_link(agent_a):
    """The staff pages admit only is_staff users; the header's link says the same on its own."""
    agent_a.is_staff = False

    assert render_to_string("base.html#admin_link", {"user": agent_a}).strip() == ""
    assert render_to_string("base.html#admin_link", {"user": AnonymousUser()}).strip() == ""


def test_the_login_page_has_no_admin_link(client):
    response = client.get("/anmelden/")

    assert response.status_code == 200
    assert "/admin/" not in response.text
