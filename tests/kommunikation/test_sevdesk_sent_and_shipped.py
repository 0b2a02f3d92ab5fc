"""sevDesk: invoices sent (sendDate / sendType) and delivery notes (LI) shipping their order,
against the fake API in the documented shapes on pytest-httpserver."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from kommunikation.automation.engine import run_rules
from kommunikation.models import ContactPoint, Customer, Event, OutboundMessage
from kommunikation.sevdesk.models import SevdeskSnapshot
from kommunikation.sevdesk.sync import sync_connection, tracking_of
from templates_app.loading import load_library

from .automation_helpers import rule

pytestmark = pytest.mark.django_db

BERLIN = dt.timezone(dt.timedelta(hours=1))
FIRST_SYNC = dt.datetime(2026, 3, 2, 9, 5, tzinfo=BERLIN)
SENT = "2026-03-02T10:00:00+01:00"


def sync(connection, sleeps, *, at, full=False):
    with time_machine.travel(at, tick=False):
        result = sync_connection(connection, full=full, sleep=sleeps.append)
    connection.refresh_from_db()
    return result


class Clock:
    """The fake's clock and ours: each step changes sevDesk, then syncs a minute later."""

    def __init__(self, connection, fake, sleeps):
        self.connection, self.fake, self.sleeps = connection, fake, sleeps
        self.at = FIRST_SYNC

    def first(self):
        return sync(self.connection, self.sleeps, at=self.at)

    def step(self):
        self.fake.now += dt.timedelta(minutes=30)
        self.at = self.fake.now + dt.timedelta(minutes=1)

    def sync(self, *, full=False):
        self.at += dt.timedelta(minutes=1)
        return sync(self.connection, self.sleeps, at=self.at, full=full)


@pytest.fixture
def clock(connection, fake, sleeps):
    fake.contact("42", surename="Max", familyname="Mustermann")
    return Clock(connection, fake, sleeps)


def types(**filters):
    return [(e.type, e.record_id) for e in Event.objects.filter(**filters).order_by("id")]


# --- invoice.sent ----------------------------------------------------------------------------


def test_an_invoice_sent_from_a_draft_makes_created_and_sent_once(clock, fake):
    fake.invoice("1", 42, status="100")
    clock.first()
    clock.step()
    fake.invoice("1", 42, status="200", sendDate=SENT, sendType="VM")

    result = clock.sync()
    again = clock.sync()  # the overlap returns it
    full = clock.sync(full=True)

    assert (result.events, again.events, full.events) == (2, 0, 0)
    assert types() == [("invoice.created", "1"), ("invoice.sent", "1")]
    sent = Event.objects.get(type="invoice.sent")
    assert sent.source_key == "sevdesk:invoice:1:sent"
    assert sent.record_kind == "invoice"
    assert sent.payload["send_date"] == "2026-03-02"
    assert sent.payload["send_type"] == "VM"
    assert sent.payload["invoice_number"] == "RE-1"
    assert sent.payload["due_date"] == "2026-02-15"


def test_an_open_invoice_that_is_sent_later_makes_exactly_one_event(clock, fake):
    fake.invoice("1", 42)  # open, never sent from sevDesk (no sendDate, no sendType)
    clock.first()
    clock.step()
    fake.invoice("1", 42, sendDate=SENT, sendType="VP")

    result = clock.sync()

    assert result.events == 1
    assert types() == [("invoice.sent", "1")]


def test_sending_an_invoice_again_is_no_second_event(clock, fake):
    clock.first()
    clock.step()
    fake.invoice("1", 42, sendDate=SENT, sendType="VM")
    clock.sync()
    clock.step()
    fake.invoice("1", 42, sendDate="2026-03-09T10:00:00+01:00", sendType="VP")

    result = clock.sync()

    assert result.events == 0
    assert [t for t, _id in types()] == ["invoice.created", "invoice.sent"]
    assert SevdeskSnapshot.objects.get(resource="Invoice", external_id="1").version == 2


def test_invoices_sent_before_the_first_sync_are_history(clock, fake):
    fake.invoice("1", 42, sendDate=SENT, sendType="VM")
    clock.first()
    clock.step()
    fake.invoice("1", 42, status="1000", paidAmount="119", payDate=SENT)

    clock.sync()

    assert types() == [("payment.received", "1")]


def test_an_invoice_already_paid_when_first_seen_is_not_sent_again(clock, fake):
    clock.first()
    clock.step()
    fake.invoice("2", 42, status="1000", paidAmount="119", payDate=SENT, sendDate=SENT,
                 sendType="VM")  # fmt: skip

    clock.sync()

    assert [t for t, _id in types()] == ["invoice.created", "payment.received"]


def test_a_snapshot_stored_before_sends_were_kept_makes_no_flood_on_a_full_sync(clock, fake):
    fake.invoice("1", 42, sendDate=SENT, sendType="VM")
    fake.invoice("2", 42, status="100")
    clock.first()
    for snapshot in SevdeskSnapshot.objects.filter(resource="Invoice"):
        for name in ("send_date", "send_type"):
            snapshot.data.pop(name)  # as the sync stored it before
        snapshot.save()

    result = clock.sync(full=True)
    clock.step()
    fake.invoice("2", 42, status="200", sendDate=SENT, sendType="VM")
    clock.sync()

    assert result.events == 0  # the open invoice was sent long ago
    assert types() == [("invoice.created", "2"), ("invoice.sent", "2")]


# --- delivery notes --------------------------------------------------------------------------


@pytest.fixture
def order(clock, fake):
    fake.order("20", 42, orderType="AB", orderNumber="AB-20")
    fake.delivery_note("21", 42, origin=20)  # a draft
    clock.first()
    return clock


def test_a_sent_delivery_note_with_a_tracking_number_ships_its_order(order, fake):
    order.step()
    fake.delivery_note("21", 42, status="200", sendDate=SENT, sendType="VPDF",
                       headText="<p>Ihre Sendungsnummer:<br>0034 0434 1610 9404 2557</p>"
                                "<p>Versand mit DHL</p>")  # fmt: skip

    result = order.sync()
    again = order.sync()
    full = order.sync(full=True)

    assert (result.events, again.events, full.events) == (1, 0, 0)
    event = Event.objects.get()
    assert event.type == "order.status_changed"
    assert event.source_key == "sevdesk:order:21:shipped"
    # about the order it ships, so that order's pending follow-ups see it moved on
    assert (event.record_kind, event.record_id, event.record_number) == ("order", "20", "AB-20")
    assert event.record_version == "LI21.v2"
    assert event.customer.sevdesk_id == "42"
    assert event.payload == {
        "order_number": "AB-20",
        "delivery_note_number": "LI-21",
        "sevdesk_id": "20",
        "delivery_note_id": "21",
        "status": "shipped",
        "previous_status": "new_order",
        "changed_at": "2026-03-02",
        "tracking_number": "00340434161094042557",
        "carrier": "DHL",
    }


def test_a_delivery_note_without_a_number_says_so_and_ships_once_the_number_is_added(order, fake):
    order.step()
    fake.delivery_note("21", 42, status="200", sendDate=SENT,
                       footText="Sendungsnummer folgt per E-Mail.")  # fmt: skip
    first = order.sync()
    order.step()
    fake.delivery_note("21", 42, footText="Tracking-Nr.: 1Z999AA10123456784 (UPS)")
    second = order.sync()
    order.step()
    fake.delivery_note("21", 42, status="1000")  # invoiced: no news for the customer
    third = order.sync()

    assert (first.events, second.events, third.events) == (1, 1, 0)
    assert types() == [("order.delivery_note_sent", "20"), ("order.status_changed", "20")]
    note = Event.objects.get(type="order.delivery_note_sent")
    assert note.payload["delivery_date"] == "2026-03-02"
    assert note.payload["order_number"] == "AB-20"
    shipped = Event.objects.get(type="order.status_changed")
    assert (shipped.payload["tracking_number"], shipped.payload["carrier"]) == (
        "1Z999AA10123456784", "UPS"
    )  # fmt: skip


def test_an_order_and_its_delivery_note_arriving_together_are_linked(order, fake):
    order.step()
    fake.order("30", 42, orderType="AB", orderNumber="AB-30")
    fake.delivery_note("31", 42, origin=30, status="200",
                       customerInternalNote="Paketnummer 12345678901234")  # fmt: skip

    order.sync()

    assert types() == [("order.created", "30"), ("order.status_changed", "30")]
    shipped = Event.objects.get(type="order.status_changed")
    assert shipped.payload["order_number"] == "AB-30"
    assert shipped.payload["tracking_number"] == "12345678901234"


def test_a_delivery_note_of_no_known_order_is_about_itself(order, fake):
    order.step()
    fake.delivery_note("40", 42, status="200", headText="Sendungsnummer: JJD000390007880965")

    order.sync()

    event = Event.objects.get()
    assert (event.type, event.record_id, event.record_number) == (
        "order.status_changed", "40", "LI-40"
    )  # fmt: skip
    assert event.payload["previous_status"] == ""


def test_a_cancelled_delivery_note_ships_nothing(order, fake):
    order.step()
    fake.delivery_note("21", 42, status="300", headText="Sendungsnummer: JJD000390007880965")

    assert order.sync().events == 0
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"headText": "Sendungsnummer: 00340434161094042557"}, ("00340434161094042557", "")),
        (
            {"footText": "Ihre Sendungs-Nr. 0034 0434 1610 9404 2557, DHL"},
            ("00340434161094042557", "DHL"),
        ),
        ({"headText": "<b>Tracking</b>: 1Z999AA10123456784<br>UPS"}, ("1Z999AA10123456784", "UPS")),
        ({"headText": "Trackingnummer folgt"}, ("", "")),
        ({"headText": "Tracking-Code: Lieferung"}, ("", "")),
        ({"headText": "Lieferung am Montag"}, ("", "")),
        (
            {"headText": None, "customerInternalNote": "Paket-Nr.: 12345678901 Hermes"},
            ("12345678901", "Hermes"),
        ),
    ],
)
def test_it_reads_a_labelled_tracking_number_from_the_texts(fields, expected):
    assert tracking_of(fields) == expected


def test_a_shipped_rule_plans_its_message_with_the_tracking_number(order, fake):
    load_library()
    customer = Customer.objects.get(sevdesk_id="42")
    ContactPoint.objects.create(customer=customer, channel="email", value="max@example.de")
    rule("shipped", "order.status_changed", {"template_key": "hold_notification",
         "channels": ["email"]}, to_status="shipped")  # fmt: skip
    order.step()
    fake.delivery_note("21", 42, status="200", headText="Sendungsnummer: JJD000390007880965")
    order.sync()

    run_rules(Event.objects.get().pk)

    row = OutboundMessage.objects.get()
    assert row.to_address == "max@example.de"
    assert row.context["tracking_number"] == "JJD000390007880965"
    assert row.context["order_number"] == "AB-20"


# --- quote.sent ------------------------------------------------------------------------------


def test_a_quote_sent_makes_quote_sent_once_and_starts_the_quote_follow_up(clock, fake):
    load_library()
    rule("quote-follow", "quote.sent", {"template_key": "quote_follow_up", "timing": "after",
         "amount": 3, "unit": "days", "channels": ["email"], "cancel_on": ["quote_accepted"]},
         category="service")  # fmt: skip
    fake.order("7", 42, status="100")
    clock.first()
    ContactPoint.objects.create(
        customer=Customer.objects.get(sevdesk_id="42"), channel="email", value="max@example.de"
    )
    clock.step()
    fake.order("7", 42, status="200", sendDate=SENT, sendType="VM")

    result = clock.sync()
    again = clock.sync()
    clock.step()
    fake.order("7", 42, status="200", sendDate=SENT, sendType="VP")  # sent again by post
    resent = clock.sync()

    assert (result.events, again.events, resent.events) == (2, 0, 0)
    assert types() == [("quote.created", "7"), ("quote.sent", "7")]
    sent = Event.objects.get(type="quote.sent")
    assert sent.source_key == "sevdesk:order:7:sent"
    assert sent.record_kind == "quote"
    assert sent.payload["quote_number"] == "AN-7"
    assert sent.payload["send_type"] == "VM"
    with time_machine.travel(clock.at, tick=False):
        assert run_rules(sent.pk).planned == 1
    row = OutboundMessage.objects.get()
    assert (row.template_key, row.to_address) == ("quote_follow_up", "max@example.de")


def test_an_open_quote_without_a_send_date_is_not_sent_and_old_snapshots_stay_quiet(clock, fake):
    fake.order("8", 42, status="200")
    clock.first()
    clock.step()
    fake.order("8", 42, status="200", sumGross="1200")  # changed, still not sent
    clock.sync()
    assert types(type="quote.sent") == []

    # a snapshot stored before quote sends were kept counts as sent: no flood on --full
    snapshot = SevdeskSnapshot.objects.get(external_id="8")
    snapshot.data.pop("send_date", None)
    snapshot.data.pop("send_type", None)
    snapshot.save()
    clock.step()
    fake.order("8", 42, status="200", sendDate=SENT, sendType="VM")
    clock.sync(full=True)

    assert types(type="quote.sent") == []
