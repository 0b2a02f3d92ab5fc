"""The inbox's one writer of what we send: outbound messages in their threads, and
their status timelines (and the internal notes staff and rules add to a thread).

Every way a message leaves the system records it here (STYLE.md 16): the dispatch
worker's write-back (automated messages, auto-replies, inbox replies), the inbox's
own reply composer, the delivery-status webhooks and tracking links, and any channel
still to come (WhatsApp and SMS status webhooks call ``record_status`` as email's
tracking does). Nothing else creates outbound Messages or StatusChange rows.

One threading rule for outbound messages, beside ``conversations.threading`` for
inbound ones:

1. a message that names its conversation (an inbox reply, an auto-reply to an
   incoming message) goes there;
2. else a message that answers one of ours or theirs (In-Reply-To / References
   against the brand's known Message-IDs) joins that message's conversation;
3. else the newest conversation of the brand with the same customer (without a
   customer: the same counterpart address), the same channel and the same
   normalised subject (the template key when the channel has no subject), whose
   last message lies within the subject window (THREADING_SUBJECT_WINDOW_DAYS) —
   the same window inbound subject threading uses;
4. else a new conversation, which starts closed: a routine message is no task for
   the inbox until the customer answers (ingestion reopens it then, threading on
   our Message-ID).

The status timeline moves forward only: queued < sent < delivered < read/opened <
clicked < bounced/failed. Each status is recorded once per message; a status that
arrives late (a "delivered" after an "opened") is recorded on the timeline but does
not move the message back. The one way back is a new attempt: a message that
failed and was queued again is "sent" again when it goes out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from conversations.models import (
    Channel,
    Classification,
    Conversation,
    Direction,
    Message,
    Status,
    StatusChange,
)
from conversations.sanitize import sanitize_html
from conversations.signals import outbound_status_recorded
from conversations.threading import normalize_subject, subject_window

State = Message.State

# later states never go back to earlier ones (an "opened" after "clicked" stays clicked)
STATUS_RANK = {
    State.QUEUED: 0,
    State.SENT: 1,
    State.DELIVERED: 2,
    State.READ: 3,  # WhatsApp's read receipt, where email has "opened"
    State.OPENED: 3,
    State.CLICKED: 4,
    State.BOUNCED: 5,
    State.FAILED: 5,
}


def moves_forward(current: str, new: str) -> bool:
    """Whether a message at status `current` takes status `new` (see the module's doc)."""
    if new == State.SENT and current == State.FAILED:
        return True  # a new attempt after a failure went out
    return STATUS_RANK.get(new, 0) >= STATUS_RANK.get(current, 0)


@dataclass
class Outbound:
    """One message we sent, as its thread records it (any channel).

    `conversation`: the thread the sender chose (a reply, an auto-reply); `message`:
    the thread entry it already has (an inbox reply, recorded when queued). `topic`
    threads messages without a subject (SMS, WhatsApp): usually the template key.
    """

    brand: object
    channel: str
    recipient: str
    sent_at: dt.datetime
    subject: str = ""
    text: str = ""
    html: str = ""
    customer: object | None = None
    conversation: Conversation | None = None
    message: Message | None = None
    topic: str = ""
    sender_name: str = ""
    sender_address: str = ""
    reply_to: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    references: str = ""
    provider_id: str = ""
    queued_at: dt.datetime | None = None

    @property
    def subject_key(self) -> str:
        return (normalize_subject(self.subject) if self.subject else self.topic)[:200]

    @property
    def thread_channel(self) -> str:
        return self.channel if self.channel in Channel.values else Channel.EMAIL

    @property
    def thread_key(self) -> tuple:
        # the customer, or the address when nobody is known
        who = (
            ("customer", self.customer.pk) if self.customer is not None else ("to", self.recipient)
        )
        return (self.brand.pk, who, self.thread_channel, self.subject_key)

    def thread_ids(self) -> list[str]:
        return [i for i in dict.fromkeys([self.in_reply_to, *self.references.split()]) if i]


class OutboundThreads:
    """The threads of one batch of outbound messages (a dispatch batch), looked up
    with a query or two for the whole batch and cached between its write-back groups.

    A batch whose transaction was rolled back must `clear()` it: the cache may name
    conversations that were rolled back with it.
    """

    def __init__(self) -> None:
        self._by_key: dict[tuple, list[Conversation]] = {}
        self._looked_up: set[tuple] = set()
        self._by_message_id: dict[str, Conversation] = {}

    def clear(self) -> None:
        self.__init__()

    def load(self, items: list[Outbound]) -> None:
        window = subject_window()
        pending = [i for i in items if i.conversation is None]
        ids = sorted({m for i in pending for m in i.thread_ids()} - self._by_message_id.keys())
        if ids:
            brands = {i.brand.pk for i in pending}
            newest: dict[str, tuple[int, int]] = {}
            for mid, pk, conversation_id in Message.objects.filter(
                conversation__brand_id__in=brands, message_id__in=ids
            ).values_list("message_id", "id", "conversation_id"):
                if mid not in newest or pk > newest[mid][0]:
                    newest[mid] = (pk, conversation_id)
            found = Conversation.objects.in_bulk({c for _pk, c in newest.values()})
            for mid, (_pk, conversation_id) in newest.items():
                self._by_message_id[mid] = found[conversation_id]
        keys = {i.thread_key for i in pending if i.subject_key} - self._looked_up
        if not keys:
            return
        self._looked_up |= keys
        ats = [i.sent_at for i in pending if i.thread_key in keys]
        candidates = Conversation.objects.filter(
            brand_id__in={k[0] for k in keys},
            subject_key__in={k[3] for k in keys},
            last_message_at__gte=min(ats) - window,
            last_message_at__lte=max(ats) + window,
        )
        customers = {k[1][1] for k in keys if k[1][0] == "customer"}
        addresses = {k[1][1] for k in keys if k[1][0] == "to"}
        found = []
        if customers:
            found += candidates.filter(customer_id__in=customers)
        if addresses:
            found += candidates.filter(customer__isnull=True, counterpart__in=addresses)
        for conversation in found:
            who = (
                ("customer", conversation.customer_id)
                if conversation.customer_id
                else ("to", conversation.counterpart)
            )
            key = (conversation.brand_id, who, conversation.channel, conversation.subject_key)
            if key in keys:
                self._by_key.setdefault(key, []).append(conversation)

    def find(self, item: Outbound) -> Conversation | None:
        """The conversation `item` belongs to by the module's rule, or None (a new one)."""
        if item.conversation is not None:
            return item.conversation
        for mid in reversed(item.thread_ids()):  # the most recent reference first
            if mid in self._by_message_id:
                return self._by_message_id[mid]
        if not item.subject_key:
            return None
        window = subject_window()
        within = [
            c
            for c in self._by_key.get(item.thread_key, ())
            if abs(c.last_message_at - item.sent_at) <= window
        ]
        # the newest wins; one created in this batch (no pk yet) is newer than any stored
        return max(within, key=lambda c: (c.last_message_at, c.pk is None, c.pk or 0), default=None)

    def add(self, conversation: Conversation, item: Outbound) -> None:
        if item.subject_key:
            threads = self._by_key.setdefault(item.thread_key, [])
            if conversation not in threads:
                threads.append(conversation)
        if item.message_id:
            self._by_message_id[item.message_id] = conversation


def _new_conversation(item: Outbound) -> Conversation:
    customer = item.customer
    return Conversation(
        brand=item.brand,
        customer=customer,
        subject=item.subject[:500],
        subject_key=item.subject_key,
        counterpart=item.recipient,
        counterpart_name=str(customer or "")[:200],
        channel=item.thread_channel,
        classification=Classification.CUSTOMER if customer is not None else "",
        status=Status.CLOSED,
        unread=False,
        message_count=0,
        snippet=(item.text or item.subject)[:200],
        last_message_at=item.sent_at,
    )


def record_sent(items: list[Outbound], *, threads: OutboundThreads | None = None) -> list[Message]:
    """Record sent messages in their threads, in the caller's transaction; the thread
    entries in input order.

    An item with a thread entry (an inbox reply) updates it: Message-ID, provider id,
    sent time, status "sent" and its timeline entry. Any other gets a thread by the
    module's rule, a new Message and the timeline "queued" (when it was queued) and
    "sent". A batch is written with a few statements whatever its size.
    """
    threads = OutboundThreads() if threads is None else threads
    timeline: list[StatusChange] = []
    replies: list[Message] = []
    new_items = [i for i in items if i.message is None]
    for item in items:
        if item.message is None:
            continue
        message = item.message
        message.message_id = item.message_id or message.message_id
        message.provider_id = item.provider_id
        message.sent_at = item.sent_at
        if moves_forward(message.status, State.SENT):
            message.status = State.SENT
        replies.append(message)
        timeline.append(StatusChange(message=message, status=State.SENT, at=item.sent_at))
    if replies:
        Message.objects.bulk_update(replies, ["message_id", "provider_id", "sent_at", "status"])
    if new_items:
        timeline += _thread_new(new_items, threads)
    StatusChange.objects.bulk_create(timeline)
    return [item.message for item in items]


def record_outbound(item: Outbound) -> Message:
    """Record one sent message in its thread (any channel); its thread entry."""
    with transaction.atomic():
        return record_sent([item])[0]


def _thread_new(items: list[Outbound], threads: OutboundThreads) -> list[StatusChange]:
    threads.load(items)
    created: list[Conversation] = []
    for item in items:
        conversation = threads.find(item)
        if conversation is None:
            conversation = _new_conversation(item)
            created.append(conversation)
        if conversation.pk is None:
            conversation.message_count += 1
            conversation.last_message_at = max(conversation.last_message_at, item.sent_at)
        threads.add(conversation, item)
        item.conversation = conversation
    Conversation.objects.bulk_create(created)

    messages = [
        Message(
            conversation=item.conversation,
            channel=item.thread_channel,
            direction=Direction.OUTBOUND,
            sender_name=item.sender_name,
            sender_address=item.sender_address,
            to=[item.recipient],
            reply_to=item.reply_to,
            subject=item.subject[:500],
            text=item.text,
            html=sanitize_html(item.html)[0] if item.html else "",
            message_id=item.message_id,
            in_reply_to=item.in_reply_to,
            references=item.references,
            provider_id=item.provider_id,
            status=State.SENT,
            sent_at=item.sent_at,
            created_at=item.queued_at or item.sent_at,
        )
        for item in items
    ]
    Message.objects.bulk_create(messages)
    timeline = []
    # new threads got their count when created; only stored ones need an UPDATE
    new = {id(conversation) for conversation in created}
    stored: dict[int, list[dt.datetime]] = {}
    for item, message in zip(items, messages, strict=True):
        item.message = message
        timeline.append(
            StatusChange(message=message, status=State.QUEUED, at=item.queued_at or item.sent_at)
        )
        timeline.append(StatusChange(message=message, status=State.SENT, at=item.sent_at))
        if id(item.conversation) not in new:
            stored.setdefault(item.conversation.pk, []).append(item.sent_at)
    for item in items:
        if id(item.conversation) not in new:
            times = stored[item.conversation.pk]
            item.conversation.last_message_at = max(item.conversation.last_message_at, *times)
    for pk, times in sorted(stored.items()):  # one lock order for all workers
        Conversation.objects.filter(pk=pk).update(
            message_count=F("message_count") + len(times),
            last_message_at=Greatest("last_message_at", max(times)),
        )
    return timeline


def record_internal_note(
    *, conversation: Conversation, text: str, author=None, sender_name: str = "", at=None
) -> Message:
    """A note only staff see, in the thread (written by staff, a rule or the system); it
    never leaves the system. The conversation counts it, by the database's count."""
    if author is not None and not sender_name:
        sender_name = author.get_full_name() or author.get_username()
    note = Message.objects.create(
        conversation=conversation,
        channel=Channel.NOTE,
        direction=Direction.OUTBOUND,
        is_internal_note=True,
        author=author,
        sender_name=sender_name,
        text=text,
        created_at=at or timezone.now(),
    )
    Conversation.objects.filter(pk=conversation.pk).update(message_count=F("message_count") + 1)
    conversation.message_count += 1
    return note


@transaction.atomic
def record_queued(
    *,
    conversation: Conversation,
    channel: str,
    recipient: str,
    subject: str,
    text: str,
    author,
    sender_name: str,
    sender_address: str,
    message_id: str,
    in_reply_to: str = "",
    references: str = "",
    cc: list[str] | None = None,
    headers: list | None = None,
    at: dt.datetime | None = None,
) -> Message:
    """An answer staff wrote, in its thread with status "queued" until the outbox sends it.

    The conversation is answered: no response is due any more.
    """
    at = at or timezone.now()
    message = Message.objects.create(
        conversation=conversation,
        channel=channel,
        direction=Direction.OUTBOUND,
        author=author,
        sender_name=sender_name,
        sender_address=sender_address,
        to=[recipient],
        cc=cc or [],
        headers=headers or [],
        subject=subject,
        text=text,
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        status=State.QUEUED,
        created_at=at,
    )
    StatusChange.objects.create(message=message, status=State.QUEUED, at=at)
    conversation.message_count += 1
    conversation.last_message_at = at
    conversation.response_due_at = None  # answered
    conversation.snippet = " ".join(text.split())[:200]
    conversation.save(
        update_fields=["message_count", "last_message_at", "response_due_at", "snippet"]
    )
    return message


def record_status(
    message: Message,
    status: str,
    at: dt.datetime | None = None,
    provider_event_id: str | None = None,
    detail: str = "",
) -> bool:
    """Put a status on the message's timeline once (any channel); True if it was new.

    The message's own status moves forward only (see the module's doc). A provider
    event delivered again (providers retry webhooks) finds its status recorded and
    changes nothing; `provider_event_id` (the provider's id of the event) is kept with
    the entry.
    """
    if status not in State.values:
        raise ValueError(f"unknown message status {status!r}")
    at = at or timezone.now()
    with transaction.atomic():
        # locked: two webhooks for the same message do not both record a status
        message = Message.objects.select_for_update().get(pk=message.pk)
        if StatusChange.objects.filter(message=message, status=status).exists():
            return False
        StatusChange.objects.create(
            message=message,
            status=status,
            at=at,
            detail=detail[:500],
            provider_event_id=(provider_event_id or "")[:200],
        )
        if moves_forward(message.status, status):
            message.status = status
            message.save(update_fields=["status"])
        # in the same transaction: a fallback chain moves on with the status, or neither
        outbound_status_recorded.send(
            sender=Message, message=message, status=status, at=at, detail=detail
        )
    return True


def record_note(message: Message, detail: str, at: dt.datetime | None = None) -> bool:
    """A timeline note under the message's current status (a complaint, an unsubscribe:
    events with no status of their own), once per text; True if it was new."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        if StatusChange.objects.filter(message=message, detail=detail).exists():
            return False
        StatusChange.objects.create(
            message=message, status=message.status, at=at or timezone.now(), detail=detail[:500]
        )
    return True
