"""Events on the customer page and in the admin; event sources' secrets shown once."""

from __future__ import annotations

import datetime as dt

import pytest

from kommunikation.events.models import Event, EventSource
from kommunikation.events.services import record_event
from kommunikation.roles import ADMIN
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 3, 2, 8, 30, tzinfo=dt.UTC)


@pytest.fixture
def admin_a(brand_a):
    return UserFactory(username="alex.admin", brands=[brand_a], roles=[ADMIN])


def invoice_event(brand, customer=None, key="inv-1", number="RE-1000"):
    event, _ = record_event(
        brand=brand,
        type="invoice.overdue",
        source="sevdesk",
        source_key=key,
        occurred_at=WHEN,
        payload={},
        customer=customer,
        record_number=number,
        record_status="200",
    )
    return event


def test_the_customer_page_lists_the_customers_latest_events(client, agent_a, brand_a):
    customer = CustomerFactory(brand=brand_a)
    event = invoice_event(brand_a, customer)
    event.record_outcome(outcome="processed", detail="Zahlungserinnerung geplant")
    invoice_event(brand_a, CustomerFactory(brand=brand_a), key="other", number="RE-9999")
    client.force_login(agent_a)

    response = client.get(f"/kunden/{customer.pk}/")

    assert response.status_code == 200
    card = response.text.split('id="events"')[1].split("</section>")[0]
    assert "Rechnung überfällig" in card
    assert "RE-1000" in card
    assert "02.03.2026 09:30" in card  # Berlin time
    assert "verarbeitet" in card and "Zahlungserinnerung geplant" in card
    assert "RE-9999" not in card


def test_a_customer_without_events_says_so(client, agent_a, brand_a):
    customer = CustomerFactory(brand=brand_a)
    client.force_login(agent_a)
    assert "Noch keine Ereignisse." in client.get(f"/kunden/{customer.pk}/").text


def test_events_are_read_only_in_the_admin_and_scoped_to_the_brand(
    client, admin_a, brand_a, brand_b
):
    own = invoice_event(brand_a, number="RE-EIGEN")
    foreign = invoice_event(brand_b, number="RE-FREMD")
    client.force_login(admin_a)

    listing = client.get("/admin/kommunikation/event/")
    page = client.get(f"/admin/kommunikation/event/{own.pk}/change/")

    assert listing.status_code == 200
    assert "RE-EIGEN" in listing.text and "RE-FREMD" not in listing.text
    assert page.status_code == 200
    assert 'name="type"' not in page.text  # nothing to edit
    assert client.get(f"/admin/kommunikation/event/{foreign.pk}/change/").status_code == 302
    assert client.get("/admin/kommunikation/event/add/").status_code == 403
    deleted = client.post(f"/admin/kommunikation/event/{own.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert Event.objects.filter(pk=own.pk).exists()


def test_a_new_sources_secret_is_shown_once(client, admin_a, brand_a):
    client.force_login(admin_a)

    response = client.post(
        "/admin/kommunikation/eventsource/add/",
        {"brand": brand_a.pk, "name": "Shop", "slug": "shop", "active": "on"},
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    source = EventSource.objects.get()
    assert source.secret.startswith("whsec_")
    assert source.secret in response.text
    for url in (
        "/admin/kommunikation/eventsource/",
        f"/admin/kommunikation/eventsource/{source.pk}/change/",
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert source.secret not in page.text
        assert source.secret[6:20] not in page.text
        assert "sha256:" in page.text


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_valid(client, admin_a, brand_a):
    source = EventSource.objects.create(brand=brand_a, name="ERP", slug="erp")
    old = source.secret
    client.force_login(admin_a)

    response = client.post(
        "/admin/kommunikation/eventsource/",
        {"action": "rotate_secret", "_selected_action": [source.pk]},
    )

    source.refresh_from_db()
    assert response.status_code == 200
    assert source.secret != old and source.previous_secret == old
    assert source.secret in response.text and old not in response.text
    client.post(
        "/admin/kommunikation/eventsource/",
        {"action": "revoke_previous_secret", "_selected_action": [source.pk]},
    )
    source.refresh_from_db()
    assert source.previous_secret == ""


def test_an_admin_cannot_see_or_rotate_another_brands_source(client, admin_a, brand_b):
    foreign = EventSource.objects.create(brand=brand_b, name="Fremd", slug="fremd")
    secret = foreign.secret
    client.force_login(admin_a)

    assert "Fremd" not in client.get("/admin/kommunikation/eventsource/").text
    client.post(
        "/admin/kommunikation/eventsource/",
        {"action": "rotate_secret", "_selected_action": [foreign.pk]},
    )
    foreign.refresh_from_db()
    assert foreign.secret == secret
