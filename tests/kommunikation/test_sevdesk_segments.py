"""Segmentation: revenue of the last 12 months, value tier, activity, industry; the card."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from kommunikation.sevdesk.models import SevdeskSnapshot
from kommunikation.sevdesk.segments import refresh_segments
from kommunikation.sevdesk.sync import sync_connection
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 2)


def document(customer, *, resource="Invoice", day, net="0", status="1000", kind="RE"):
    n = SevdeskSnapshot.objects.count() + 1
    return SevdeskSnapshot.objects.create(
        brand=customer.brand, resource=resource, external_id=str(n), digest=str(n),
        customer=customer, kind=kind, status=status, document_date=dt.date.fromisoformat(day),
        amount_net=Decimal(net),
    )  # fmt: skip


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.SEGMENT_TIER_A, settings.SEGMENT_TIER_B = 10000, 2000
    settings.SEGMENT_NEW_DAYS, settings.SEGMENT_ACTIVE_DAYS = 90, 180
    settings.SEGMENT_OCCASIONAL_DAYS = 365


def test_the_value_tier_follows_the_revenue_of_the_last_twelve_months(brand_a):
    a = CustomerFactory(brand=brand_a, customer_since=dt.date(2020, 1, 1))
    document(a, day="2025-06-01", net="6000")
    document(a, day="2026-01-10", net="4000", status="750")
    b = CustomerFactory(brand=brand_a, customer_since=dt.date(2020, 1, 1))
    document(b, day="2025-12-01", net="2500")
    document(b, day="2025-03-01", net="50000")  # older than twelve months
    document(b, day="2026-02-01", net="9000", status="100")  # a draft is no revenue
    c = CustomerFactory(brand=brand_a, customer_since=dt.date(2020, 1, 1))
    document(c, day="2026-02-01", net="1999.99")

    assert refresh_segments(brand=brand_a, today=TODAY) == 3

    for customer in (a, b, c):
        customer.refresh_from_db()
    assert (a.revenue_12m, a.value_tier) == (Decimal("10000.00"), "A")
    assert (b.revenue_12m, b.value_tier) == (Decimal("2500.00"), "B")
    assert (c.revenue_12m, c.value_tier) == (Decimal("1999.99"), "C")


def test_the_thresholds_are_configurable(brand_a, settings):
    settings.SEGMENT_TIER_A, settings.SEGMENT_TIER_B = 1000, 500
    customer = CustomerFactory(brand=brand_a)
    document(customer, day="2026-01-10", net="1500")

    refresh_segments(today=TODAY)

    customer.refresh_from_db()
    assert customer.value_tier == "A"


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("2026-01-15", "2026-02-20", "new"),  # first order 46 days ago
        ("2024-01-01", "2025-10-01", "active"),  # last 152 days ago
        ("2024-01-01", "2025-05-01", "occasional"),  # last 305 days ago
        ("2024-01-01", "2025-02-01", "inactive"),  # last 394 days ago
    ],
)
def test_activity_follows_the_first_and_last_order_or_invoice(brand_a, first, last, expected):
    customer = CustomerFactory(brand=brand_a, customer_since=dt.date(2020, 1, 1))
    document(customer, day=first, net="10")
    document(customer, resource="Order", kind="AB", status="200", day=last, net="10")
    document(customer, resource="Order", kind="AN", status="200", day="2026-03-01")  # a quote

    refresh_segments(today=TODAY)

    customer.refresh_from_db()
    assert customer.activity == expected
    assert customer.last_document_date == dt.date.fromisoformat(last)


def test_a_customer_without_documents_is_new_first_and_inactive_later(brand_a):
    recent = CustomerFactory(brand=brand_a, customer_since=dt.date(2026, 2, 1))
    old = CustomerFactory(brand=brand_a, customer_since=dt.date(2024, 2, 1))

    refresh_segments(today=TODAY)

    recent.refresh_from_db()
    old.refresh_from_db()
    assert (recent.activity, recent.value_tier) == ("new", "C")
    assert old.activity == "inactive"


def test_a_second_refresh_changes_nothing(brand_a):
    customer = CustomerFactory(brand=brand_a)
    document(customer, day="2026-01-10", net="1500")
    refresh_segments(today=TODAY)

    assert refresh_segments(today=TODAY) == 0


def test_each_sync_refreshes_the_segments(connection, fake, sleeps):
    fake.contact("42", surename="Max", familyname="Mustermann",
                 category={"id": "77", "objectName": "Category", "name": "Handwerk"})  # fmt: skip
    fake.invoice("1", 42, sumNet="12000", sumGross="14280", invoiceDate="2026-02-01T00:00:00+01:00")
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        sync_connection(connection, sleep=sleeps.append)

    customer = connection.brand.customers.get(sevdesk_id="42")
    assert (customer.value_tier, customer.activity, customer.industry) == ("A", "new", "Handwerk")
    assert customer.revenue_12m == Decimal("12000.00")


def test_the_customer_page_shows_the_segments(client, agent_a, brand_a):
    customer = CustomerFactory(brand=brand_a, industry="Gastronomie")
    document(customer, day="2026-01-10", net="2500")
    refresh_segments(today=TODAY)
    client.force_login(agent_a)

    response = client.get(f"/kunden/{customer.pk}/")

    assert response.status_code == 200
    assert "Segmentierung" in response.text
    assert "B (mittlerer Umsatz)" in response.text
    assert "2500,00 €" in response.text
    assert "Gastronomie" in response.text


def test_the_admin_never_shows_the_token_again_and_blank_keeps_it(client, brand_a):
    from kommunikation.sevdesk.models import SevdeskConnection

    client.force_login(UserFactory(username="root", is_superuser=True))
    response = client.post(
        "/admin/kommunikation/sevdeskconnection/add/",
        {"brand": brand_a.pk, "base_url": "https://my.sevdesk.de/api/v1",
         "token": "0123456789abcdef0123456789abcdef", "active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    saved = SevdeskConnection.objects.get()
    page = client.get(f"/admin/kommunikation/sevdeskconnection/{saved.pk}/change/")
    assert page.status_code == 200
    assert "0123456789abcdef" not in page.text

    client.post(
        f"/admin/kommunikation/sevdeskconnection/{saved.pk}/change/",
        {"brand": brand_a.pk, "base_url": "https://my.sevdesk.de/api/v1", "token": "", "active": "on"},
    )  # fmt: skip

    saved.refresh_from_db()
    assert saved.token == "0123456789abcdef0123456789abcdef"
