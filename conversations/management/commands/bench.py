from __future__ import annotations

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand

import conversations.bench_suites  # noqa: F401  (registers the suites of the other apps)
from conversations.benchmarks import (
    BENCHMARKS,
    BenchOptions,
    database_label,
    rows_as_dicts,
    run_benchmarks,
)


class Command(BaseCommand):
    help = (
        "Misst die Leistung (z. B. Einlesen von E-Mails) in der Datenbank aus DATABASE_URL und "
        "gibt eine Tabelle und eine JSON-Zeile aus. Legt dafür eine Wegwerf-Marke an und löscht "
        "sie samt allen Daten danach wieder."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only", action="append", choices=sorted(BENCHMARKS), help="nur diese Messung(en)"
        )
        parser.add_argument("--messages", type=int, default=10_000, help="Anzahl E-Mails (10000)")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BenchOptions.batch_size,
            help="E-Mails je Stapel beim Einlesen; 0 = einzeln wie beim Webhook",
        )
        parser.add_argument(
            "--events",
            type=int,
            default=int(os.environ.get("BENCH_EVENTS", BenchOptions.events)),
            help="Ereignisse durch die Regeln (2000; BENCH_EVENTS=100000 für die Zielmessung)",
        )
        parser.add_argument(
            "--latency-events",
            type=int,
            default=BenchOptions.latency_events,
            help="Ereignisse einzeln für die Latenz Ereignis -> Ausgang (200)",
        )
        parser.add_argument("--json", type=Path, help="Ergebnis zusätzlich als JSON in diese Datei")

    def handle(
        self,
        *args,
        only,
        messages: int,
        seed: int,
        batch_size: int,
        events: int,
        latency_events: int,
        json: Path | None,
        **options,
    ):
        names = only or sorted(BENCHMARKS)
        rows = run_benchmarks(
            names,
            BenchOptions(
                messages=messages,
                seed=seed,
                batch_size=batch_size,
                events=events,
                latency_events=latency_events,
            ),
        )
        database = database_label()
        width = max(len(r.metric) for r in rows)
        self.stdout.write(
            f"{'Messung':<10} {'Kennzahl':<{width}} {'Wert':>12}  Einheit   [{database}]"
        )
        for row in rows:
            value = _number(row.value)
            self.stdout.write(f"{row.benchmark:<10} {row.metric:<{width}} {value:>12}  {row.unit}")
        payload = {"database": database, "results": rows_as_dicts(rows)}
        line = _json_dumps(payload)
        self.stdout.write(line)
        if json:
            json.write_text(line + "\n", encoding="utf-8")


def _number(value) -> str:
    """Readable at any scale: 3,667.0 messages/s as well as a 0.046 s letter."""
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _json_dumps(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False)
