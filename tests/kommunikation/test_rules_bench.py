"""`manage.py bench --only rules`: events through the engine in batches, a table and JSON."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from kommunikation.events.models import Event
from kommunikation.models import BusinessEntity, OutboundMessage


@pytest.mark.django_db(transaction=True)
def test_the_rules_bench_runs_every_event_in_batches_and_cleans_up():
    out = io.StringIO()

    call_command("bench", "--only", "rules", "--events", "1200", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Messung")
    metrics = {r["metric"]: r["value"] for r in json.loads(lines[-1])["results"]}
    assert metrics["processed (n=1200)"] == 1200
    assert metrics["batch_size (n=1200)"] == 500
    assert metrics["outbox_rows (n=1200)"] == 1200 * 1.6  # the bench's mix
    assert metrics["queries_per_event (n=1200)"] < 1
    assert metrics["events_per_s (n=1200)"] > 0
    # client and (PostgreSQL) server CPU together: a figure the machine's load leaves alone
    assert metrics["events_per_core_s (n=1200)"] > 0
    from django.db import connection

    if connection.vendor == "postgresql":
        assert metrics["server_cpu_ms_per_event (n=1200)"] > 0
    assert not BusinessEntity.objects.exists()
    assert not Event.objects.exists() and not OutboundMessage.objects.exists()
