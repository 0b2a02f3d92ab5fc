"""Every suite `manage.py bench` knows, registered into the one registry
(``conversations.benchmarks.BENCHMARKS``, beside the command that runs them).

The ingest benchmark registers itself in conversations/benchmarks.py; the others
live beside the code they measure and are adapted to BenchRow rows here.
"""

from __future__ import annotations

from conversations.benchmarks import BenchOptions, BenchRow, benchmark


@benchmark("inbox")
def inbox(options: BenchOptions) -> list[BenchRow]:
    """List, filtered list, search, open: median and p95 server time; bulk classification."""
    from conversations.inbox_benchmarks import inbox_benchmarks

    rows = []
    for name, median, p95, n in inbox_benchmarks():
        if n == 1:
            rows.append(BenchRow("inbox", f"{name} (n={n})", median, "ms"))
        else:
            rows.append(BenchRow("inbox", f"{name} median (n={n})", median, "ms"))
            rows.append(BenchRow("inbox", f"{name} p95 (n={n})", p95, "ms"))
    return rows


@benchmark("render")
def render(options: BenchOptions) -> list[BenchRow]:
    """Emails rendered per second, one letter PDF, a 100-letter batch."""
    from templates_app.benchmarks import benchmark_rows

    return [
        BenchRow("render", f"{name} [Ziel {goal}]", value, unit)
        for name, value, unit, goal in benchmark_rows()
    ]


@benchmark("email")
def email(options: BenchOptions) -> list[BenchRow]:
    """Enqueued emails end to end to a local SMTP sink with 1 and 2 workers, and the ceiling."""
    from kommunikation.benchmarks import email_end_to_end

    rows = []
    for row in email_end_to_end(n=options.messages):
        name = row["name"]
        for key, value in row.items():
            if key != "name":
                rows.append(BenchRow("email", f"{name}: {key}", value, ""))
    return rows


@benchmark("rules")
def rules(options: BenchOptions) -> list[BenchRow]:
    """Events through the rules engine in batches: events/s, CPU and queries per event."""
    from kommunikation.automation.benchmarks import rules_engine

    result = rules_engine(n=options.events)
    units = {
        "events_per_s": "/s",
        "cpu_ms_per_event": "ms",
        "server_cpu_ms_per_event": "ms",
        "events_per_core_s": "/s",
        "batch_p50_ms": "ms",
        "batch_p95_ms": "ms",
    }
    return [
        BenchRow("rules", f"{key} (n={result['events']})", value, units.get(key, ""))
        for key, value in result.items()
        if key != "events" and value is not None
    ]


@benchmark("latency")
def latency(options: BenchOptions) -> list[BenchRow]:
    """Event -> outbox row with `make run`'s worker (a qcluster process) running: p50/p95."""
    from kommunikation.automation.benchmarks import event_latency

    result = event_latency(n=options.latency_events)
    units = {"p50_ms": "ms", "p95_ms": "ms", "max_ms": "ms"}
    return [
        BenchRow("latency", f"{key} (n={result['events']})", value, units.get(key, ""))
        for key, value in result.items()
        if key != "events"
    ]


@benchmark("sevdesk")
def sevdesk(options: BenchOptions) -> list[BenchRow]:
    """A sevDesk sync of N invoices and N/5 contacts from a local fake API: time, requests."""
    from kommunikation.sevdesk.benchmarks import sevdesk_sync

    return [
        BenchRow("sevdesk", metric, value, unit)
        for metric, value, unit in sevdesk_sync(
            invoices=options.messages, contacts=max(1, options.messages // 5)
        )
    ]


@benchmark("learning")
def learning(options: BenchOptions) -> list[BenchRow]:
    """Four simulated weeks of mail: share classified correctly on arrival, wrong automatic."""
    from conversations.learning_benchmarks import learning_benchmark

    return learning_benchmark(options)


@benchmark("letters")
def letters(options: BenchOptions) -> list[BenchRow]:
    """A 100-letter print batch (self-printing brand): wall time, pages, size."""
    from kommunikation.letters.benchmarks import print_batch_bench

    return [BenchRow("letters", metric, value, unit) for metric, value, unit in print_batch_bench()]


@benchmark("whatsapp")
def whatsapp(options: BenchOptions) -> list[BenchRow]:
    """WhatsApp inbound webhooks per second into threads [goal >= 300/s on PostgreSQL]:
    two web processes and the worker, as deployed; one web process for comparison."""
    from conversations.whatsapp_benchmarks import whatsapp_inbound

    n = min(options.messages, 2000)
    rows = []
    for web, goal in ((2, " [Ziel >= 300/s PostgreSQL]"), (1, "")):
        result = whatsapp_inbound(n=n, web=web)
        label = f"{web} Webprozess" + ("e" if web > 1 else "")
        name = f"whatsapp-{web}"
        rows += [
            BenchRow(name, f"Webhooks/s in Threads, {label} + Worker{goal}",
                     result["per_second"], "/s"),
            BenchRow(name, "davon Webhooks beantwortet/s", result["answered_per_second"], "/s"),
            BenchRow(name, "Aufgaben im Worker", result["tasks"], ""),
            BenchRow(name, "danach Ereignisse und Regeln/s", result["events_per_second"], "/s"),
            BenchRow(name, "Abfragen je Webhook", result["queries_per_webhook"], ""),
            BenchRow(name, "CPU (Web + Worker) je Webhook", result["cpu_ms_per_webhook"], "ms"),
            BenchRow(name, "davon Worker", result["worker_cpu_ms_per_webhook"], "ms"),
            BenchRow(name, "Webhooks", result["webhooks"], ""),
            BenchRow(name, "Threads", result["threads"], ""),
        ]  # fmt: skip
        if result["database_cpu_ms_per_webhook"] is not None:  # PostgreSQL's backends
            rows.append(BenchRow(name, "CPU PostgreSQL je Webhook",
                                 result["database_cpu_ms_per_webhook"], "ms"))  # fmt: skip
    return rows


@benchmark("sms")
def sms(options: BenchOptions) -> list[BenchRow]:
    """SMS dispatch to a local fake provider under the 600/minute budget, 5 simulated minutes
    [goal: within 1 %]."""
    from kommunikation.sms_benchmarks import sms_budget

    result = sms_budget(minutes=5, budget=600)
    return [
        BenchRow("sms", "SMS im Ausgang", result["sms"], ""),
        BenchRow("sms", "gesendet in 5 simulierten Minuten (Budget 3000)", result["sent"], ""),
        BenchRow("sms", "Abweichung vom Budget [Ziel <= 1 %]", result["deviation_percent"], "%"),
        BenchRow("sms", "höchstens in 60 s (gleitend) [Budget 600]", result["max_in_60s"], ""),
        *(
            BenchRow("sms", f"Minute {m + 1}", count, "")
            for m, count in enumerate(result["per_minute"])
        ),
        BenchRow("sms", "Budget gehalten (1 = ja)", int(result["held"]), ""),
        BenchRow("sms", "Wanduhr", result["wall_seconds"], "s"),
        BenchRow("sms", "SMS/s (Wanduhr)", result["sms_per_wall_second"], "/s"),
    ]
