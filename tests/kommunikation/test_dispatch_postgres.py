"""Several dispatch workers in separate processes on PostgreSQL: exactly once, and a kill loses nothing."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.db import connection

from kommunikation.benchmarks import seed_outbox, start_sink, start_worker, wait_all, worker_env
from kommunikation.models import OutboundMessage, OutboundStatus
from tests.factories import BrandFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")


@pytest.fixture
def sink():
    sink, controller, port = start_sink()
    sink.port = port
    yield sink
    controller.stop()


@pytest.fixture
def bench_brand():
    return BrandFactory(slug="bench", domains=["bench.example"], support_email="s@bench.example")


def test_two_workers_send_each_of_5000_messages_exactly_once(sink, bench_brand):
    seed_outbox(5000, brand=bench_brand)
    env = worker_env(sink.port, OUTBOX_BATCH_SIZE=100)
    wait_all([start_worker(env), start_worker(env)])
    assert sink.count == 5000
    assert sink.unique == 5000
    assert OutboundMessage.objects.filter(status=OutboundStatus.SENT).count() == 5000
    assert not OutboundMessage.objects.filter(message__isnull=True).exists()
    # both workers really took part
    assert OutboundMessage.objects.values("claimed_by").distinct().count() == 2


def test_a_worker_killed_mid_batch_loses_nothing(sink, bench_brand):
    seed_outbox(2000, brand=bench_brand)
    group = 10  # sent messages written back together: the most a kill can send twice
    env = worker_env(
        sink.port, OUTBOX_BATCH_SIZE=100, OUTBOX_LEASE_SECONDS=2, OUTBOX_WRITE_BACK_EVERY=group
    )
    victim = start_worker(env)
    while sink.count < 550:  # mid-batch: batches are 100
        assert victim.poll() is None, "the worker finished before it could be killed"
        time.sleep(0.01)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert OutboundMessage.objects.exclude(status=OutboundStatus.SENT).exists()
    time.sleep(2.5)  # the dead worker's lease runs out
    wait_all([start_worker(env)])
    assert sink.unique == 2000
    assert OutboundMessage.objects.filter(status=OutboundStatus.SENT).count() == 2000
    # the killed worker's sent rows got their thread entries from the restarted one
    assert not OutboundMessage.objects.filter(message__isnull=True).exists()
    duplicates = sink.count - sink.unique
    # only messages accepted by the server but not yet written back go twice
    assert duplicates <= group
    print(f"\nSIGKILL after 550+ messages: {duplicates} sent twice (same Message-ID)")
