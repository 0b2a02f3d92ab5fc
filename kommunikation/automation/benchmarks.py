"""The rules bench: N events through the engine (match, plan, outbox rows, outcome).

Events are inserted in bulk first (the sources' cost is not the engine's), then run by
``run_rules_batch`` in batches as the rules task does: events/s, CPU ms per event (process
time of this one process, so the database's share is not in it), queries per event and
the time per batch (its outbox rows committed). A quarter of the events is overdue invoices (a
three-step dunning chain), a quarter payments (one message, and the supersession of the
chain), the rest order events of which half match a status rule.
"""

from __future__ import annotations

import statistics
import time
import uuid

from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from kommunikation.automation.engine import BATCH_SIZE, forget_rules, run_rules_batch
from kommunikation.automation.models import AutomationRule, RuleStep
from kommunikation.events.models import Event
from kommunikation.models import BusinessEntity, ContactPoint, Customer, OutboundMessage


def _rules(brand: BusinessEntity) -> None:
    def make(key, event_type, steps, **fields):
        rule = AutomationRule.objects.create(
            brand=brand, key=key, name=key, event_type=event_type,
            category=fields.pop("category", "transactional"), **fields,
        )  # fmt: skip
        RuleStep.objects.bulk_create(
            [RuleStep(rule=rule, position=i, channels=["email"], **s) for i, s in enumerate(steps)]
        )

    make("bench-dunning", "invoice.overdue", [
        {"template_key": "payment_reminder", "cancel_on": ["invoice_paid"]},
        {"template_key": "dunning_1", "timing": "after", "amount": 14, "unit": "days",
         "cancel_on": ["invoice_paid"]},
        {"template_key": "dunning_2", "timing": "after", "amount": 28, "unit": "days",
         "cancel_on": ["invoice_paid"]},
    ], once_per_record=True)  # fmt: skip
    make("bench-thanks", "payment.received", [{"template_key": "payment_received"}])
    make("bench-completed", "order.status_changed", [
        {"template_key": "completion_thank_you"},
        {"template_key": "satisfaction_survey", "timing": "after", "amount": 7, "unit": "days"},
    ], to_status="completed")  # fmt: skip
    make("bench-vip", "order.status_changed", [{"template_key": "hold_notification"}],
         conditions=[{"field": "customer.vip", "op": "equals", "value": True}])  # fmt: skip
    forget_rules()


def _events(brand: BusinessEntity, customers: list[Customer], n: int) -> list[int]:
    now = timezone.now()
    rows = []
    for i in range(n):
        customer = customers[i % len(customers)]
        invoice = f"inv-{i // 4}"
        kind = i % 4
        if kind == 0:
            type_, record, payload = "invoice.overdue", invoice, {
                "invoice_number": f"RE-{i}", "invoice_date": "2026-01-01", "amount": "100.00",
                "due_date": "2026-01-15", "days_overdue": 3, "new_due_date": "2026-02-01",
                "iban": "DE89"}  # fmt: skip
        elif kind == 1:
            type_, record, payload = "payment.received", invoice, {
                "invoice_number": f"RE-{i}", "amount": "100.00", "payment_date": "2026-01-20"}  # fmt: skip
        else:
            status = "completed" if kind == 2 else "scheduled"
            type_, record, payload = "order.status_changed", f"o-{i}", {
                "order_number": f"CC-{i}", "status": status}  # fmt: skip
        rows.append(
            Event(
                brand=brand,
                customer=customer,
                type=type_,
                source="bench",
                source_key=f"{i}",
                record_kind="invoice" if kind < 2 else "order",
                record_id=record,
                record_version=str(i),
                payload=payload,
                fingerprint="bench",
                occurred_at=now,
            )  # fmt: skip
        )
    created = Event.objects.bulk_create(rows, batch_size=2000)
    return [e.pk for e in created]


def rules_engine(n: int = 2_000, *, batch_size: int = BATCH_SIZE) -> dict:
    """N events through the engine in batches of `batch_size` (as the rules task runs
    them); `batch_size` 1 is the old path, one event per transaction."""
    brand = BusinessEntity.objects.create(
        name="Bench Regeln", slug=f"bench-rules-{uuid.uuid4().hex[:8]}"
    )
    try:
        customers = Customer.objects.bulk_create(
            [Customer(brand=brand, last_name=f"Bench {i}", vip=i % 5 == 0) for i in range(500)]
        )
        ContactPoint.objects.bulk_create(
            [ContactPoint(customer=c, channel="email", value=f"b{c.pk}@bench.example")
             for c in customers]
        )  # fmt: skip
        _rules(brand)
        ids = _events(brand, customers, n)
        durations = []
        queries = QueryCounter()
        # no query log (DEBUG in `make bench`): it would measure the logger
        with override_settings(DEBUG=False), connection.execute_wrapper(queries):
            wall, cpu = time.perf_counter(), time.process_time()
            for start in range(0, n, batch_size):
                started = time.perf_counter()
                # the engine alone; the email bench measures dispatch
                run_rules_batch(ids[start : start + batch_size], trigger=False)
                durations.append(time.perf_counter() - started)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rows = OutboundMessage.objects.filter(brand=brand).count()
        processed = Event.objects.filter(brand=brand).exclude(outcome="pending").count()
        durations.sort()
        return {
            "events": n,
            "batch_size": batch_size,
            "events_per_s": round(n / wall, 1),
            "cpu_ms_per_event": round(cpu * 1000 / n, 3),
            "queries_per_event": round(queries.count / n, 3),
            "batch_p50_ms": round(statistics.median(durations) * 1000, 2),
            "batch_p95_ms": round(durations[max(int(len(durations) * 0.95) - 1, 0)] * 1000, 2),
            "processed": processed,
            "outbox_rows": rows,
        }
    finally:
        _cleanup(brand)


class QueryCounter:
    """connection.execute_wrapper: counts the statements, no log kept."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _cleanup(brand: BusinessEntity) -> None:
    from kommunikation.automation.models import PlannedStep, RuleRun

    PlannedStep.objects.filter(brand=brand).delete()
    RuleRun.objects.filter(event__brand=brand).delete()
    OutboundMessage.objects.filter(brand=brand).delete()
    Event.objects.filter(brand=brand).delete()
    AutomationRule.objects.filter(brand=brand).delete()
    Customer.objects.filter(brand=brand).delete()
    brand.delete()
    forget_rules()
