"""The WhatsApp inbound bench: forked web processes answer signed webhooks while the
bench's process works the queue; every message must end in its thread, and the bench
leaves nothing behind. It runs as ``manage.py bench`` in a process of its own, as an
operator runs it (forking a test process would hand its state to the web processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from conversations.models import Conversation, WebhookDelivery
from kommunikation.models import BusinessEntity, Customer

# the bench's processes need a database every process reaches (not SQLite's in-memory one)
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")


def test_the_bench_puts_every_webhook_into_its_thread_and_cleans_up(tmp_path):
    db = connection.settings_dict
    port = f":{db['PORT']}" if db["PORT"] else ""
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}{port}/{db['NAME']}"
    target = tmp_path / "bench.json"
    subprocess.run(
        [sys.executable, "manage.py", "bench", "--only", "whatsapp", "--messages", "60",
         "--json", str(target)],
        cwd=Path(settings.BASE_DIR), env={**os.environ, "DATABASE_URL": url},
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip

    rows = json.loads(target.read_text(encoding="utf-8"))["results"]
    metrics = {(row["benchmark"], row["metric"]): row["value"] for row in rows}
    for web in (2, 1):
        name = f"whatsapp-{web}"
        assert metrics[(name, "Webhooks")] == 60
        # 60 messages from 10 numbers (one no customer has): one thread per number
        assert metrics[(name, "Threads")] == 10
        assert metrics[(name, "Aufgaben im Worker")] >= 1
        rate = next(v for (b, m), v in metrics.items() if b == name and "in Threads" in m)
        assert 0 < rate <= metrics[(name, "davon Webhooks beantwortet/s")]
        # the request's two statements (body, earlier waiting), the worker's few per batch
        assert 2 <= metrics[(name, "Abfragen je Webhook")] < 6
        assert metrics[(name, "CPU PostgreSQL je Webhook")] > 0
    assert not BusinessEntity.objects.filter(slug__startswith="bench-wa-").exists()
    assert not WebhookDelivery.objects.exists()
    assert not Conversation.objects.exists()
    assert not Customer.objects.exists()
