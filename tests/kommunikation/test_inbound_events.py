"""Incoming mail becomes events: ``conversation.created`` and ``message.received``, recorded
after commit, once per batch, with what an auto-reply rule needs to stay silent (RFC 3834)."""

from __future__ import annotations

import datetime as dt

import pytest

from conversations.benchmarks import generate_emails
from conversations.ingest import ingest_raw_email, ingest_raw_emails
from conversations.models import Conversation, Message
from conversations.signals import message_ingested
from kommunikation.automation.tasks import on_event_recorded
from kommunikation.events.catalogue import build_context
from kommunikation.events.models import Event
from kommunikation.events.services import EventConflict, InvalidEvent, event_recorded, record_events
from tests.conversations.test_ingest import mail
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run the after-commit callbacks (the test's transaction never commits)."""

    def run(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            result = function(*args, **kwargs)
            if not isinstance(result, list) and hasattr(result, "__next__"):
                result = list(result)
        return result

    return run


def test_a_new_mail_makes_conversation_created_and_message_received(brand_a, on_commit):
    anna = CustomerFactory(brand=brand_a, email="kunde@beispiel.de")

    result = on_commit(ingest_raw_email, mail(), brand=brand_a)

    created = Event.objects.get(type="conversation.created")
    received = Event.objects.get(type="message.received")
    conversation = result.conversation
    assert (created.brand, created.source) == (brand_a, "inbox")
    assert created.source_key == f"conversation:{conversation.pk}"
    assert received.source_key == f"message:{result.message.pk}"
    assert received.customer == anna == created.customer
    assert (received.record_kind, received.record_id) == ("conversation", str(conversation.pk))
    assert received.occurred_at == result.message.created_at
    context = build_context("message.received", received.payload)
    assert context["conversation_reference"] == received.record_number
    assert context["from_address"] == "kunde@beispiel.de"
    assert context["from_name"] == "Kunde"
    assert context["message_subject"] == "Frage zur Wallbox"
    assert isinstance(context["received_at"], dt.datetime)
    assert received.payload["auto_reply_blockers"] == []
    assert received.payload["classification"] == "customer"


def test_a_reply_in_the_thread_is_only_message_received(brand_a, on_commit):
    on_commit(ingest_raw_email, mail(), brand=brand_a)
    reply = mail(
        subject="AW: Frage zur Wallbox",
        message_id="<q2@beispiel.de>",
        extra="In-Reply-To: <q1@beispiel.de>\n",
    )

    result = on_commit(ingest_raw_email, reply, brand=brand_a)

    assert result.outcome == "threaded"
    assert Event.objects.filter(type="conversation.created").count() == 1
    assert Event.objects.filter(type="message.received").count() == 2
    unknown = Event.objects.get(source_key=f"message:{result.message.pk}")
    assert unknown.customer is None
    assert unknown.customer_ref == {"email": "kunde@beispiel.de"}


def test_a_duplicate_makes_no_event(brand_a, on_commit):
    on_commit(ingest_raw_email, mail(), brand=brand_a)
    result = on_commit(ingest_raw_email, mail(), brand=brand_a)

    assert result.outcome == "duplicate"
    assert Event.objects.count() == 2


def test_nothing_is_recorded_before_the_transaction_commits(brand_a):
    ingest_raw_email(mail(), brand=brand_a)  # the test's transaction never commits

    assert Message.objects.count() == 1
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("sender", "extra", "blockers", "field", "value"),
    [
        ("bot@shop.example", "Auto-Submitted: auto-replied\n", ["auto_submitted"],
         "auto_submitted", "auto-replied"),
        ("news@shop.example", "List-Id: <news.shop.example>\n", ["bulk"],
         "list_id", "<news.shop.example>"),
        ("news@shop.example", "Precedence: bulk\n", ["bulk"], "precedence", "bulk"),
        ("no-reply@shop.example", "", ["noreply"], "sender_is_noreply", True),
        ("noreply+abc@shop.example", "", ["noreply"], "sender_is_noreply", True),
        ("MAILER-DAEMON@mx.example", "", ["mailer_daemon"], "sender_is_mailer_daemon", True),
        ("kunde@beispiel.de", "Return-Path: <>\n", ["mailer_daemon"], "return_path", "<>"),
        ("kunde@beispiel.de", "Auto-Submitted: no\n", [], "auto_submitted", "no"),
    ],
)  # fmt: skip
def test_the_payload_says_why_no_auto_reply_may_go_out(
    brand_a, on_commit, sender, extra, blockers, field, value
):
    on_commit(ingest_raw_email, mail(sender=sender, extra=extra), brand=brand_a)

    payload = Event.objects.get(type="message.received").payload
    assert payload[field] == value
    assert payload["auto_reply_blockers"] == blockers


def test_a_batch_sends_one_signal_and_records_its_events_in_a_few_queries(
    brand_a, on_commit, django_assert_max_num_queries
):
    raws = generate_emails(150, seed=5, domain="laderthuis.nl")
    batches = []

    def count(sender, results, **kwargs):
        batches.append(len(results))

    message_ingested.connect(count, dispatch_uid="test-count")
    # this counts ingestion and the recording of its events; the rules engine, which
    # event_recorded starts once per event (a task of its own in production, run inline
    # here by Q2_SYNC), is measured by `manage.py bench --only rules`
    event_recorded.disconnect(dispatch_uid="kk-rules")
    try:
        with django_assert_max_num_queries(40):  # 30 for the ingest itself, see its test
            on_commit(ingest_raw_emails, [(raw, "") for raw in raws], brand=brand_a)
    finally:
        message_ingested.disconnect(dispatch_uid="test-count")
        event_recorded.connect(on_event_recorded, dispatch_uid="kk-rules")

    assert batches == [150]
    assert Event.objects.filter(type="message.received").count() == 150
    assert Event.objects.filter(type="conversation.created").count() == Conversation.objects.count()


def test_a_failing_receiver_does_not_stop_ingestion(brand_a, on_commit):
    def broken(sender, **kwargs):
        raise RuntimeError("kaputt")

    message_ingested.connect(broken, dispatch_uid="test-broken")
    try:
        result = on_commit(ingest_raw_email, mail(), brand=brand_a)
    finally:
        message_ingested.disconnect(dispatch_uid="test-broken")

    assert result.outcome == "new"
    assert Event.objects.filter(type="message.received").count() == 1


# --- record_events: the bulk form of record_event ------------------------------------------


def _item(brand, key: str, **overrides):
    return {
        "brand": brand,
        "type": "custom.test",
        "source": "test",
        "source_key": key,
        "occurred_at": dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC),
        "payload": {"n": key},
        **overrides,
    }


def test_record_events_stores_new_ones_and_returns_the_stored_ones(brand_a, brand_b):
    first = record_events([_item(brand_a, "1"), _item(brand_a, "2")])
    again = record_events([_item(brand_a, "2"), _item(brand_a, "3"), _item(brand_b, "2")])

    assert [created for _event, created in first] == [True, True]
    assert [created for _event, created in again] == [False, True, True]
    assert again[0][0].pk == first[1][0].pk
    assert Event.objects.count() == 4


def test_record_events_refuses_other_content_for_a_key_and_invalid_items(brand_a):
    record_events([_item(brand_a, "1")])

    with pytest.raises(EventConflict):
        record_events([_item(brand_a, "1", payload={"n": "other"})])
    with pytest.raises(InvalidEvent):
        record_events([_item(brand_a, "2"), _item(brand_a, "3", type="unknown.type")])
    assert Event.objects.count() == 1


def test_record_events_is_a_few_queries_for_many(brand_a, django_assert_max_num_queries):
    # the keys, a savepoint around the insert (SQLite splits it in two)
    with django_assert_max_num_queries(5):
        record_events([_item(brand_a, str(n)) for n in range(100)])
    assert Event.objects.count() == 100


def test_a_routed_batch_records_each_mail_in_its_brand(brand_a, brand_b, on_commit):
    to_a = mail(message_id="<a@beispiel.de>")
    to_b = mail(message_id="<b@beispiel.de>").replace(b"laderthuis.nl", b"zaptecshop.nl")

    results = on_commit(ingest_raw_emails, [(to_a, ""), (to_b, "")], brand=None)

    assert [r.brand for r in results] == [brand_a, brand_b]
    received = Event.objects.filter(type="message.received")
    assert {(e.brand, e.source_key) for e in received} == {
        (brand_a, f"message:{results[0].message.pk}"),
        (brand_b, f"message:{results[1].message.pk}"),
    }
