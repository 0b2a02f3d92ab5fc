"""The rules engine: events in, planned outbox rows out, every skip and cancel with a reason."""

from __future__ import annotations

import datetime as dt

import pytest

from kommunikation.automation.engine import run_rules
from kommunikation.automation.loading import DEFAULT_FILE, load_rules_file
from kommunikation.automation.models import PlannedState, PlannedStep, RuleRun
from kommunikation.dispatch import dispatch_batch
from kommunikation.models import OutboundMessage
from templates_app.loading import load_library
from tests.factories import (
    ContactPointFactory,
    ConversationFactory,
    CustomerFactory,
    MessageFactory,
)

from .automation_helpers import BERLIN, INVOICE, event, rule

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 2, 18, 8, 0, tzinfo=BERLIN)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def library(db):
    load_library()
    load_rules_file(DEFAULT_FILE)


def overdue(customer, **payload):
    return event(
        customer.brand, customer, "invoice.overdue", {**INVOICE, **payload},
        record_id="inv-42", version="1", kind="invoice",
    )  # fmt: skip


def test_an_overdue_invoice_plans_reminder_and_both_dunning_letters(clock, library, customer):
    ev = overdue(customer)

    result = run_rules(ev.pk)

    assert result.planned == 3
    rows = list(OutboundMessage.objects.order_by("not_before"))
    assert [r.template_key for r in rows] == ["payment_reminder", "dunning_1", "dunning_2"]
    assert [r.not_before.astimezone(BERLIN) for r in rows] == [
        NOW,
        dt.datetime(2026, 3, 4, 9, 0, tzinfo=BERLIN),
        dt.datetime(2026, 3, 18, 9, 0, tzinfo=BERLIN),
    ]
    assert {r.priority for r in rows} == {1}  # the rule says high
    assert rows[0].to_address == "anna@kunde.example"
    assert rows[1].channels == ["email", "letter"] or rows[1].channels == ["email"]
    # later letters count their own days overdue and payment date
    assert rows[1].context["days_overdue"] == 17
    assert rows[1].context["new_due_date"] == "2026-03-11"
    assert rows[1].context["amount"] == "1190.00"
    ev.refresh_from_db()
    assert ev.outcome == "processed"
    assert "geplante Schritte: 3," in ev.outcome_detail


def test_the_payment_cancels_the_letters_still_waiting_with_the_reason(clock, library, customer):
    run_rules(overdue(customer).pk)
    payment = event(
        customer.brand, customer, "payment.received",
        {"invoice_number": "RE-2026-0042", "amount": "1190.00", "payment_date": "2026-02-18"},
        record_id="inv-42", version="2", kind="invoice",
    )  # fmt: skip

    result = run_rules(payment.pk)

    assert result.cancelled == 3
    statuses = dict(OutboundMessage.objects.values_list("template_key", "status"))
    assert statuses["dunning_1"] == statuses["dunning_2"] == "cancelled"
    assert statuses["payment_received"] == "queued"  # the thank-you of its own rule
    cancelled = OutboundMessage.objects.get(template_key="dunning_2")
    assert cancelled.last_error.startswith("Rechnung bezahlt")
    step = PlannedStep.objects.get(outbound=cancelled)
    assert step.state == PlannedState.CANCELLED
    assert step.reason.startswith("Rechnung bezahlt")


def test_a_partial_payment_lowers_the_open_amount_of_the_next_letter(clock, library, customer):
    run_rules(overdue(customer, fee="5.00").pk)
    partial = event(
        customer.brand, customer, "invoice.partially_paid",
        {"invoice_number": "RE-2026-0042", "amount": "1190.00", "paid_amount": "400.00",
         "payment_date": "2026-02-18", "due_date": "2026-02-15"},
        record_id="inv-42", version="2", kind="invoice",
    )  # fmt: skip

    run_rules(partial.pk)

    letter = OutboundMessage.objects.get(template_key="dunning_1")
    assert letter.status == "queued"
    assert letter.context["amount"] == "790.00"
    assert letter.context["total_due"] == "795.00"
    assert letter.context["due_date"] == "2026-02-15"


def test_a_repeated_event_or_second_sync_never_plans_twice(clock, library, customer):
    first = overdue(customer)
    run_rules(first.pk)
    assert run_rules(first.pk) is None  # the same event again: handled already

    # the same record and version arriving once more under another source key
    again = overdue(customer)
    result = run_rules(again.pk)

    assert OutboundMessage.objects.count() == 3
    assert result.planned == 0
    assert RuleRun.objects.get(event=again, rule__key="dunning").reason.startswith(
        "Läuft je Vorgang"
    )


def test_without_once_per_record_a_repeat_of_the_version_is_skipped_by_its_key(clock, customer):
    rule("thanks", "payment.received", {"template_key": "payment_received", "channels": ["email"]})
    payload = {"invoice_number": "RE-1", "amount": "10", "payment_date": "2026-02-18"}
    run_rules(event(customer.brand, customer, "payment.received", payload,
                    record_id="inv-1", version="7").pk)  # fmt: skip

    result = run_rules(event(customer.brand, customer, "payment.received", payload,
                             record_id="inv-1", version="7").pk)  # fmt: skip

    assert OutboundMessage.objects.count() == 1
    assert result.skipped == 1
    skipped = PlannedStep.objects.get(state=PlannedState.SKIPPED)
    assert skipped.reason.startswith("Bereits geplant")


def test_historical_events_of_a_first_sync_fire_no_rules(clock, library, customer):
    ev = overdue(customer, historical=True)

    run_rules(ev.pk)

    ev.refresh_from_db()
    assert ev.outcome == "ignored"
    assert "Historisch" in ev.outcome_detail
    assert not OutboundMessage.objects.exists()
    assert not RuleRun.objects.exists()


def test_the_address_type_and_first_or_last_choose_the_recipient(clock, customer):
    customer.contact_points.update(type="private")  # anna@kunde.example, the first of all
    ContactPointFactory(customer=customer, channel="email", value="a.work@firma.example",
                        type="work", position=1)  # fmt: skip
    ContactPointFactory(customer=customer, channel="email", value="b.work@firma.example",
                        type="work", position=2)  # fmt: skip
    step = {"template_key": "payment_received", "channels": ["email"]}
    rule("first-work", "payment.received", step, address_type="work", address_position="first")
    rule("last-work", "payment.received", step, address_type="work", address_position="last")
    rule("newsletter", "payment.received", step, address_type="newsletter")
    rule("automatic", "payment.received", step, address_position="last")
    payload = {"invoice_number": "RE-1", "amount": "10", "payment_date": "2026-02-18"}

    run_rules(event(customer.brand, customer, "payment.received", payload, record_id="i1").pk)

    by_rule = {p.run.rule_key: p for p in PlannedStep.objects.select_related("run", "outbound")}
    assert by_rule["first-work"].outbound.to_address == "a.work@firma.example"
    assert by_rule["last-work"].outbound.to_address == "b.work@firma.example"
    assert by_rule["automatic"].outbound.to_address == "b.work@firma.example"
    # no address of that type: no message, and the reason
    assert by_rule["newsletter"].outbound is None
    assert by_rule["newsletter"].state == PlannedState.SKIPPED
    assert "für Newsletter" in by_rule["newsletter"].reason


def test_conditions_decide_and_a_miss_says_why(clock, customer):
    customer.vip = True
    customer.save()
    step = {"template_key": "payment_received", "channels": ["email"]}
    rule("big-vip", "payment.received", step, conditions=[
        {"field": "customer.vip", "op": "equals", "value": True},
        {"field": "payload.amount", "op": ">=", "value": 1000},
        {"field": "customer.language", "op": "in", "value": ["de", "nl"]},
        {"field": "payload.invoice_number", "op": "exists"},
    ])  # fmt: skip
    rule("small", "payment.received", step,
         conditions=[{"field": "payload.amount", "op": "<=", "value": 100}])  # fmt: skip
    payload = {"invoice_number": "RE-1", "amount": "1234.50", "payment_date": "2026-02-18"}

    run_rules(event(customer.brand, customer, "payment.received", payload, record_id="i1").pk)

    runs = {r.rule_key: r for r in RuleRun.objects.all()}
    assert runs["big-vip"].matched
    assert not runs["small"].matched
    assert runs["small"].reason == (
        "Bedingung 1 nicht erfüllt: payload.amount <= 100 (ist: 1234.50)."
    )
    assert OutboundMessage.objects.count() == 1


def test_a_rule_for_every_brand_keeps_the_same_record_id_of_two_brands_apart(
    clock, customer, brand_b
):
    rule("thanks", "payment.received", {"template_key": "payment_received", "channels": ["email"]})
    twin = CustomerFactory(brand=brand_b, first_name="Anna", email="anna@kunde.example")
    paid = {"invoice_number": "RE-1", "amount": "10.00", "payment_date": "2026-02-18"}

    for who in (customer, twin):  # invoice id 1 in each brand's own sevDesk account
        run_rules(event(who.brand, who, "payment.received", paid, record_id="1", version="1",
                        kind="invoice").pk)  # fmt: skip

    rows = OutboundMessage.objects.filter(template_key="payment_received")
    assert sorted(rows.values_list("brand__slug", flat=True)) == ["laderthuis", "zaptecshop"]


def test_status_rules_match_from_and_to(clock, customer):
    rule("hold", "order.status_changed",
         {"template_key": "hold_notification", "channels": ["email"]},
         from_status="scheduled", to_status="on_hold")  # fmt: skip
    payload = {"order_number": "CC-1", "status": "on_hold", "previous_status": "new_order",
               "hold_reason": "Netzbetreiber"}  # fmt: skip

    run_rules(event(customer.brand, customer, "order.status_changed", payload, record_id="o1").pk)

    run = RuleRun.objects.get()
    assert not run.matched
    assert run.reason == "Vorheriger Status ist „new_order“, nicht „scheduled“."


def test_a_status_change_cancels_the_weekly_on_hold_follow_ups(clock, library, customer):
    payload = {"order_number": "CC-1", "status": "on_hold", "hold_reason": "Netzbetreiber"}
    run_rules(event(customer.brand, customer, "order.status_changed", payload,
                    record_id="o1", version="1").pk)  # fmt: skip
    follow_ups = OutboundMessage.objects.filter(template_key="hold_notification")
    assert follow_ups.count() == 5  # now, then weekly four times
    assert [r.not_before.astimezone(BERLIN).date() for r in follow_ups.order_by("not_before")] == [
        dt.date(2026, 2, 18), dt.date(2026, 2, 25), dt.date(2026, 3, 4), dt.date(2026, 3, 11),
        dt.date(2026, 3, 18),
    ]  # fmt: skip

    clock.move_to(NOW + dt.timedelta(days=8), tick=False)
    moved_on = {"order_number": "CC-1", "status": "scheduled", "previous_status": "on_hold"}
    run_rules(event(customer.brand, customer, "order.status_changed", moved_on,
                    record_id="o1", version="2").pk)  # fmt: skip

    waiting = follow_ups.filter(status="queued")
    # the first went out before (queued here: no dispatch ran); the later ones are cancelled
    assert follow_ups.filter(status="cancelled").count() == 5 - waiting.count()
    assert all(
        r.last_error == "Auftrag weiter im Ablauf (jetzt „scheduled“)."
        for r in follow_ups.filter(status="cancelled")
    )


def test_a_sent_delivery_note_cancels_the_on_hold_follow_ups(clock, library, customer):
    payload = {"order_number": "CC-2", "status": "on_hold", "hold_reason": "Lieferengpass"}
    run_rules(event(customer.brand, customer, "order.status_changed", payload,
                    record_id="o2", version="1").pk)  # fmt: skip
    follow_ups = OutboundMessage.objects.filter(template_key="hold_notification")
    assert follow_ups.count() == 5

    clock.move_to(NOW + dt.timedelta(days=8), tick=False)
    shipped = {"order_number": "CC-2", "delivery_note_number": "LI-1007",
               "delivery_date": "2026-02-19"}  # fmt: skip
    run_rules(event(customer.brand, customer, "order.delivery_note_sent", shipped,
                    record_id="o2", version="LI7.v1").pk)  # fmt: skip

    cancelled = follow_ups.filter(status="cancelled")
    assert cancelled.count() == 5 - follow_ups.filter(status="queued").count() >= 3
    assert {r.last_error for r in cancelled} == {
        "Auftrag weiter im Ablauf (Lieferschein LI-1007 versandt)."
    }


def test_the_last_check_before_sending_cancels_a_stale_message(clock, customer, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    load_library()
    rule("quote", "quote.sent", {
        "template_key": "quote_follow_up", "channels": ["email"], "timing": "after",
        "amount": 3, "unit": "days", "cancel_on": ["quote_accepted", "customer_replied"]})  # fmt: skip
    quote = {"quote_number": "AN-1", "quote_total": "2499.00", "valid_until": "2026-03-31"}
    run_rules(event(customer.brand, customer, "quote.sent", quote, record_id="q1").pk)
    # the acceptance is recorded but its rules have not run yet (a task still waiting)
    event(customer.brand, customer, "quote.accepted",
          {"quote_number": "AN-1", "accepted_date": "2026-02-19"}, record_id="q1", kind="quote")  # fmt: skip

    clock.move_to(NOW + dt.timedelta(days=3, minutes=1), tick=False)
    result = dispatch_batch()

    row = OutboundMessage.objects.get()
    assert row.status == "cancelled"
    assert row.last_error.startswith("Angebot angenommen")
    assert result.sent == 0
    assert PlannedStep.objects.get().state == PlannedState.CANCELLED


def test_a_reply_of_the_customer_cancels_the_follow_up_at_the_last_check(clock, customer, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    load_library()
    rule("quote", "quote.sent", {
        "template_key": "quote_follow_up", "channels": ["email"], "timing": "after",
        "amount": 3, "unit": "days", "cancel_on": ["customer_replied"]})  # fmt: skip
    quote = {"quote_number": "AN-1", "quote_total": "2499.00", "valid_until": "2026-03-31"}
    run_rules(event(customer.brand, customer, "quote.sent", quote, record_id="q1").pk)
    clock.move_to(NOW + dt.timedelta(days=1), tick=False)
    conversation = ConversationFactory(brand=customer.brand, customer=customer)
    MessageFactory(conversation=conversation, direction="in")

    clock.move_to(NOW + dt.timedelta(days=3, minutes=1), tick=False)
    dispatch_batch()

    row = OutboundMessage.objects.get()
    assert row.status == "cancelled"
    assert row.last_error.startswith("Kunde hat am 19.02.2026 08:00 geantwortet")
