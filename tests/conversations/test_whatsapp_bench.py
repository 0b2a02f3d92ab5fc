"""The WhatsApp inbound bench: forked web processes answer signed webhooks while this
process works the queue; every message must end in its thread, and the bench leaves
nothing behind."""

from __future__ import annotations

import pytest
from django.db import connection

from conversations.models import Conversation, WebhookDelivery
from conversations.whatsapp_benchmarks import whatsapp_inbound
from kommunikation.models import BusinessEntity, Customer

# forked processes need a database every process reaches (not SQLite's in-memory one)
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")


@pytest.mark.parametrize("web", [1, 2])
def test_the_bench_puts_every_webhook_into_its_thread_and_cleans_up(web):
    result = whatsapp_inbound(n=60, web=web)

    assert result["webhooks"] == 60
    assert result["web_processes"] == web
    # 60 messages from 10 numbers (one no customer has): one thread per number
    assert result["threads"] == 10
    assert result["tasks"] >= 1
    assert result["per_second"] > 0 and result["answered_per_second"] >= result["per_second"]
    # the request's two statements (body, earlier waiting) and the worker's few per batch
    assert 2 <= result["queries_per_webhook"] < 6
    assert result["database_cpu_ms_per_webhook"] is not None
    assert not BusinessEntity.objects.filter(slug__startswith="bench-wa-").exists()
    assert not WebhookDelivery.objects.exists()
    assert not Conversation.objects.exists()
    assert not Customer.objects.exists()
