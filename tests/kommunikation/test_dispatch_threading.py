"""The dispatch worker threads what it sends through conversations.outbound."""

from __future__ import annotations

import datetime as dt

import time_machine

from conversations.models import Message
from kommunikation.dispatch import dispatch_batch
from kommunikation.outbox import enqueue_outbound
from tests.conftest import NOW


@time_machine.travel(NOW, tick=False)
def test_dispatch_threads_routine_mail_within_the_window_only(smtp_sink, customer, settings):
    """Through the dispatch worker: the same invoice subject a month later is a new thread
    (it used to join any old conversation with that subject, however old)."""
    settings.THREADING_SUBJECT_WINDOW_DAYS = 14

    def send(key):
        row = enqueue_outbound(
            brand=customer.brand, customer=customer, channels="email", category="transactional",
            idempotency_key=key, source="system", subject="Ihre Rechnung", text="Anbei.",
        )  # fmt: skip
        dispatch_batch()
        row.refresh_from_db()
        return row

    first = send("invoice:1")
    second = send("invoice:2")
    with time_machine.travel(NOW + dt.timedelta(days=30), tick=False):
        month_later = send("invoice:3")

    assert second.conversation_id == first.conversation_id
    assert month_later.conversation_id != first.conversation_id
    assert Message.objects.get(pk=month_later.message_id).conversation_id == (
        month_later.conversation_id
    )
