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
        server = ServerCPU()
        with override_settings(DEBUG=False), connection.execute_wrapper(queries):
            server.start()
            wall, cpu = time.perf_counter(), time.process_time()
            for start in range(0, n, batch_size):
                started = time.perf_counter()
                # the engine alone; the email bench measures dispatch
                run_rules_batch(ids[start : start + batch_size], trigger=False)
                durations.append(time.perf_counter() - started)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            server_cpu = server.stop()
        rows = OutboundMessage.objects.filter(brand=brand).count()
        processed = Event.objects.filter(brand=brand).exclude(outcome="pending").count()
        durations.sort()
        return {
            "events": n,
            "batch_size": batch_size,
            "events_per_s": round(n / wall, 1),
            "cpu_ms_per_event": round(cpu * 1000 / n, 3),
            # the PostgreSQL backend's CPU for the run (None: not readable, e.g. SQLite,
            # whose work is inside this process); events per core-second counts both
            # processes, so it does not depend on how loaded the machine is
            "server_cpu_ms_per_event": (
                None if server_cpu is None else round(server_cpu * 1000 / n, 3)
            ),
            "events_per_core_s": round(n / (cpu + (server_cpu or 0.0)), 1),
            "queries_per_event": round(queries.count / n, 3),
            "batch_p50_ms": round(statistics.median(durations) * 1000, 2),
            "batch_p95_ms": round(durations[max(int(len(durations) * 0.95) - 1, 0)] * 1000, 2),
            "processed": processed,
            "outbox_rows": rows,
        }
    finally:
        _cleanup(brand)


class ServerCPU:
    """The CPU time (user + system) of this connection's PostgreSQL backend process, from
    /proc/<pid>/stat (the server on this machine); None elsewhere."""

    def __init__(self):
        self.path = None
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.path = f"/proc/{cursor.fetchone()[0]}/stat"

    def _read(self) -> float | None:
        import os

        try:
            with open(self.path) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, TypeError):
            return None
        # utime and stime are fields 14 and 15 of stat; [0] here is field 3
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self.begin = self._read()

    def stop(self) -> float | None:
        end = self._read()
        return None if end is None or self.begin is None else end - self.begin


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


def event_latency(n: int = 200, *, interval: float = 0.05, timeout: float = 120.0) -> dict:
    """Event -> outbox row with `make run`'s worker: a real ``manage.py qcluster`` process
    (the django-q2 broker of the settings, the ORM by default) on the same database.

    Events are recorded one by one through ``record_event`` in autocommit, as the event API
    does, `interval` seconds apart; the rules task each commit starts is the only way they
    are handled (the catch-up schedule runs every five minutes). A thread of this process
    polls the outbox every 5 ms; the latency of an event runs from just before its
    ``record_event`` call to its outbox row being visible to another connection.
    """
    import os
    import subprocess
    import sys
    import threading

    from django.conf import settings

    from kommunikation.events.services import record_event

    if settings.Q_CLUSTER.get("sync"):
        raise RuntimeError("Q2_SYNC is on: tasks would run in this process, not the worker")
    brand = BusinessEntity.objects.create(
        name="Bench Latenz", slug=f"bench-latency-{uuid.uuid4().hex[:8]}"
    )
    worker = None
    try:
        customers = Customer.objects.bulk_create(
            [Customer(brand=brand, last_name=f"Bench {i}") for i in range(50)]
        )
        ContactPoint.objects.bulk_create(
            [ContactPoint(customer=c, channel="email", value=f"l{c.pk}@bench.example")
             for c in customers]
        )  # fmt: skip
        # a thank-you an hour later: the row is what is measured; nothing is due for dispatch
        rule = AutomationRule.objects.create(
            brand=brand, key="bench-latency", name="bench-latency", event_type="payment.received",
            category="transactional",
        )  # fmt: skip
        RuleStep.objects.create(
            rule=rule, position=0, channels=["email"], template_key="payment_received",
            timing="after", amount=1, unit="hours",
        )  # fmt: skip
        env = dict(os.environ, Q2_SYNC="false", LOG_LEVEL="WARNING")
        worker = subprocess.Popen(
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seen: dict[int, float] = {}
        stop = threading.Event()

        def poll() -> None:
            # all of the brand's rows each time: two workers commit out of id order, so
            # "rows after the last id seen" would miss some
            try:
                while not stop.is_set():
                    rows = OutboundMessage.objects.filter(brand=brand).values_list("source_ref")
                    now = time.perf_counter()
                    for (ref,) in rows:
                        seen.setdefault(int(ref.split()[0].removeprefix("event:")), now)
                    time.sleep(0.005)
            finally:
                connection.close()

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()

        def record(i: int) -> int:
            event, _created = record_event(
                brand=brand, customer=customers[i % len(customers)], type="payment.received",
                source="bench", source_key=f"latency-{i}", occurred_at=timezone.now(),
                payload={"invoice_number": f"RE-{i}", "amount": "10.00",
                         "payment_date": "2026-01-20"},
                record_id=f"inv-l{i}",
            )  # fmt: skip
            return event.pk

        def wait_for(pks, deadline: float) -> None:
            while any(pk not in seen for pk in pks) and time.perf_counter() < deadline:
                if worker.poll() is not None:
                    raise RuntimeError(f"qcluster exited with {worker.returncode}")
                time.sleep(0.01)

        # the worker's start-up (Django, its processes) is not part of the figure
        warm = record(-1)
        wait_for([warm], time.perf_counter() + timeout)
        if warm not in seen:
            raise RuntimeError("the worker did not handle the first event in time")
        sent: dict[int, float] = {}
        for i in range(n):
            started = time.perf_counter()
            sent[record(i)] = started
            time.sleep(max(0.0, interval - (time.perf_counter() - started)))
        wait_for(list(sent), time.perf_counter() + timeout)
        stop.set()
        poller.join(5)
        latencies = sorted((seen[pk] - at) * 1000 for pk, at in sent.items() if pk in seen)
        if not latencies:
            raise RuntimeError("no event reached the outbox")
        return {
            "events": n,
            "interval_ms": round(interval * 1000),
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(latencies[max(int(len(latencies) * 0.95) - 1, 0)], 1),
            "max_ms": round(latencies[-1], 1),
            "missing": n - len(latencies),
        }
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        _cleanup(brand)
