"""End to end: an event through the signal, the rules, the gate and the outbox to the SMTP
sink and into the customer's thread; the dispatch order follows the rule's priority."""

from __future__ import annotations

import datetime as dt

import pytest

from conversations.models import Conversation
from kommunikation.automation.demo import seed_automation_demo
from kommunikation.automation.loading import DEFAULT_FILE, load_rules_file
from kommunikation.automation.models import PlannedStep
from kommunikation.dispatch import claim_batch, dispatch_batch
from kommunikation.events.models import Event
from kommunikation.models import OutboundMessage
from kommunikation.outbox import enqueue_outbound
from templates_app.loading import load_library
from tests.factories import CustomerFactory

from .automation_helpers import BERLIN, event

pytestmark = pytest.mark.django_db(transaction=True)

NOW = dt.datetime(2026, 10, 22, 10, 0, tzinfo=BERLIN)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def test_an_order_event_reaches_the_smtp_sink_and_the_customers_thread(clock, customer, smtp_sink):
    load_library()
    load_rules_file(DEFAULT_FILE)
    payload = {
        "order_number": "CC-2026-00123", "order_date": "2026-10-22", "order_total": "1234.56",
        "order_status_friendly": "in Bearbeitung",
        "items": [{"name": "Zaptec Go 11 kW", "quantity": 1, "price": "1234.56"}],
    }  # fmt: skip

    # committed: event_recorded starts the rules task (Q2 runs sync in tests), whose outbox
    # row starts the dispatch task on its own commit
    ev = event(customer.brand, customer, "order.created", payload, record_id="o-123")

    ev.refresh_from_db()
    assert ev.outcome == "processed"
    row = OutboundMessage.objects.get(template_key="order_confirmation")
    assert row.status == "sent"
    [message] = smtp_sink.messages
    assert message["To"] == "anna@kunde.example"
    assert "CC-2026-00123" in message["Subject"]
    thread = Conversation.objects.get(customer=customer)
    assert thread.messages.get().message_id == row.header_message_id
    assert PlannedStep.objects.get(outbound=row).state == "planned"


def test_an_appointment_moved_re_plans_its_reminders(clock, customer):
    load_library()
    load_rules_file(DEFAULT_FILE)
    first = {"starts_at": "2026-10-26T09:00:00+01:00", "phone": "020-1234567"}
    event(customer.brand, customer, "appointment.scheduled", first, record_id="a1", version="1")
    reminder = OutboundMessage.objects.get(template_key="appointment_reminder_48h")
    # 48 elapsed hours before 09:00 CET on Monday: 10:00 CEST on Saturday (the night between
    # has an hour more)
    assert reminder.not_before.astimezone(BERLIN) == dt.datetime(2026, 10, 24, 10, 0, tzinfo=BERLIN)

    moved = {**first, "starts_at": "2026-10-29T14:00:00+01:00",
             "previous_starts_at": first["starts_at"]}  # fmt: skip
    event(customer.brand, customer, "appointment.moved", moved, record_id="a1", version="2")

    reminder.refresh_from_db()
    assert reminder.status == "cancelled"
    assert reminder.last_error.startswith("Termin verschoben auf 2026-10-29T14:00")
    new = OutboundMessage.objects.get(template_key="appointment_reminder_48h", status="queued")
    assert new.not_before.astimezone(BERLIN) == dt.datetime(2026, 10, 27, 14, 0, tzinfo=BERLIN)
    assert new.context["time"] == "14:00"

    cancelled = {**moved, "cancellation_reason": "Kunde krank"}
    cancelled.pop("previous_starts_at")
    event(customer.brand, customer, "appointment.cancelled", cancelled, record_id="a1", version="3")

    new.refresh_from_db()
    assert new.status == "cancelled"
    assert new.last_error.startswith("Termin abgesagt")


def test_urgent_rows_are_claimed_before_older_normal_ones(brand_a):
    customer = CustomerFactory(brand=brand_a, email="x@kunde.example")
    for n, priority in enumerate([2, 2, 0, 3]):
        enqueue_outbound(
            brand=brand_a, customer=customer, channels="email", category="transactional",
            idempotency_key=f"p{n}", source="system", text="Hallo", priority=priority,
            not_before=dt.datetime(2026, 1, 1, 9, n, tzinfo=dt.UTC), trigger=False,
        )  # fmt: skip

    claim = claim_batch(limit=2, now=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))

    keys = set(
        OutboundMessage.objects.filter(pk__in=claim.ids).values_list("idempotency_key", flat=True)
    )
    assert keys == {"p2", "p0"}


def test_the_demo_events_show_automation_working(brand_a, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    load_library()
    load_rules_file(DEFAULT_FILE)
    CustomerFactory(brand=brand_a, email="demo1@kunde.example")
    CustomerFactory(brand=brand_a, email="demo2@kunde.example")

    count = seed_automation_demo()
    dispatch_batch()

    assert count == 9
    assert Event.objects.filter(outcome="processed").count() == 9
    assert OutboundMessage.objects.filter(status="sent").exists()
    assert OutboundMessage.objects.filter(status="cancelled", template_key="dunning_1").exists()
    assert OutboundMessage.objects.filter(status="queued", template_key="dunning_2").exists()
    assert seed_automation_demo() == 0  # a second run records nothing new
