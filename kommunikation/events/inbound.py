"""Incoming messages as events: ``message.received`` and ``conversation.created``.

conversations.ingest sends ``message_ingested`` after commit, once per message or batch;
``queue_inbound_events`` hands the batch to a django-q2 task, ``record_inbound_events``
turns it into events with one query and one bulk insert, so the rules engine
sees mail the same way as any other business event. The payload carries what an
auto-reply rule must know to stay silent (RFC 3834 section 2: never answer auto-submitted
mail, bulk or list mail, or noreply / mailer-daemon senders) as plain fields, so the
decision can be made, shown and tested without re-parsing the mail.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.utils import timezone

from kommunikation.events.scans import conversation_reference
from kommunikation.events.services import EventConflict, InvalidEvent, record_events

log = logging.getLogger(__name__)

SOURCE = "inbox"

# local parts of addresses nobody reads (RFC 3834 section 2, and common practice)
_NOREPLY = re.compile(r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|noreply[-_.].*|.*[-_.]noreply)$")
_DAEMON = re.compile(r"^(mailer[-_.]?daemon|postmaster|bounces?([-+_.].*)?|.*-bounces?)$")


def _local_part(address: str) -> str:
    return address.rpartition("@")[0].split("+", 1)[0].lower()


def inbound_facts(message) -> dict[str, Any]:
    """The sender and header facts of one inbound message, as plain data."""
    address = message.sender_address or ""
    local = _local_part(address)
    auto_submitted = message.header("Auto-Submitted").strip().lower()
    precedence = message.header("Precedence").strip().lower()
    list_id = message.header("List-Id").strip()
    list_unsubscribe = bool(message.header("List-Unsubscribe"))
    suppress = message.header("X-Auto-Response-Suppress").strip()
    return_path = message.header("Return-Path").strip()
    facts = {
        "auto_submitted": auto_submitted,
        "precedence": precedence,
        "list_id": list_id,
        "list_unsubscribe": list_unsubscribe,
        "x_auto_response_suppress": suppress,
        "return_path": return_path,
        "is_bulk": bool(list_id or list_unsubscribe or precedence in ("bulk", "list", "junk")),
        "is_auto_generated": bool(auto_submitted and auto_submitted != "no") or bool(suppress),
        "sender_is_noreply": bool(_NOREPLY.match(local)),
        "sender_is_mailer_daemon": bool(_DAEMON.match(local)),
    }
    blockers = []
    if facts["is_auto_generated"]:
        blockers.append("auto_submitted")
    if facts["is_bulk"]:
        blockers.append("bulk")
    if facts["sender_is_noreply"]:
        blockers.append("noreply")
    if facts["sender_is_mailer_daemon"] or return_path == "<>":
        blockers.append("mailer_daemon")
    if not address:
        blockers.append("no_sender")
    facts["auto_reply_blockers"] = blockers
    return facts


def _payload(message, conversation, *, new_conversation: bool = False) -> dict[str, Any]:
    received_at = timezone.localtime(message.created_at)
    return {
        "conversation_reference": conversation_reference(conversation),
        "conversation_subject": conversation.subject,
        "message_subject": message.subject,
        "from_name": message.sender_name,
        "from_address": message.sender_address,
        "channel": message.channel,
        "received_at": received_at.isoformat(),
        "message_id": message.pk,
        "classification": conversation.classification,
        "mailbox_id": conversation.mailbox_id,
        # the brand mailbox it came in by, for rule conditions (payload.mailbox equals ...)
        "mailbox": (conversation.mailbox.address or "").lower() if conversation.mailbox else "",
        "to": list(message.to or []),
        "flagged": message.flagged,
        # the message started its conversation (rules: an acknowledgement only for the first)
        "new_conversation": new_conversation,
        **inbound_facts(message),
    }


def _event(type_: str, key: str, message, payload: dict[str, Any]) -> dict[str, Any]:
    conversation = message.conversation
    return {
        "brand": conversation.brand,
        "type": type_,
        "source": SOURCE,
        "source_key": key,
        "occurred_at": message.created_at,
        "customer": conversation.customer,
        "customer_ref": {} if conversation.customer_id else {"email": conversation.counterpart},
        "record_kind": "conversation",
        "record_id": str(conversation.pk),
        "record_number": conversation_reference(conversation),
        "payload": payload,
    }


def queue_inbound_events(*, results, **_signal) -> None:
    """Receiver of conversations' ``message_ingested``: one django-q2 task per batch.

    Recording ~1.6 events per mail costs about as much as storing the mail (inserts into an
    indexed, JSON-carrying table), so it runs in the worker, not in the IMAP fetch or the
    webhook's request; ingestion keeps its pace, and the events follow within a poll
    interval (tests and Q2_SYNC run the task inline).
    """
    from django_q.tasks import async_task

    messages = [r.message.pk for r in results if r.message is not None and r.message.pk]
    started = [r.message.pk for r in results if r.new_conversation and r.message is not None]
    if messages:
        async_task(
            "kommunikation.events.inbound.record_inbound_events",
            messages,
            started,
            q_options={"task_name": "inbound_events"},
        )


def record_inbound_events(message_ids: list[int], started_ids: list[int]) -> int:
    """``message.received`` for each message, ``conversation.created`` for those that
    started their conversation; returns how many events were new. Keys are the message's
    and the conversation's ids, so a repeated task never records twice."""
    from conversations.models import Message

    started = set(started_ids)
    messages = (
        Message.objects.filter(pk__in=message_ids)
        .select_related("conversation__brand", "conversation__customer", "conversation__mailbox")
        .order_by("pk")
    )
    items = []
    for message in messages:
        payload = _payload(message, message.conversation, new_conversation=message.pk in started)
        if message.pk in started:
            key = f"conversation:{message.conversation_id}"
            items.append(_event("conversation.created", key, message, payload))
        items.append(_event("message.received", f"message:{message.pk}", message, payload))
    try:
        recorded = record_events(items)
    except (InvalidEvent, EventConflict):
        # one odd message must not cost the batch its events: one by one, skipping it
        log.warning("inbound events of a batch refused; recording one by one", exc_info=True)
        recorded = []
        for item in items:
            try:
                recorded.extend(record_events([item]))
            except (InvalidEvent, EventConflict) as error:
                log.warning("inbound event %s refused: %s", item["source_key"], error)
    return sum(1 for _event, created in recorded if created)
