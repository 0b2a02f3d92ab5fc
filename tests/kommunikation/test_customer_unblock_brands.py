"""Lifting a block on the customer page stops at the brand: a suppression holds for every brand."""

from __future__ import annotations

import pytest

from compliance.models import AuditEntry, Suppression
from kommunikation.roles import ADMIN
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def test_a_block_that_also_protects_another_brands_customer_is_not_lifted(client, brand_a, brand_b):
    admin_a = UserFactory(username="alex.admin", brands=[brand_a], roles=[ADMIN])
    own = CustomerFactory(brand=brand_a, email="kim@kunde.example")
    CustomerFactory(brand=brand_b, email="kim@kunde.example")
    suppression = Suppression.objects.create(
        channel="email", value="kim@kunde.example", reason="complaint"
    )
    client.force_login(admin_a)

    response = client.post(f"/kunden/{own.pk}/entsperren/{suppression.pk}/", headers=HTMX)

    assert response.status_code == 403
    assert Suppression.objects.filter(pk=suppression.pk).exists()
    assert not AuditEntry.objects.filter(action="suppression.lifted").exists()
