"""The sevDesk sync against a fake API in the documented shapes (pytest-httpserver)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command

from kommunikation.models import ContactPoint, Customer, Event
from kommunikation.sevdesk.models import SevdeskSnapshot
from kommunikation.sevdesk.sync import sync_connection

pytestmark = pytest.mark.django_db

BERLIN = dt.timezone(dt.timedelta(hours=1))
FIRST_SYNC = dt.datetime(2026, 3, 2, 9, 5, tzinfo=BERLIN)


def sync(connection, sleeps, *, at=None, full=False):
    with time_machine.travel(at or FIRST_SYNC, tick=False):
        result = sync_connection(connection, full=full, sleep=sleeps.append)
    connection.refresh_from_db()
    return result


def later(fake, minutes):
    fake.now += dt.timedelta(minutes=minutes)
    return fake.now + dt.timedelta(minutes=1)


@pytest.fixture
def world(fake):
    fake.contact("42", surename="Max", familyname="Mustermann", customerNumber="KD-1000",
                 birthday="1980-05-17", gender="m")  # fmt: skip
    fake.contact("43", name="Solar GmbH", customerNumber="KD-1001",
                 category={"id": "2", "objectName": "Category"})  # fmt: skip
    fake.contact("44", name="Bäckerei Korn", customerNumber="KD-1002",
                 category={"id": "77", "objectName": "Category", "name": "Gastronomie"})  # fmt: skip
    fake.way("991", 42, "EMAIL", "Max@Example.de", key="2", main="1")
    fake.way("992", 42, "EMAIL", "max.privat@example.de", key="1")
    fake.way("993", 42, "MOBILE", "0171 1234567", key="4")
    fake.way("994", 42, "PHONE", "030 123456", key="3")  # fax: never a text message
    fake.invoice("1", 42)
    fake.invoice("2", 42, status="1000", payDate="2026-02-10T00:00:00+01:00", paidAmount="119")
    fake.order("7", 42)
    return fake


def test_the_first_sync_imports_contacts_and_records_no_events(connection, world, sleeps):
    result = sync(connection, sleeps)

    assert result.error == ""
    assert result.first is True
    assert connection.initial_sync_at == FIRST_SYNC
    assert connection.last_error == ""
    max_ = Customer.objects.get(brand=connection.brand, sevdesk_id="42")
    assert (max_.first_name, max_.last_name, max_.number) == ("Max", "Mustermann", "KD-1000")
    assert max_.birthday == dt.date(1980, 5, 17)
    assert max_.is_company is False
    assert max_.gender == "m"
    supplier = Customer.objects.get(sevdesk_id="43")
    assert (supplier.kind, supplier.is_company, supplier.company_name) == (
        "supplier", True, "Solar GmbH"
    )  # fmt: skip
    assert Customer.objects.get(sevdesk_id="44").industry == "Gastronomie"
    points = [(p.channel, p.value, p.type, p.position) for p in max_.contact_points.all()]
    assert points == [
        ("email", "max@example.de", "work", 0),
        ("email", "max.privat@example.de", "private", 1),
        ("phone", "+491711234567", "mobile", 1),
    ]
    assert SevdeskSnapshot.objects.filter(resource="Invoice").count() == 2
    assert Event.objects.count() == 0  # the guard: history never reaches the rules
    assert set(connection.cursors) == {"Contact", "CommunicationWay", "Invoice", "Order"}
    # persons need depth=1; the first page asks for the total
    contact_query = next(q for p, q in world.requests if p.endswith("/Contact"))
    assert contact_query["depth"] == "1"
    assert contact_query["countAll"] == "true"
    assert "updateAfter" not in contact_query


def test_a_changed_invoice_makes_exactly_one_event(connection, world, sleeps):
    sync(connection, sleeps)
    at = later(world, 30)
    world.invoice("1", 42, status="1000", paidAmount="119", payDate="2026-03-02T00:00:00+01:00")

    result = sync(connection, sleeps, at=at)
    again = sync(connection, sleeps, at=at + dt.timedelta(minutes=5))  # the overlap returns it
    full = sync(connection, sleeps, at=at + dt.timedelta(minutes=6), full=True)

    assert (result.events, again.events, full.events) == (1, 0, 0)
    event = Event.objects.get()
    assert event.type == "payment.received"
    assert event.source == "sevdesk"
    assert event.source_key == "sevdesk:invoice:1:status:1000:v2"
    assert event.customer == Customer.objects.get(sevdesk_id="42")
    assert (event.record_kind, event.record_id, event.record_number) == ("invoice", "1", "RE-1")
    assert event.payload["amount"] == "119.00"
    assert event.payload["payment_date"] == "2026-03-02"
    assert SevdeskSnapshot.objects.get(resource="Invoice", external_id="1").version == 2


def test_a_new_invoice_and_a_partial_payment_become_events_with_due_date_and_open_amount(
    connection, world, sleeps
):
    sync(connection, sleeps)
    at = later(world, 30)
    world.invoice("3", 42, invoiceDate="2026-03-01T00:00:00+01:00", timeToPay="10",
                  sumGross="1190.50", sumNet="1000.42")  # fmt: skip
    sync(connection, sleeps, at=at)
    at = later(world, 30)
    world.invoice("3", 42, status="750", paidAmount="190.5")
    sync(connection, sleeps, at=at)
    at = later(world, 30)
    world.invoice("3", 42, status="750", paidAmount="690.50")
    sync(connection, sleeps, at=at)

    events = list(Event.objects.order_by("id"))
    assert [e.type for e in events] == [
        "invoice.created", "invoice.partially_paid", "invoice.partially_paid"
    ]  # fmt: skip
    created, first_part, second_part = (e.payload for e in events)
    assert created["due_date"] == "2026-03-11"  # invoice date + timeToPay
    assert created["amount"] == "1190.50"
    assert (first_part["paid_amount"], first_part["open_amount"]) == ("190.50", "1000.00")
    assert (second_part["paid_amount"], second_part["open_amount"]) == ("690.50", "500.00")


def test_a_draft_makes_no_event_until_it_is_sent(connection, world, sleeps):
    sync(connection, sleeps)
    at = later(world, 30)
    world.invoice("5", 42, status="100")
    assert sync(connection, sleeps, at=at).events == 0
    at = later(world, 30)
    world.invoice("5", 42, status="200")
    sync(connection, sleeps, at=at)

    assert [e.type for e in Event.objects.all()] == ["invoice.created"]


def test_quotes_and_order_confirmations_become_events(connection, world, sleeps):
    sync(connection, sleeps)
    at = later(world, 30)
    world.order("7", 42, status="500")  # the quote of the first sync is accepted
    world.order("8", 42)  # a new quote
    world.order("9", 42, orderType="AB", orderNumber="AB-9")  # an order confirmation
    world.delivery_note("10", 42, origin=9)  # a delivery note still a draft: no event
    sync(connection, sleeps, at=at)
    at = later(world, 30)
    world.order("9", 42, orderType="AB", orderNumber="AB-9", status="1000")
    sync(connection, sleeps, at=at)

    got = [(e.type, e.record_id) for e in Event.objects.order_by("id")]
    assert got == [
        ("quote.accepted", "7"),
        ("quote.created", "8"),
        ("order.created", "9"),
        ("order.status_changed", "9"),
    ]
    changed = Event.objects.get(type="order.status_changed")
    assert (changed.payload["status"], changed.payload["previous_status"]) == (
        "completed", "new_order"
    )  # fmt: skip
    assert Event.objects.get(type="quote.created").payload["valid_until"] == "2026-03-03"


def test_a_record_created_before_the_first_sync_but_seen_later_is_history(
    connection, world, sleeps
):
    sync(connection, sleeps)
    at = later(world, 30)
    old = world.invoice("6", 42)
    old["create"] = "2025-01-01T10:00:00+01:00"

    result = sync(connection, sleeps, at=at)

    assert result.history == 1
    assert not Event.objects.exists()


def test_an_unchanged_incremental_sync_makes_one_request_per_resource(connection, world, sleeps):
    sync(connection, sleeps)
    world.requests.clear()

    result = sync(connection, sleeps, at=FIRST_SYNC + dt.timedelta(minutes=5))

    assert result.events == 0
    assert result.requests == 4
    assert [p.rsplit("/", 1)[-1] for p, _q in world.requests] == [
        "Contact", "CommunicationWay", "Invoice", "Order"
    ]  # fmt: skip
    # updateAfter: the high-water mark (the fake's last update) minus ten minutes
    expected = int((world.now - dt.timedelta(minutes=10)).timestamp())
    assert {q["updateAfter"] for _p, q in world.requests} == {str(expected)}


def test_it_reads_every_page(connection, fake, sleeps, settings):
    settings.SEVDESK_PAGE_SIZE = 2
    fake.contact("42", surename="Max", familyname="Mustermann")
    for n in range(1, 6):
        fake.invoice(str(n), 42)

    sync(connection, sleeps)

    assert SevdeskSnapshot.objects.filter(resource="Invoice").count() == 5
    pages = [q for p, q in fake.requests if p.endswith("/Invoice")]
    assert [q["offset"] for q in pages] == ["0", "2", "4"]
    assert [q.get("countAll") for q in pages] == ["true", None, None]


def test_429_and_5xx_are_retried_honouring_retry_after(connection, world, sleeps):
    world.fail(429, {"Retry-After": "3"})
    world.fail(503, times=2)

    result = sync(connection, sleeps)

    assert result.error == ""
    assert sleeps == [3.0, 2.0, 4.0]  # Retry-After, then exponential backoff
    assert Customer.objects.filter(sevdesk_id="42").exists()


def test_it_gives_up_after_the_last_attempt_and_says_so(connection, world, sleeps):
    world.fail(500, times=5)

    result = sync(connection, sleeps)

    assert "HTTP 500" in result.error
    assert "5 Versuchen" in connection.last_error
    assert connection.initial_sync_at is None  # the first sync is not done yet
    assert len(sleeps) == 4


def test_a_revoked_token_is_explained_on_the_connection_and_in_the_command(
    connection, world, sleeps, capsys
):
    connection.token = "revoked"
    connection.save()

    with pytest.raises(CommandError):
        call_command("sync_sevdesk", "--brand", connection.brand.slug)

    connection.refresh_from_db()
    assert "HTTP 401" in connection.last_error
    assert "gelöscht" in connection.last_error
    assert "neu erzeugt" in capsys.readouterr().err
    assert not Customer.objects.exists()


def test_the_command_uses_a_token_from_the_environment(brand_a, fake, settings, capsys):
    settings.SEVDESK_TOKENS = {brand_a.slug: fake.token}
    settings.SEVDESK_BASE_URL = fake.base_url
    fake.contact("42", surename="Max", familyname="Mustermann")

    call_command("sync_sevdesk")

    assert brand_a.sevdesk_connection.token == ""  # the row only keeps cursors and results
    assert brand_a.sevdesk_connection.initial_sync_at is not None
    assert Customer.objects.filter(brand=brand_a, sevdesk_id="42").exists()
    assert "1 Verbindungen abgeglichen, 0 mit Fehler." in capsys.readouterr().out


def test_requests_carry_the_raw_token_and_a_user_agent(connection, fake, httpserver, sleeps):
    sync(connection, sleeps)

    request, _response = httpserver.log[0]
    assert request.headers["Authorization"] == fake.token
    assert "Kundenkommunikation" in request.headers["User-Agent"]


def test_amounts_as_strings_become_decimals(connection, world, sleeps):
    world.invoice("1", 42, sumNet="1234.5", sumGross="1469.06", paidAmount="69.06", status="750")
    sync(connection, sleeps)

    snapshot = SevdeskSnapshot.objects.get(resource="Invoice", external_id="1")
    assert snapshot.amount_net == Decimal("1234.50")
    assert snapshot.open_amount == Decimal("1400.00")
    assert snapshot.due_date == dt.date(2026, 2, 15)


def test_an_edited_address_updates_its_contact_point(connection, world, sleeps):
    sync(connection, sleeps)
    at = later(world, 30)
    world.way("991", 42, "EMAIL", "max@neu.example", key="2", main="1")
    sync(connection, sleeps, at=at)

    point = ContactPoint.objects.get(sevdesk_id="991")
    assert point.value == "max@neu.example"
    assert ContactPoint.objects.filter(customer__sevdesk_id="42", channel="email").count() == 2
