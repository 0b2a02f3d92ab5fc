"""The admin's list of webhook deliveries: read-only, brand-scoped, brandless rows for superusers."""

from __future__ import annotations

import pytest

from conversations.models import WebhookDelivery
from conversations.webhooks import store_webhook
from kommunikation.roles import ADMIN
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/admin/conversations/webhookdelivery/"


@pytest.fixture
def admin_a(brand_a):
    return UserFactory(username="alex.admin", brands=[brand_a], roles=[ADMIN])


def delivery(body: bytes, *, brand=None, state="ok", reason="") -> WebhookDelivery:
    row = store_webhook(kind="inbound", esp="postmark", body=body, headers={})
    WebhookDelivery.objects.filter(pk=row.pk).update(brand=brand, state=state, reason=reason)
    return row


@pytest.fixture
def deliveries(brand_a, brand_b):
    return {
        "a": delivery(b'{"Subject": "Marke-A-Post"}', brand=brand_a),
        "b": delivery(b'{"Subject": "Marke-B-Post"}', brand=brand_b),
        "none": delivery(b"[kaputt-ohne-marke", state="rejected", reason="nicht lesbar"),
    }


def test_an_admin_lists_only_the_deliveries_of_their_brands(client, admin_a, deliveries):
    client.force_login(admin_a)

    listing = client.get(URL)

    assert listing.status_code == 200
    page = listing.content.decode()
    assert f"/{deliveries['a'].pk}/change/" in page
    assert f"/{deliveries['b'].pk}/change/" not in page
    assert f"/{deliveries['none'].pk}/change/" not in page  # no brand: superusers only
    assert client.get(f"{URL}{deliveries['b'].pk}/change/").status_code == 302
    assert client.get(f"{URL}{deliveries['none'].pk}/change/").status_code == 302


def test_an_admin_reads_the_body_of_their_delivery_but_cannot_change_it(
    client, admin_a, deliveries
):
    client.force_login(admin_a)
    url = f"{URL}{deliveries['a'].pk}/change/"

    page = client.get(url)
    changed = client.post(url, {"state": "failed", "reason": "x"})

    assert page.status_code == 200
    assert "Marke-A-Post" in page.content.decode()
    assert changed.status_code == 403
    assert client.get(f"{URL}add/").status_code == 403
    assert client.post(f"{URL}{deliveries['a'].pk}/delete/", {"post": "yes"}).status_code == 403
    deliveries["a"].refresh_from_db()
    assert deliveries["a"].state == "ok"


def test_a_superuser_sees_the_rejected_body_that_no_brand_could_be_found_for(client, deliveries):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))

    listing = client.get(f"{URL}?state=rejected")
    page = client.get(f"{URL}{deliveries['none'].pk}/change/")

    assert f"/{deliveries['none'].pk}/change/" in listing.content.decode()
    assert page.status_code == 200
    assert "kaputt-ohne-marke" in page.content.decode()
    assert "nicht lesbar" in page.content.decode()
