"""The rules engine in batches: the same rows as one event at a time, each event claimed by
one worker only, and a fixed number of queries however many events a batch holds."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.models import Task

from compliance.models import AuditEntry
from kommunikation.automation.engine import rules_for, run_rules, run_rules_batch
from kommunikation.automation.loading import DEFAULT_FILE, load_rules_file
from kommunikation.automation.models import PlannedStep, RuleRun
from kommunikation.automation.tasks import process_events
from kommunikation.events.models import Event
from kommunikation.events.services import announce_together, record_events
from kommunikation.models import OutboundMessage
from templates_app.loading import load_library
from tests.factories import BrandFactory, ContactPointFactory, CustomerFactory

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


def _at(minutes: int) -> dt.datetime:
    return NOW - dt.timedelta(hours=1) + dt.timedelta(minutes=minutes)


PAID = {"invoice_number": "RE-2026-0042", "amount": "1190.00", "payment_date": "2026-02-18"}
PARTIAL = {"invoice_number": "RE-2026-0042", "amount": "1190.00", "paid_amount": "400.00",
           "payment_date": "2026-02-18", "due_date": "2026-02-15"}  # fmt: skip
APPOINTMENT = {"starts_at": "2026-02-23T09:00:00+01:00", "phone": "020-1234567"}
MOVED = {**APPOINTMENT, "starts_at": "2026-02-26T14:00:00+01:00",
         "previous_starts_at": APPOINTMENT["starts_at"]}  # fmt: skip
QUOTE = {"quote_number": "AN-1", "quote_total": "2499.00", "valid_until": "2026-03-31"}
HOLD = {"order_number": "CC-1", "status": "on_hold", "hold_reason": "Netzbetreiber"}

# (type, payload, record id, version, kind): each scenario a mix with what it must show
SCENARIOS = {
    "dunning, partial payment, payment": [
        ("invoice.overdue", {**INVOICE, "fee": "5.00"}, "inv-1", "1", "invoice"),
        ("invoice.partially_paid", PARTIAL, "inv-1", "2", "invoice"),
        ("payment.received", PAID, "inv-1", "3", "invoice"),
        ("invoice.overdue", INVOICE, "inv-2", "1", "invoice"),
    ],
    "repeats: same event again, same version again": [
        ("invoice.overdue", INVOICE, "inv-1", "1", "invoice"),
        ("invoice.overdue", INVOICE, "inv-1", "1", "invoice"),
        ("payment.received", PAID, "inv-3", "7", "invoice"),
        ("payment.received", PAID, "inv-3", "7", "invoice"),
    ],
    "appointment scheduled, moved, cancelled": [
        ("appointment.scheduled", APPOINTMENT, "a1", "1", ""),
        ("appointment.moved", MOVED, "a1", "2", ""),
        ("appointment.cancelled", {**APPOINTMENT, "cancellation_reason": "krank"}, "a1", "3", ""),
        ("appointment.scheduled", APPOINTMENT, "a2", "1", ""),
    ],
    "quote accepted, order on hold moved on, history, no customer": [
        ("quote.sent", QUOTE, "q1", "1", ""),
        ("quote.accepted", {"quote_number": "AN-1", "accepted_date": "2026-02-19"}, "q1", "2",
         "quote"),
        ("order.status_changed", HOLD, "o1", "1", ""),
        ("order.status_changed", {"order_number": "CC-1", "status": "scheduled",
                                  "previous_status": "on_hold"}, "o1", "2", ""),
        ("invoice.overdue", {**INVOICE, "historical": True}, "inv-9", "1", "invoice"),
        ("payment.received", PAID, "inv-8", "1", "invoice", "nobody"),
    ],
}  # fmt: skip


def _record(brand, customer, specs) -> list[Event]:
    events = []
    for minutes, (type_, payload, record_id, version, kind, *who) in enumerate(specs):
        events.append(
            event(
                brand,
                None if who else customer,
                type_,
                payload,
                record_id=record_id,
                version=version,
                kind=kind,
                at=_at(minutes),
            )  # fmt: skip
        )
    return events


def _same(text: str, events: list[Event], customer) -> str:
    """Ids and addresses that differ between the two brands, made the same."""
    for index, ev in enumerate(events):
        text = re.sub(rf"(#|event:){ev.pk}\b", rf"\g<1>E{index}", text)
    text = re.sub(r"Ausgang #\d+", "Ausgang #N", text)
    text = text.replace(f":{customer.brand_id}/", ":BRAND/")  # the brand in idempotency keys
    text = text.replace(customer.brand.slug, "BRAND").replace(_phone(customer), "+PHONE")
    return text.replace(f"c{customer.pk}@", "c@")


def _rows(brand, customer, events) -> dict:
    same = lambda value: _same(str(value), events, customer)  # noqa: E731
    index = {ev.pk: i for i, ev in enumerate(events)}
    return {
        "events": [
            (index[e.pk], e.outcome, e.outcome_detail)
            for e in Event.objects.filter(brand=brand).order_by("pk")
        ],
        "runs": sorted(
            (index[r.event_id], r.rule_key, r.matched, same(r.reason))
            for r in RuleRun.objects.filter(event__brand=brand)
        ),
        "steps": sorted(
            (
                index[p.run.event_id],
                p.run.rule_key,
                p.position,
                p.repetition,
                p.template_key,
                same(p.channels),
                same(p.addresses),
                p.planned_for,
                p.state,
                same(p.reason),
                p.outbound.template_key if p.outbound else None,
            )  # fmt: skip
            for p in PlannedStep.objects.filter(brand=brand).select_related("run", "outbound")
        ),
        "outbox": sorted(
            (
                r.template_key,
                r.status,
                same(r.to_address),
                r.not_before,
                same(r.context),
                same(r.last_error),
                r.priority,
                r.channels,
                same(r.idempotency_key),
                same(r.source_ref),
                r.category,
                r.language,
            )  # fmt: skip
            for r in OutboundMessage.objects.filter(brand=brand)
        ),
        "audit": sorted(
            (a.action, a.object_type, same(a.changes))
            for a in AuditEntry.objects.filter(brand_id=brand.pk)
        ),
    }


def _phone(customer) -> str:
    # the idempotency key names the recipient: two brands, two numbers
    return f"+49151{customer.pk:07d}"


def _world(slug: str):
    brand = BrandFactory(slug=slug, domains=[f"{slug}.example"])
    customer = CustomerFactory(brand=brand)
    ContactPointFactory(customer=customer, channel="email", value=f"c{customer.pk}@kunde.example")
    ContactPointFactory(customer=customer, channel="phone", value=_phone(customer), type="mobile")
    return brand, customer


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_batch_plans_the_same_rows_as_one_event_at_a_time(clock, library, scenario):
    single_brand, single_customer = _world("single")
    batch_brand, batch_customer = _world("batch")
    single = _record(single_brand, single_customer, SCENARIOS[scenario])
    batched = _record(batch_brand, batch_customer, SCENARIOS[scenario])

    for ev in single:
        run_rules(ev.pk)
    results = run_rules_batch([ev.pk for ev in batched])

    assert set(results) == {ev.pk for ev in batched}
    expected = _rows(single_brand, single_customer, single)
    got = _rows(batch_brand, batch_customer, batched)
    for k in expected:
        if expected[k] != got[k]:
            print("KEY", k)
            for a in expected[k]:
                if a not in got[k]:
                    print("  single only", a)
            for a in got[k]:
                if a not in expected[k]:
                    print("  batch only ", a)
    assert got == expected
    assert expected["outbox"]  # the scenario planned something


def test_a_payment_in_the_same_batch_cancels_the_letters_planned_before_it(clock, library,
                                                                         customer):  # fmt: skip
    overdue = event(customer.brand, customer, "invoice.overdue", INVOICE, record_id="inv-42",
                    version="1", kind="invoice", at=_at(0))  # fmt: skip
    paid = event(customer.brand, customer, "payment.received", PAID, record_id="inv-42",
                 version="2", kind="invoice", at=_at(1))  # fmt: skip

    results = run_rules_batch([paid.pk, overdue.pk])

    assert results[overdue.pk].planned == 3
    assert results[paid.pk].cancelled == 3
    letters = OutboundMessage.objects.filter(template_key__in=["dunning_1", "dunning_2"])
    assert {r.status for r in letters} == {"cancelled"}
    assert all(r.last_error.startswith("Rechnung bezahlt") for r in letters)
    assert AuditEntry.objects.filter(action="outbox.cancelled").count() == 3


def test_overlapping_batches_never_run_an_event_twice(clock, library, customer):
    events = [
        event(
            customer.brand,
            customer,
            "payment.received",
            PAID,
            record_id=f"inv-{n}",
            version="1",
            kind="invoice",
            at=_at(n),
        )  # fmt: skip
        for n in range(15)
    ]
    ids = [ev.pk for ev in events]

    first = run_rules_batch(ids[:10])
    second = run_rules_batch(ids[5:])

    assert set(first) == set(ids[:10])
    assert set(second) == set(ids[10:])  # the five of the first batch are not run again
    assert RuleRun.objects.count() == 15  # payment_thanks once per event
    assert OutboundMessage.objects.count() == 15
    assert run_rules_batch(ids) == {}


def test_a_batch_costs_the_same_queries_for_50_events_as_for_10(clock, library):
    def batch_of(n: int, slug: str) -> int:
        brand, customer = _world(slug)
        specs = [spec for _ in range(n // 5) for spec in (
            ("invoice.overdue", INVOICE, f"inv-{slug}-{_}", "1", "invoice"),
            ("payment.received", PAID, f"inv-{slug}-{_}", "2", "invoice"),
            ("order.status_changed", HOLD, f"o-{slug}-{_}", "1", ""),
            ("appointment.scheduled", APPOINTMENT, f"a-{slug}-{_}", "1", ""),
            ("quote.sent", QUOTE, f"q-{slug}-{_}", "1", ""),
        )]  # fmt: skip
        ids = [ev.pk for ev in _record(brand, customer, specs)]
        with CaptureQueriesContext(connection) as queries:
            results = run_rules_batch(ids)
        assert len(results) == n
        return [q["sql"] for q in queries.captured_queries]

    rules_for("invoice.overdue", 0)  # the rule cache filled, as in a running worker
    ten, fifty = batch_of(10, "ten"), batch_of(50, "fifty")

    def reads_and_updates(statements):
        return [re.sub(r"\d+", "N", sql[:60]) for sql in statements if not sql.startswith("INSERT")]

    assert reads_and_updates(fifty) == reads_and_updates(ten)
    # inserts: one per table on PostgreSQL; Django's SQLite backend splits them at 999
    # parameters (~28 outbox rows a statement)
    assert len(fifty) <= 30
    # each payment cancels its invoice's reminder and both letters
    assert OutboundMessage.objects.filter(status="cancelled").count() == 3 * (2 + 10)


def test_events_recorded_together_start_one_rules_task(clock, library, customer,
                                                       django_capture_on_commit_callbacks):  # fmt: skip
    items = [
        {"brand": customer.brand, "customer": customer, "type": "payment.received",
         "source": "test", "source_key": f"together-{n}", "occurred_at": _at(n),
         "payload": PAID, "record_id": f"inv-{n}"}
        for n in range(3)
    ]  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        record_events(items[:2])
    with django_capture_on_commit_callbacks(execute=True), announce_together():
        event(customer.brand, customer, "payment.received", PAID, record_id="inv-7")
        event(customer.brand, customer, "payment.received", PAID, record_id="inv-8")

    tasks = Task.objects.filter(func="kommunikation.automation.tasks.process_events")
    assert tasks.count() == 2  # one per transaction, not one per event
    assert Event.objects.pending().count() == 0
    assert OutboundMessage.objects.count() == 4


def test_a_rules_task_also_takes_other_pending_events(clock, customer):
    rule("thanks", "payment.received", {"template_key": "payment_received", "channels": ["email"]})
    events = [
        event(customer.brand, customer, "payment.received", PAID, record_id=f"inv-{n}")
        for n in range(5)
    ]  # recorded, their tasks not run (the test's transaction never commits)

    summary = process_events([events[-1].pk])

    assert summary == "5 Ereignisse verarbeitet"
    assert Event.objects.pending().count() == 0
