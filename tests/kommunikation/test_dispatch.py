"""The dispatch worker against a real SMTP server: sent once, threaded, retried, refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from compliance.models import Consent, Suppression
from compliance.services import Actor, record_consent
from conversations.models import Conversation, Message, StatusChange
from kommunikation import dispatch
from kommunikation.dispatch import (
    BatchResult,
    Rendered,
    claim_batch,
    claimed_rows,
    dispatch_batch,
    write_back_sent,
)
from kommunikation.models import OutboundMessage, OutboundStatus
from kommunikation.outbox import enqueue_outbound
from tests.factories import ConversationFactory, MessageFactory
from tests.kommunikation.conftest import grant


def enqueue(customer, **kwargs):
    defaults = {
        "brand": customer.brand, "customer": customer, "channels": "email", "category": "transactional",
        "idempotency_key": "invoice:RE-1001", "source": "rule", "subject": "Ihre Rechnung RE-1001",
        "text": "Guten Tag, anbei Ihre Rechnung.", "html": "<p>Guten Tag, anbei Ihre <b>Rechnung</b>.</p>",
    }  # fmt: skip
    defaults.update(kwargs)
    return enqueue_outbound(**defaults)


def test_a_queued_email_arrives_once_and_is_in_the_thread(smtp_sink, customer):
    row = enqueue(customer)
    result = dispatch_batch()
    assert (result.claimed, result.sent) == (1, 1)
    row.refresh_from_db()
    assert row.status == OutboundStatus.SENT
    assert row.recipient == "anna@kunde.example"
    assert row.decision == "send"
    assert row.attempts == 1
    assert len(smtp_sink.envelopes) == 1
    mail_from, rcpt, _content = smtp_sink.envelopes[0]
    assert rcpt == ["anna@kunde.example"]
    assert smtp_sink.messages[0]["Message-ID"] == row.header_message_id
    message = row.message
    assert message.direction == "out"
    assert message.message_id == row.header_message_id
    assert message.status == Message.State.SENT
    assert [s.status for s in message.status_changes.all()] == ["queued", "sent"]
    assert message.conversation.customer == customer
    assert message.conversation.status == "closed"
    assert dispatch_batch().claimed == 0  # nothing twice


def test_a_second_message_with_the_same_subject_joins_the_thread(smtp_sink, customer):
    enqueue(customer)
    enqueue(
        customer, idempotency_key="invoice:RE-1001:reminder", subject="AW: Ihre Rechnung RE-1001"
    )
    dispatch_batch()
    assert Conversation.objects.count() == 1
    assert Conversation.objects.get().message_count == 2


def test_an_inbox_reply_updates_its_own_thread_entry(smtp_sink, customer):
    conversation = ConversationFactory(brand=customer.brand, customer=customer)
    inbound = MessageFactory(conversation=conversation, sender_address="anna@kunde.example")
    reply = Message.objects.create(
        conversation=conversation, channel="email", direction="out", subject="Re: Frage",
        text="Gern geschehen.", status=Message.State.QUEUED,
    )  # fmt: skip
    row = enqueue(
        customer, idempotency_key=f"reply:{reply.pk}", source="reply", message=reply,
        subject="Re: Frage", text="Gern geschehen.", html="", to_address="anna@kunde.example",
        in_reply_to=inbound.message_id, references=inbound.message_id,
    )  # fmt: skip
    dispatch_batch()
    reply.refresh_from_db()
    assert reply.status == Message.State.SENT
    assert reply.message_id == row.header_message_id
    assert smtp_sink.messages[0]["In-Reply-To"] == inbound.message_id
    assert Message.objects.filter(conversation=conversation).count() == 2


def test_smtp_down_is_retried_later_and_nothing_is_lost(smtp_down, customer, settings):
    row = enqueue(customer)
    result = dispatch_batch()
    assert result.retried == 1
    row.refresh_from_db()
    assert row.status == OutboundStatus.QUEUED
    assert row.attempts == 1
    assert row.next_attempt_at > timezone.now()
    assert "Vorübergehender Fehler" in row.last_error
    assert not Message.objects.exists()


def test_after_smtp_comes_back_the_retry_is_delivered(smtp_down, customer, settings, smtp_sink):
    # smtp_sink re-points the settings at a running server after smtp_down
    row = enqueue(customer)
    settings.EMAIL_PORT = 1  # down
    dispatch_batch()
    settings.EMAIL_PORT = smtp_sink.controller.port
    assert dispatch_batch().claimed == 0  # not yet due
    dispatch_batch(now=timezone.now() + dt.timedelta(hours=1))
    row.refresh_from_db()
    assert row.status == OutboundStatus.SENT
    assert row.attempts == 2
    assert len(smtp_sink.envelopes) == 1


def test_it_gives_up_after_the_configured_attempts(smtp_down, customer, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    row = enqueue(customer)
    dispatch_batch()
    dispatch_batch(now=timezone.now() + dt.timedelta(days=1))
    row.refresh_from_db()
    assert row.status == OutboundStatus.FAILED
    assert "Nach 2 Versuchen aufgegeben" in row.last_error


def test_550_fails_the_message_and_suppresses_the_address(smtp_sink, customer):
    smtp_sink.refuse.add("anna@kunde.example")
    row = enqueue(customer)
    result = dispatch_batch()
    assert result.failed == 1
    row.refresh_from_db()
    assert row.status == OutboundStatus.FAILED
    assert "550" in row.last_error
    suppression = Suppression.objects.get(value="anna@kunde.example")
    assert suppression.reason == Suppression.Reason.HARD_BOUNCE
    assert smtp_sink.envelopes == []


def test_a_550_for_one_recipient_does_not_stop_the_batch(smtp_sink, customer, brand_a):
    from tests.factories import CustomerFactory

    other = CustomerFactory(brand=brand_a, email="bob@kunde.example")
    smtp_sink.refuse.add("anna@kunde.example")
    enqueue(customer)
    enqueue(other, idempotency_key="invoice:RE-1002")
    result = dispatch_batch()
    assert (result.sent, result.failed) == (1, 1)
    assert smtp_sink.envelopes[0][1] == ["bob@kunde.example"]


def test_consent_withdrawn_between_enqueue_and_send_is_not_sent(smtp_sink, customer):
    grant(customer)
    row = enqueue(customer, category="marketing", template_key="", idempotency_key="news:1")
    record_consent(
        customer=customer, purpose="marketing", channel="email", state=Consent.State.WITHDRAWN,
        source=Consent.Source.UNSUBSCRIBE, actor=Actor(label="Test"),
    )  # fmt: skip
    result = dispatch_batch()
    assert result.refused == 1
    row.refresh_from_db()
    assert row.status == OutboundStatus.REFUSED
    assert row.decision == "refuse"
    assert "widerrufen" in row.decision_reason
    assert smtp_sink.envelopes == []


def test_quiet_hours_defer_without_sending(smtp_sink, customer, settings):
    settings.COMPLIANCE_SEND_WINDOWS = {"email": "00:00-00:01"}
    row = enqueue(customer)
    result = dispatch_batch()
    assert result.deferred == 1
    row.refresh_from_db()
    assert row.status == OutboundStatus.QUEUED
    assert row.decision == "defer"
    assert "Ruhezeit" in row.decision_reason
    assert row.next_attempt_at > timezone.now()
    assert row.attempts == 0
    assert smtp_sink.envelopes == []


def test_a_refused_channel_falls_back_to_the_next(smtp_sink, customer):
    from compliance.services import suppress_address

    suppress_address(
        channel="email", value="anna@kunde.example", reason="staff", actor=Actor(label="T")
    )
    row = enqueue(customer, channels=["email", "letter"])
    result = dispatch_batch()
    assert result.fallback == 1
    row.refresh_from_db()
    assert (row.status, row.channel) == (OutboundStatus.QUEUED, "letter")
    assert "weiter mit letter" in row.last_error
    dispatch_batch()
    row.refresh_from_db()
    assert row.status == OutboundStatus.FAILED
    assert "Keine Adresse für letter" in row.last_error


def test_a_template_message_fails_with_a_clear_reason_when_rendering_fails(smtp_sink, customer):
    row = enqueue(customer, subject="", text="", html="", template_key="invoice.created")
    dispatch_batch()
    row.refresh_from_db()
    assert row.status == OutboundStatus.FAILED
    assert "Vorlage invoice.created nicht darstellbar" in row.last_error
    assert smtp_sink.envelopes == []


def test_a_customer_without_an_address_fails_with_the_reason(smtp_sink, brand_a):
    from tests.factories import CustomerFactory

    nobody = CustomerFactory(brand=brand_a)
    row = enqueue(nobody)
    dispatch_batch()
    row.refresh_from_db()
    assert row.status == OutboundStatus.FAILED
    assert row.last_error == "Keine Adresse für email."


def test_a_cancelled_row_stays_cancelled_and_is_not_claimed(smtp_sink, customer):
    row = enqueue(customer)
    OutboundMessage.objects.filter(pk=row.pk).update(status=OutboundStatus.CANCELLED)
    assert dispatch_batch().claimed == 0


def test_a_row_whose_worker_died_is_claimed_again_after_the_lease(smtp_sink, customer):
    row = enqueue(customer)
    OutboundMessage.objects.filter(pk=row.pk).update(
        status=OutboundStatus.SENDING, lease_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert dispatch_batch().sent == 1


def test_the_provider_budget_holds_back_what_exceeds_it(smtp_sink, customer, settings):
    settings.OUTBOX_PROVIDER_BUDGETS = {"email": 2}
    for n in range(3):
        enqueue(customer, idempotency_key=f"k{n}")
    assert dispatch_batch().sent == 2
    assert OutboundMessage.objects.filter(status=OutboundStatus.QUEUED).count() == 1
    assert dispatch_batch().claimed == 0  # the third waits for the next minute
    assert dispatch_batch(now=timezone.now() + dt.timedelta(minutes=1, seconds=1)).sent == 1


def test_status_timeline_has_queued_and_sent(smtp_sink, customer):
    enqueue(customer)
    dispatch_batch()
    assert list(StatusChange.objects.values_list("status", flat=True)) == ["queued", "sent"]


def test_sent_rows_count_for_the_caps_after_write_back(smtp_sink, customer):
    from kommunikation.outbox import OutboxHistory

    grant(customer)
    for n in range(4):
        enqueue(customer, category="marketing", idempotency_key=f"news:{n}", subject=f"News {n}")
    result = dispatch_batch()
    assert (result.sent, result.refused) == (3, 1)  # the fourth in the same batch hits the cap
    since = timezone.now() - dt.timedelta(days=7)
    history = OutboxHistory()
    assert history.count_capped_since(customer=customer, channel="email", since=since) == 3
    row = OutboundMessage.objects.filter(status=OutboundStatus.SENT).first()
    assert timezone.now() - row.sent_at < dt.timedelta(minutes=1)


def test_a_batch_reuses_one_smtp_connection(smtp_sink, customer):
    for n in range(5):
        enqueue(customer, idempotency_key=f"k{n}")
    assert dispatch_batch().sent == 5
    assert len(smtp_sink.envelopes) == 5
    assert smtp_sink.connections == 1


def test_written_back_in_groups_one_thread_holds_the_whole_batch(smtp_sink, customer, settings):
    settings.OUTBOX_WRITE_BACK_EVERY = 2
    for n in range(5):
        enqueue(
            customer, idempotency_key=f"invoice:{n}", subject="AW: " * n + "Ihre Rechnung RE-1001"
        )
    assert dispatch_batch().sent == 5
    thread = Conversation.objects.get()  # the later groups found the first group's thread
    assert thread.message_count == 5
    rows = OutboundMessage.objects.all()
    assert {row.status for row in rows} == {OutboundStatus.SENT}
    assert {row.conversation_id for row in rows} == {thread.pk}
    assert sorted(rows.values_list("message__message_id", flat=True)) == sorted(
        rows.values_list("header_message_id", flat=True)
    )
    assert StatusChange.objects.filter(status="sent").count() == 5


def test_the_same_template_twice_in_one_batch_goes_once(smtp_sink, customer):
    grant(customer)
    for n in range(2):
        enqueue(
            customer, category="marketing", template_key="", idempotency_key=f"news:{n}",
            subject="News", text="Neu im Shop",
        )  # fmt: skip
    OutboundMessage.objects.update(template_key="newsletter-mai")
    result = dispatch_batch()
    assert (result.sent, result.refused) == (1, 1)
    refused = OutboundMessage.objects.get(status=OutboundStatus.REFUSED)
    assert "Dieselbe Vorlage" in refused.last_error


# --- a write-back changes only the rows its claim still holds ---------------------------


def claimed_then_taken(customer, settings, *, b_finished: bool, **kwargs):
    """Worker A claims the row; its lease runs out; worker B claims it and, if `b_finished`,
    sends it and writes it back. Returns the row and A's copy, as A loaded it."""
    row = enqueue(customer, **kwargs)
    now = timezone.now()
    claim = claim_batch(limit=10, now=now, worker="worker-a")
    (stale,) = claimed_rows(claim)
    after_the_lease = now + dt.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1)
    if b_finished:
        assert dispatch_batch(now=after_the_lease, worker="worker-b").sent == 1
    else:
        assert claim_batch(limit=10, now=after_the_lease, worker="worker-b").ids == [row.pk]
    row.refresh_from_db()
    return row, stale


def assert_unchanged(row):
    fresh = OutboundMessage.objects.get(pk=row.pk)
    columns = ["status", "claimed_by", "claim_token", "lease_until", "attempts", "last_error",
               "sent_at", "provider_id", "next_attempt_at", "message_id"]  # fmt: skip
    assert [getattr(fresh, c) for c in columns] == [getattr(row, c) for c in columns]
    assert fresh.claimed_by == "worker-b"


def test_a_claim_records_its_worker_time_lease_and_token(customer, settings):
    row = enqueue(customer)
    now = timezone.now()
    claim = claim_batch(limit=10, now=now, worker="worker-a")
    row.refresh_from_db()
    assert claim.ids == [row.pk]
    assert row.status == OutboundStatus.SENDING
    assert (row.claimed_by, row.claim_token, row.claimed_at) == ("worker-a", claim.token, now)
    assert row.lease_until == now + dt.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
    # a second claim after the lease takes the row under a new token
    later = now + dt.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1)
    again = claim_batch(limit=10, now=later, worker="worker-b")
    assert again.ids == [row.pk]
    assert again.token != claim.token
    assert claimed_rows(claim) == []  # A no longer holds it: it will not send it


@pytest.mark.parametrize("b_finished", [True, False], ids=["b-sent", "b-sending"])
def test_a_sent_write_back_that_lost_its_claim_changes_nothing(
    smtp_sink, customer, settings, b_finished
):
    row, stale = claimed_then_taken(customer, settings, b_finished=b_finished)
    stale.sent_at, stale.provider_id = timezone.now(), "late"
    rendered = Rendered(stale.subject, stale.text, stale.html)
    assert write_back_sent([(stale, rendered)]) == [stale]
    assert_unchanged(row)
    assert Message.objects.count() == (1 if b_finished else 0)
    assert StatusChange.objects.count() == (2 if b_finished else 0)


@pytest.mark.parametrize("b_finished", [True, False], ids=["b-sent", "b-sending"])
@pytest.mark.parametrize("status", [OutboundStatus.QUEUED, OutboundStatus.FAILED])
def test_a_failure_write_back_that_lost_its_claim_changes_nothing(
    smtp_sink, customer, settings, b_finished, status
):
    row, stale = claimed_then_taken(customer, settings, b_finished=b_finished)
    result = BatchResult()
    assert not dispatch._write(
        stale, result, status=status, last_error="451", attempted=True,
        next_attempt_at=timezone.now() + dt.timedelta(minutes=5),
    )  # fmt: skip
    assert result.lost == 1
    assert_unchanged(row)


def test_a_held_claim_writes_back_and_counts_the_attempt_in_the_database(customer):
    row = enqueue(customer)
    claim = claim_batch(limit=10, now=timezone.now(), worker="worker-a")
    (held,) = claimed_rows(claim)
    # the database's count, not the one read at the claim, is the base (no read-modify-write)
    OutboundMessage.objects.filter(pk=row.pk).update(attempts=3)
    result = BatchResult()
    assert dispatch._write(
        held, result, status=OutboundStatus.QUEUED, last_error="451", attempted=True
    )
    row.refresh_from_db()
    assert (row.status, row.attempts, row.lease_until, result.lost) == (
        OutboundStatus.QUEUED, 4, None, 0,
    )  # fmt: skip


def test_sent_rows_count_their_attempt_in_the_database(smtp_sink, customer):
    row = enqueue(customer)
    claim = claim_batch(limit=10, now=timezone.now(), worker="worker-a")
    (held,) = claimed_rows(claim)
    OutboundMessage.objects.filter(pk=row.pk).update(attempts=2)
    held.sent_at, held.provider_id = timezone.now(), "p-1"
    assert write_back_sent([(held, Rendered(held.subject, held.text, held.html))]) == []
    row.refresh_from_db()
    assert (row.status, row.attempts, row.provider_id) == (OutboundStatus.SENT, 3, "p-1")
    assert row.message.message_id == row.header_message_id


def test_a_claim_past_its_lease_still_writes_back_while_nobody_took_it(
    smtp_sink, customer, settings
):
    row = enqueue(customer)
    now = timezone.now()
    claim = claim_batch(limit=10, now=now, worker="worker-a")
    (held,) = claimed_rows(claim)
    held.sent_at, held.provider_id = now + dt.timedelta(hours=1), "p-1"  # long after the lease
    assert write_back_sent([(held, Rendered(held.subject, held.text, held.html))]) == []
    row.refresh_from_db()
    assert (row.status, row.claimed_by, row.lease_until) == (OutboundStatus.SENT, "worker-a", None)
    assert Message.objects.count() == 1


def test_in_a_group_only_the_lost_row_is_left_out(smtp_sink, customer, settings):
    kept = enqueue(customer, idempotency_key="invoice:RE-1001")
    taken = enqueue(customer, idempotency_key="invoice:RE-1001:reminder")
    now = timezone.now()
    claim = claim_batch(limit=10, now=now, worker="worker-a")
    mine = {row.pk: row for row in claimed_rows(claim)}
    # only the second row's lease runs out and worker B sends it
    OutboundMessage.objects.filter(pk=kept.pk).update(lease_until=now + dt.timedelta(days=1))
    after_the_lease = now + dt.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1)
    assert dispatch_batch(now=after_the_lease, worker="worker-b").sent == 1
    group = []
    for row in mine.values():
        row.sent_at, row.provider_id = timezone.now(), f"a-{row.pk}"
        group.append((row, Rendered(row.subject, row.text, row.html)))
    assert write_back_sent(group) == [mine[taken.pk]]
    kept.refresh_from_db()
    taken.refresh_from_db()
    assert (kept.status, kept.claimed_by, kept.provider_id) == ("sent", "worker-a", f"a-{kept.pk}")
    assert (taken.status, taken.claimed_by) == ("sent", "worker-b")
    assert taken.provider_id != f"a-{taken.pk}"
    # one thread, one entry each
    thread = Conversation.objects.get()
    assert thread.message_count == 2
    assert {kept.message_id, taken.message_id} == set(thread.messages.values_list("pk", flat=True))
    assert StatusChange.objects.filter(status="sent").count() == 2
