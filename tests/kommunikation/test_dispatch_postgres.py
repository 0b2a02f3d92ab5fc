"""Several dispatch workers on PostgreSQL: exactly once, a kill loses nothing, and a worker
whose lease ran out writes back nothing of the row another worker claimed since."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import threading
import time
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.utils import timezone

from conversations.models import Conversation, Message, StatusChange
from kommunikation.benchmarks import seed_outbox, start_sink, start_worker, wait_all, worker_env
from kommunikation.dispatch import BatchResult, dispatch_batch
from kommunikation.models import OutboundMessage, OutboundStatus
from kommunikation.outbox import enqueue_outbound
from tests.factories import BrandFactory, ConversationFactory
from tests.kommunikation.conftest import Sink, free_port

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


# --- the lease-expiry race, interleaved step by step ---------------------------------


@dataclass
class Hold:
    """One held DATA command: the worker's message has arrived, the answer waits."""

    answer: str = "250 2.0.0 Ok: queued"
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class HoldingSink(Sink):
    """A real SMTP server that keeps the answer to the next DATA commands until released:
    the worker sending it stalls mid-send, as a hung connection or a paused process would."""

    def __init__(self):
        super().__init__()
        self.holds: list[Hold] = []

    def hold(self, answer: str = "250 2.0.0 Ok: queued") -> Hold:
        self.holds.append(Hold(answer))
        return self.holds[-1]

    async def handle_DATA(self, server, session, envelope):
        if not self.holds:
            return await super().handle_DATA(server, session, envelope)
        hold = self.holds.pop(0)
        hold.arrived.set()
        while not hold.release.is_set():  # the event loop keeps serving the other worker
            await asyncio.sleep(0.01)
        if hold.answer.startswith("250"):
            await super().handle_DATA(server, session, envelope)
        return hold.answer


@pytest.fixture
def held_sink(settings):
    sink = HoldingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_TIMEOUT = 10
    settings.OUTBOX_TRACK_SMTP = False
    yield sink
    for hold in sink.holds:
        hold.release.set()
    controller.stop()


class Worker(threading.Thread):
    """One dispatch batch in a thread of its own, on its own database connection."""

    def __init__(self, name: str, now: dt.datetime | None = None):
        super().__init__(name=name, daemon=True)
        self.now = now
        self.result: BatchResult | None = None
        self.error: BaseException | None = None

    def run(self):
        try:
            self.result = dispatch_batch(now=self.now, worker=self.name)
        except BaseException as exc:  # reported by finish()
            self.error = exc
        finally:
            connection.close()

    def finish(self) -> BatchResult:
        self.join(20)
        assert not self.is_alive(), f"{self.name} did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def after_the_lease(settings) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1)


def enqueue_invoice(customer, **kwargs):
    defaults = {
        "brand": customer.brand, "customer": customer, "channels": "email",
        "category": "transactional", "idempotency_key": "invoice:RE-1001", "source": "rule",
        "subject": "Ihre Rechnung RE-1001", "text": "Guten Tag, anbei Ihre Rechnung.",
        "trigger": False,
    }  # fmt: skip
    return enqueue_outbound(**(defaults | kwargs))


def assert_one_thread_entry(row, *, worker: str):
    row.refresh_from_db()
    assert (row.status, row.claimed_by, row.attempts, row.last_error) == (
        OutboundStatus.SENT, worker, 1, "",
    )  # fmt: skip
    assert Message.objects.filter(direction="out").count() == 1
    assert row.message.message_id == row.header_message_id
    assert list(row.message.status_changes.values_list("status", flat=True)) == ["queued", "sent"]
    assert Conversation.objects.get().message_count == 1


def test_a_stalled_worker_writes_back_nothing_of_a_row_sent_by_the_next(
    held_sink, customer, settings
):
    row = enqueue_invoice(customer)
    stalled = held_sink.hold()
    a = Worker("worker-a")
    a.start()
    assert stalled.arrived.wait(10)  # A is mid-send, the row "sending" under A's claim
    # A's lease runs out; B claims the row, sends it and writes it back
    b = dispatch_batch(now=after_the_lease(settings), worker="worker-b")
    assert (b.claimed, b.sent, b.lost) == (1, 1, 0)
    sent_by_b = OutboundMessage.objects.get(pk=row.pk)
    stalled.release.set()  # A wakes: the server accepted its copy too
    result = a.finish()
    assert (result.claimed, result.sent, result.lost) == (1, 0, 1)
    assert_one_thread_entry(row, worker="worker-b")
    assert (row.claim_token, row.sent_at) == (sent_by_b.claim_token, sent_by_b.sent_at)
    # the price of a lease that ran out: the message went twice, with one Message-ID
    assert [m["Message-ID"] for m in held_sink.messages] == [row.header_message_id] * 2


def test_a_stalled_worker_that_wakes_first_still_loses_to_the_current_claim(
    held_sink, customer, settings
):
    row = enqueue_invoice(customer)
    stalled_a, stalled_b = held_sink.hold(), held_sink.hold()
    a = Worker("worker-a")
    a.start()
    assert stalled_a.arrived.wait(10)
    b = Worker("worker-b", now=after_the_lease(settings))
    b.start()
    assert stalled_b.arrived.wait(10)  # both mid-send; B holds the current claim
    stalled_a.release.set()
    result_a = a.finish()  # A writes back first, while B is still sending
    assert (result_a.sent, result_a.lost) == (0, 1)
    row.refresh_from_db()
    assert (row.status, row.claimed_by) == (OutboundStatus.SENDING, "worker-b")
    assert not Message.objects.exists()
    stalled_b.release.set()
    result_b = b.finish()
    assert (result_b.sent, result_b.lost) == (1, 0)
    assert_one_thread_entry(row, worker="worker-b")


@pytest.mark.parametrize(
    "answer",
    ["451 4.3.0 Bitte später erneut versuchen", "554 5.6.0 Nachricht abgelehnt"],
    ids=["transient", "permanent"],
)
def test_a_stalled_worker_s_failure_does_not_undo_the_next_worker_s_claim(
    held_sink, customer, settings, answer
):
    conversation = ConversationFactory(brand=customer.brand, customer=customer)
    reply = Message.objects.create(
        conversation=conversation, channel="email", direction="out", subject="Re: Frage",
        text="Gern geschehen.", status=Message.State.QUEUED,
    )  # fmt: skip
    row = enqueue_invoice(
        customer, idempotency_key=f"reply:{reply.pk}", source="reply", message=reply,
        subject="Re: Frage", text="Gern geschehen.", to_address="anna@kunde.example",
    )  # fmt: skip
    stalled_a, stalled_b = held_sink.hold(answer), held_sink.hold()
    a = Worker("worker-a")
    a.start()
    assert stalled_a.arrived.wait(10)
    b = Worker("worker-b", now=after_the_lease(settings))
    b.start()
    assert stalled_b.arrived.wait(10)
    stalled_a.release.set()  # A's copy is refused: A would retry or fail the row
    result_a = a.finish()
    assert (result_a.sent, result_a.retried, result_a.failed, result_a.lost) == (0, 0, 0, 1)
    row.refresh_from_db()
    assert (row.status, row.claimed_by, row.attempts) == (OutboundStatus.SENDING, "worker-b", 0)
    reply.refresh_from_db()
    assert reply.status == Message.State.QUEUED  # the composer does not show A's failure
    stalled_b.release.set()
    assert b.finish().sent == 1
    row.refresh_from_db()
    assert (row.status, row.claimed_by, row.attempts, row.last_error) == (
        OutboundStatus.SENT, "worker-b", 1, "",
    )  # fmt: skip
    assert row.lease_until is None
    reply.refresh_from_db()
    assert reply.status == Message.State.SENT
    assert list(StatusChange.objects.values_list("status", flat=True)) == ["sent"]
