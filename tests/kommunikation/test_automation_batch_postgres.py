"""Two rules workers on PostgreSQL: a batch skips the events another worker holds, and two
batches over the same events run each of them exactly once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from kommunikation.automation.engine import claim_events, run_rules_batch
from kommunikation.automation.models import RuleRun
from kommunikation.events.models import Event
from kommunikation.models import OutboundMessage

from .automation_helpers import rule

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PAID = {"invoice_number": "RE-1", "amount": "10.00", "payment_date": "2026-02-18"}


@pytest.fixture(autouse=True)
def _postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")


@pytest.fixture
def pending(customer):
    """200 payments recorded in bulk (no rules task started), and the rule they match."""
    rule("thanks", "payment.received", {"template_key": "payment_received", "channels": ["email"]})
    events = Event.objects.bulk_create(
        Event(
            brand=customer.brand,
            customer=customer,
            type="payment.received",
            source="test",
            source_key=f"p{n}",
            record_kind="invoice",
            record_id=f"inv-{n}",
            payload=PAID,
            fingerprint="test",
            occurred_at=timezone.now(),
        )  # fmt: skip
        for n in range(200)
    )
    return [event.pk for event in events]


def test_a_batch_skips_the_events_another_worker_holds_without_waiting(pending):
    held, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                claim_events(pending[:150])
                held.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert held.wait(30)
        results = run_rules_batch(pending)
    finally:
        release.set()
        thread.join()

    assert set(results) == set(pending[150:])
    assert set(run_rules_batch(pending)) == set(pending[:150])  # released: now they run
    assert RuleRun.objects.count() == OutboundMessage.objects.count() == 200


def test_two_workers_over_the_same_events_run_each_exactly_once(pending):
    start = threading.Barrier(2)
    results: list[dict] = [{}, {}]

    def worker(index: int):
        try:
            start.wait(10)
            for offset in range(0, len(pending), 50):
                results[index].update(run_rules_batch(pending[offset : offset + 50]))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not set(results[0]) & set(results[1])
    assert set(results[0]) | set(results[1]) == set(pending)
    assert RuleRun.objects.count() == OutboundMessage.objects.count() == 200
    assert not Event.objects.pending().exists()


def _claimed_elsewhere(ids: list[int]) -> list[int]:
    """What another worker claims of `ids` right now (in its own transaction)."""
    got: list[int] = []

    def other_worker():
        try:
            with transaction.atomic():
                got.extend(event.pk for event in claim_events(ids))
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    thread.join(30)
    return got


@pytest.mark.parametrize("pieces", [3, 40])  # id ranges, and the plain list past 20 pieces
def test_a_claim_holds_exactly_its_pending_events_however_their_ids_lie(pending, pieces):
    # `pieces` runs of consecutive ids with one left out between them; one of ours is done
    mine = [pk for n, pk in enumerate(pending[: pieces * 4]) if n % 4 != 3]
    gaps = sorted(set(pending[: pieces * 4]) - set(mine))
    Event.objects.filter(pk=mine[1]).update(outcome="processed")
    with transaction.atomic():
        claimed = [event.pk for event in claim_events(mine)]
        elsewhere = _claimed_elsewhere(sorted([*gaps, *mine]))

    assert claimed == [pk for pk in mine if pk != mine[1]]  # in order, the done one left out
    assert elsewhere == gaps  # the ids between the pieces were never held
