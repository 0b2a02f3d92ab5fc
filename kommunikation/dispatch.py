"""The dispatch worker: claim due outbox rows, check, render, send, write back, thread.

Workers claim, then work (STYLE.md 6): a short transaction claims a batch with
SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL; on SQLite the IMMEDIATE
transaction serialises claims, one worker) and marks the rows "sending" with a
lease. Sending happens outside any transaction. A message the provider accepted
is written back with the next few (OUTBOX_WRITE_BACK_EVERY) in one short
transaction: status "sent", its thread entry and status timeline together.
Failures, deferrals and retries are written at once. A worker killed at any point
leaves its rows "sending" until the lease ends, then another worker claims them
again: nothing is lost. The price is the window before the write-back: a worker
killed after the provider accepted up to OUTBOX_WRITE_BACK_EVERY messages but
before their group was committed sends those again — with the same Message-IDs,
so receivers and our own ingestion see one message each.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.gate import DEFER, REFUSE, BatchRecords, decide
from compliance.models import Suppression, needs_consent
from compliance.services import Actor, suppress_address, unsubscribe_mailto, unsubscribe_url
from compliance.services import preference_url as customer_preference_url
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
from conversations.threading import normalize_subject
from kommunikation.automation.engine import still_wanted
from kommunikation.channels import CHANNELS
from kommunikation.channels.base import Outgoing, PermanentError, TransientError
from kommunikation.models import (
    ContactPoint,
    OutboundMessage,
    OutboundSource,
    OutboundStatus,
    ProviderBudget,
)
from kommunikation.outbox import BatchHistory, retry_delay

log = logging.getLogger(__name__)

WORKER = f"{socket.gethostname()}:{os.getpid()}"
PHONE_CHANNELS = {"sms", "whatsapp", "call"}
DISPATCH_ACTOR = Actor(label="Versand")


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    refused: int = 0
    failed: int = 0
    retried: int = 0
    fallback: int = 0
    reasons: list[str] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        for name in ("claimed", "sent", "deferred", "refused", "failed", "retried", "fallback"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Rendered:
    subject: str
    text: str
    html: str


class RenderError(Exception):
    pass


# --- claiming -------------------------------------------------------------------------


def claim_batch(*, limit: int, now: dt.datetime, worker: str = WORKER) -> list[int]:
    """Mark up to `limit` due rows as ours for the lease time; returns their ids."""
    with transaction.atomic():
        # urgent before low among what is due, then oldest first
        due = OutboundMessage.objects.due(now).order_by("priority", "next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        rows = list(due.values_list("id", "channel")[:limit])
        if not rows:
            return []
        ids = _within_budgets(rows, now)
        OutboundMessage.objects.filter(id__in=ids).update(
            status=OutboundStatus.SENDING,
            lease_until=now + dt.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
            claimed_by=worker[:100],
        )
    return ids


def _within_budgets(rows: list[tuple[int, str]], now: dt.datetime) -> list[int]:
    """Provider rate limits shared by all workers: a per-minute counter row per channel,
    locked inside the claim transaction. Rows over the budget wait for the next window."""
    by_channel: dict[str, list[int]] = {}
    for pk, channel in rows:
        by_channel.setdefault(channel, []).append(pk)
    allowed: list[int] = []
    for channel, ids in by_channel.items():
        limit = settings.OUTBOX_PROVIDER_BUDGETS.get(channel, 0)
        if not limit:
            allowed += ids
            continue
        budget, _created = ProviderBudget.objects.select_for_update().get_or_create(
            provider=channel
        )
        if now - budget.window_start >= dt.timedelta(minutes=1):
            budget.window_start, budget.used = now, 0
        granted = max(0, min(len(ids), limit - budget.used))
        budget.used += granted
        budget.save()
        allowed += ids[:granted]
        if ids[granted:]:
            OutboundMessage.objects.filter(id__in=ids[granted:]).update(
                next_attempt_at=budget.window_start + dt.timedelta(minutes=1)
            )
    return allowed


# --- the loop -------------------------------------------------------------------------


def dispatch_batch(*, limit: int | None = None, now: dt.datetime | None = None) -> BatchResult:
    """Claim one batch and handle every row of it; one channel connection per batch.

    The reads the gate needs (consents, preferences, suppressions, what was sent
    before) are loaded once for the batch. Accepted messages are written back in
    groups of OUTBOX_WRITE_BACK_EVERY (the most a killed worker sends twice).
    """
    result = BatchResult()
    ids = claim_batch(limit=limit or settings.OUTBOX_BATCH_SIZE, now=now or timezone.now())
    result.claimed = len(ids)
    if not ids:
        return result
    rows = list(
        OutboundMessage.objects.filter(id__in=ids)
        .select_related("brand", "customer", "conversation", "message")
        .order_by("priority", "next_attempt_at", "id")
    )
    points = _contact_points({row.customer_id for row in rows if row.customer_id})
    for row in rows:
        row.recipient = recipient_for(row, row.channel, points=points)
    customer_ids = {row.customer_id for row in rows if row.customer_id}
    records = BatchRecords(
        customer_ids=customer_ids,
        addresses={(row.channel, row.recipient) for row in rows if row.recipient},
    )
    history = BatchHistory(customer_ids=customer_ids, at=timezone.now())
    batch = _Batch(adapters=_Adapters(), history=history, records=records, result=result)
    try:
        for row in rows:
            handle(row, batch=batch)
            if len(batch.sent) >= settings.OUTBOX_WRITE_BACK_EVERY:
                batch.flush()
    finally:
        batch.flush()
        batch.adapters.close()
    return result


def _contact_points(customer_ids: set[int]) -> dict[int, list[ContactPoint]]:
    by_customer: dict[int, list[ContactPoint]] = {}
    for point in ContactPoint.objects.filter(customer_id__in=customer_ids, bouncing=False).order_by(
        "position", "id"
    ):
        by_customer.setdefault(point.customer_id, []).append(point)
    return by_customer


@dataclass
class _Batch:
    adapters: _Adapters
    history: BatchHistory
    records: BatchRecords
    result: BatchResult
    sent: list[tuple[OutboundMessage, Rendered]] = field(default_factory=list)
    # the batch's threads by (brand, customer, channel, subject key); None: none yet
    threads: dict[tuple, Conversation | None] = field(default_factory=dict)

    def flush(self) -> None:
        if self.sent:
            write_back_sent(self.sent, threads=self.threads)
            self.sent = []


def dispatch_until_empty(*, max_batches: int = 1000, limit: int | None = None) -> BatchResult:
    total = BatchResult()
    for _i in range(max_batches):
        result = dispatch_batch(limit=limit)
        total.add(result)
        if result.claimed == 0:
            break
    return total


class _Adapters:
    """Adapters opened lazily, once per batch; an adapter that cannot open fails fast."""

    def __init__(self):
        self.open: dict[str, object] = {}
        self.broken: dict[str, TransientError] = {}

    def get(self, channel: str):
        if channel in self.broken:
            raise self.broken[channel]
        if channel not in self.open:
            cls = CHANNELS.get(channel)
            if cls is None:
                raise PermanentError(
                    _("Kanal %(channel)s ist nicht eingerichtet.") % {"channel": channel}
                )
            adapter = cls()
            try:
                adapter.open()
            except TransientError as exc:
                self.broken[channel] = exc
                raise
            self.open[channel] = adapter
        return self.open[channel]

    def reset(self, channel: str) -> None:
        adapter = self.open.pop(channel, None)
        if adapter is not None:
            adapter.close()

    def close(self) -> None:
        for adapter in self.open.values():
            adapter.close()
        self.open.clear()


# --- one message ----------------------------------------------------------------------


def handle(row: OutboundMessage, *, batch: _Batch) -> None:
    result = batch.result
    if row.source == OutboundSource.RULE:
        # the rules engine's last check: planned days ago, still wanted now?
        reason = still_wanted(row)
        if reason:
            result.reasons.append(reason)
            return _write(row, status=OutboundStatus.CANCELLED, last_error=reason[:2000])
    now = timezone.now()
    channel = row.channel
    recipient = row.recipient or recipient_for(row, channel)
    if not recipient:
        reason = _("Keine Adresse für %(channel)s.") % {"channel": channel}
        return _fail_or_fall_back(row, reason, result)

    decision = decide(
        customer=row.customer,
        address=recipient,
        channel=channel,
        category=row.category,
        template_key=row.template_key,
        at=now,
        history=batch.history,
        records=batch.records,
    )
    row.recipient = recipient
    row.decision, row.decision_reason, row.decided_at = decision.kind, decision.reason[:500], now
    if decision.kind == DEFER:
        result.deferred += 1
        return _write(
            row, status=OutboundStatus.QUEUED, next_attempt_at=decision.until, last_error=""
        )
    if decision.kind == REFUSE:
        return _fail_or_fall_back(row, decision.reason, result, status=OutboundStatus.REFUSED)

    try:
        rendered = render(row, channel)
    except RenderError as exc:
        return _fail_or_fall_back(row, str(exc), result)

    try:
        adapter = batch.adapters.get(channel)
        outcome = adapter.send(outgoing_for(row, rendered, channel))
    except TransientError as exc:
        batch.adapters.reset(channel)
        return _retry(row, exc, result)
    except PermanentError as exc:
        if exc.hard_bounce:
            suppress_address(
                channel=channel,
                value=recipient,
                reason=Suppression.Reason.HARD_BOUNCE,
                actor=DISPATCH_ACTOR,
                detail=str(exc),
            )
        return _fail_or_fall_back(row, str(exc), result)

    result.sent += 1
    row.provider_id = outcome.provider_id[:200]
    row.sent_at = timezone.now()
    row.attempts += 1
    row.subject, row.text, row.html = rendered.subject[:500], rendered.text, rendered.html
    row.status, row.last_error, row.lease_until = OutboundStatus.SENT, "", None
    # the gate's history counts it now: the next message of this batch sees it
    batch.history.add(row)
    batch.sent.append((row, rendered))


def recipient_for(
    row: OutboundMessage, channel: str, *, points: dict[int, list[ContactPoint]] | None = None
) -> str:
    """The fixed address when it fits the channel, else the customer's first usable one."""
    is_phone_channel = channel in PHONE_CHANNELS
    if row.to_address and ("@" not in row.to_address) == is_phone_channel:
        return row.to_address
    if row.customer is None:
        return ""
    if channel == "letter":
        customer = row.customer
        if not (customer.street and customer.city):
            return ""
        return f"{customer.street}, {customer.postal_code} {customer.city}".strip()
    if channel not in PHONE_CHANNELS and channel != "email":
        return ""
    if points is None:
        points = _contact_points({row.customer_id})
    kind = "phone" if is_phone_channel else "email"
    usable = [p for p in points.get(row.customer_id, []) if p.channel == kind]
    if is_phone_channel:
        usable.sort(key=lambda p: p.type != "mobile")  # stable: mobile first, then position
    return usable[0].value if usable else ""


def render(row: OutboundMessage, channel: str) -> Rendered:
    """Agent-written content as given; a template key through templates_app."""
    if row.text or row.html:
        text = row.text
        if row.source == "reply" and channel == "email" and text and row.brand.imprint.strip():
            # German business mail must carry the company details (§ 37a HGB, § 35a GmbHG);
            # templates have them in the layout's footer, agents' replies get them here,
            # below the standard signature separator "-- " (RFC 3676).
            text = f"{text.rstrip()}\n\n-- \n{row.brand.imprint.strip()}\n"
        return Rendered(row.subject, text, row.html)
    try:
        # imported here: templates_app is optional for the outbox and its import is heavy
        from templates_app.plain import NO_CUSTOMER, customer_data
        from templates_app.rendering import render_message

        rendered = render_message(
            key=row.template_key,
            channel=channel,
            # templates read plain data, never the model; nobody known: a neutral greeting
            customer=customer_data(row.customer) if row.customer else NO_CUSTOMER,
            brand=row.brand,
            language=row.language,
            context=row.context,
            variant_seed=row.idempotency_key,
        )
    except Exception as exc:  # any template problem stops this message, visibly
        raise RenderError(
            _("Vorlage %(key)s nicht darstellbar: %(error)s")
            % {"key": row.template_key, "error": f"{type(exc).__name__}: {exc}"}
        ) from exc
    row.template_version = str(getattr(rendered, "version", "") or "")[:40]
    row.variant = str(getattr(rendered, "variant", "") or "")[:40]
    text = rendered.sms_text if channel in ("sms", "whatsapp") else rendered.text
    return Rendered(rendered.subject or "", text or "", rendered.html or "")


def outgoing_for(row: OutboundMessage, rendered: Rendered, channel: str) -> Outgoing:
    brand = row.brand
    from_email = brand.sender_address(row.purpose)
    reply_to = row.reply_to
    if row.purpose == "noreply" and not reply_to:
        reply_to = brand.support_email
    out = Outgoing(
        outbound_id=row.pk,
        brand=brand,
        recipient=row.recipient,
        category=row.category,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        from_email=from_email,
        reply_to=reply_to,
        message_id=row.header_message_id,
        in_reply_to=row.in_reply_to,
        references=row.references,
        template_key=row.template_key,
        attachments=row.attachments,
    )
    if channel == "email" and needs_consent(row.category) and row.customer is not None:
        out.unsubscribe_url = unsubscribe_url(
            customer=row.customer, channel=channel, category=row.category, address=row.recipient
        )
        noreply = brand.sender_address("noreply")
        if noreply:
            out.unsubscribe_mailto = unsubscribe_mailto(
                mailbox=noreply, customer=row.customer, channel=channel,
                category=row.category, address=row.recipient,
            )  # fmt: skip
        out.preference_url = customer_preference_url(row.customer)
        # plain SMTP gets our own pixel and click redirect; only promotional mail with
        # consent (the gate checked it) is tracked, never an invoice
        out.track = settings.OUTBOX_TRACK_SMTP and settings.EMAIL_BACKEND.endswith(
            "smtp.EmailBackend"
        )
    return out


# --- write-back -----------------------------------------------------------------------


def _write(row, *, status: str, last_error: str, next_attempt_at=None, extra=()) -> None:
    row.status = status
    row.last_error = last_error
    row.lease_until = None
    fields = ["status", "last_error", "lease_until", "recipient", "decision", "decision_reason",
              "decided_at", "channel", "channel_index", *extra]  # fmt: skip
    if next_attempt_at is not None:
        row.next_attempt_at = next_attempt_at
        fields.append("next_attempt_at")
    # only while still ours: an admin "cancel" in the meantime wins
    OutboundMessage.objects.filter(pk=row.pk, status=OutboundStatus.SENDING).update(
        **{name: getattr(row, name) for name in fields}
    )


def _retry(row, exc: TransientError, result: BatchResult) -> None:
    row.attempts += 1
    if row.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        reason = _("Nach %(n)s Versuchen aufgegeben: %(error)s") % {"n": row.attempts, "error": exc}
        return _fail_or_fall_back(row, reason, result)
    result.retried += 1
    if exc.retry_after:
        delay = dt.timedelta(seconds=exc.retry_after)
    else:
        delay = retry_delay(row.attempts, jitter=random.random())
    _write(
        row,
        status=OutboundStatus.QUEUED,
        next_attempt_at=timezone.now() + delay,
        last_error=_("Vorübergehender Fehler, neuer Versuch geplant: %(error)s") % {"error": exc},
        extra=["attempts"],
    )


def _fail_or_fall_back(row, reason: str, result: BatchResult, *, status=OutboundStatus.FAILED):
    following = row.next_channel
    if following is not None:
        result.fallback += 1
        previous = row.channel
        row.channel_index += 1
        row.channel = following
        row.recipient = ""
        _write(
            row,
            status=OutboundStatus.QUEUED,
            next_attempt_at=timezone.now(),
            last_error=_("%(channel)s: %(reason)s – weiter mit %(next)s.")
            % {"channel": previous, "reason": reason, "next": following},
            extra=["attempts"],
        )
        return
    if status == OutboundStatus.REFUSED:
        result.refused += 1
    else:
        result.failed += 1
    result.reasons.append(reason)
    with transaction.atomic():
        _write(row, status=status, last_error=reason[:2000], extra=["attempts"])
        if row.message is not None:
            # an inbox reply: the composer shows that it did not go out, and why
            _add_status(row.message, Message.State.FAILED, reason, timezone.now())


def _add_status(message: Message, status: str, detail: str, at) -> None:
    message.status = status
    message.save(update_fields=["status"])
    StatusChange.objects.create(message=message, status=status, at=at, detail=detail[:500])


def write_back_sent(
    sent: list[tuple[OutboundMessage, Rendered]], *, threads: dict | None = None
) -> None:
    """Mark a group of sent rows and put them in their threads, in one short transaction.

    Inbox replies update their own thread entry; automated messages join the
    customer's conversation with the same subject or start a new one, which
    starts closed: a routine message is no task for the inbox until the customer
    answers (ingestion reopens it then, threading on our Message-ID).
    """
    threads = {} if threads is None else threads
    with transaction.atomic():
        timeline: list[StatusChange] = []
        automated, replies = [], []
        for row, rendered in sent:
            if row.message is None:
                automated.append((row, rendered))
                continue
            message = row.message
            message.message_id = row.header_message_id
            message.provider_id = row.provider_id
            message.sent_at = row.sent_at
            message.status = Message.State.SENT
            replies.append(message)
            timeline.append(
                StatusChange(message=message, status=Message.State.SENT, at=row.sent_at)
            )
        if replies:
            Message.objects.bulk_update(replies, ["message_id", "provider_id", "sent_at", "status"])
        if automated:
            timeline += _thread_automated(automated, threads)
        StatusChange.objects.bulk_create(timeline)
        _mark_sent([row for row, _rendered in sent])


_SENT_COLUMNS = [
    "recipient", "decision", "decision_reason", "decided_at", "channel", "channel_index",
    "provider_id", "sent_at", "attempts", "template_version", "variant", "subject", "text",
    "html", "message_id", "conversation_id",
]  # fmt: skip


def _mark_sent(rows: list[OutboundMessage]) -> None:
    """Status "sent" with what went out, one parameterised UPDATE per row in one
    executemany (psycopg pipelines it into one round trip)."""
    table = connection.ops.quote_name(OutboundMessage._meta.db_table)
    assignments = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in _SENT_COLUMNS)
    adapt = connection.ops.adapt_datetimefield_value  # as the ORM stores it (SQLite: UTC text)
    params = [
        [
            row.recipient, row.decision, row.decision_reason, adapt(row.decided_at), row.channel,
            row.channel_index, row.provider_id, adapt(row.sent_at), row.attempts,
            row.template_version, row.variant, row.subject, row.text, row.html,
            row.message and row.message.pk, row.conversation and row.conversation.pk,
            OutboundStatus.SENT, row.pk,
        ]
        for row in rows
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {assignments}, status = %s, last_error = '', lease_until = NULL "
            "WHERE id = %s",
            params,
        )


def _subject_key(row: OutboundMessage, rendered: Rendered) -> str:
    return (normalize_subject(rendered.subject) if rendered.subject else row.template_key)[:200]


def _thread_automated(
    sent: list[tuple[OutboundMessage, Rendered]], found: dict[tuple, Conversation | None]
) -> list[StatusChange]:
    """Thread entries for automated messages; `found` caches the batch's thread look-ups."""
    keys = {
        (row.brand_id, row.customer_id, row.channel, _subject_key(row, rendered))
        for row, rendered in sent
        if row.conversation_id is None and row.customer_id is not None
    } - found.keys()
    if keys:
        found.update(dict.fromkeys(keys))
        candidates = Conversation.objects.filter(
            brand_id__in={k[0] for k in keys},
            customer_id__in={k[1] for k in keys},
            subject_key__in={k[3] for k in keys},
        ).order_by("last_message_at", "id")
        for conv in candidates:  # the newest wins
            key = (conv.brand_id, conv.customer_id, conv.channel, conv.subject_key)
            if key in keys:
                found[key] = conv
    new: list[Conversation] = []
    for row, rendered in sent:
        if row.conversation_id is not None:
            continue
        key = (row.brand_id, row.customer_id, row.channel, _subject_key(row, rendered))
        conv = found.get(key) if row.customer_id is not None else None
        if conv is None:
            conv = Conversation(
                brand=row.brand,
                customer=row.customer,
                subject=rendered.subject[:500],
                subject_key=key[3],
                counterpart=row.recipient,
                counterpart_name=str(row.customer or "")[:200],
                channel=row.channel if row.channel in Channel.values else Channel.EMAIL,
                classification=Classification.CUSTOMER if row.customer else "",
                status=Status.CLOSED,
                unread=False,
                message_count=0,
                snippet=(rendered.text or rendered.subject)[:200],
                last_message_at=row.sent_at,
            )
            new.append(conv)
            if row.customer_id is not None:
                found[key] = conv
        if conv.pk is None:
            conv.message_count += 1
            conv.last_message_at = max(conv.last_message_at, row.sent_at)
        row.conversation = conv
    Conversation.objects.bulk_create(new)

    messages = [
        Message(
            conversation=row.conversation,
            channel=row.channel if row.channel in Channel.values else Channel.EMAIL,
            direction=Direction.OUTBOUND,
            sender_name=row.brand.name,
            sender_address=row.brand.sender_address(row.purpose),
            to=[row.recipient],
            reply_to=row.reply_to,
            subject=rendered.subject[:500],
            text=rendered.text,
            html=sanitize_html(rendered.html)[0] if rendered.html else "",
            message_id=row.header_message_id,
            in_reply_to=row.in_reply_to,
            references=row.references,
            provider_id=row.provider_id,
            status=Message.State.SENT,
            sent_at=row.sent_at,
            created_at=row.created_at,
        )
        for row, rendered in sent
    ]
    Message.objects.bulk_create(messages)
    timeline = []
    # new threads got their count when created; only existing ones need an UPDATE
    created = {conv.pk for conv in new}
    existing_threads: dict[int, list] = {}
    for (row, _rendered), message in zip(sent, messages, strict=True):
        row.message = message
        timeline.append(
            StatusChange(message=message, status=Message.State.QUEUED, at=row.created_at)
        )
        timeline.append(StatusChange(message=message, status=Message.State.SENT, at=row.sent_at))
        if row.conversation.pk not in created:
            existing_threads.setdefault(row.conversation.pk, []).append(row.sent_at)
    for pk, times in existing_threads.items():
        Conversation.objects.filter(pk=pk).update(
            message_count=F("message_count") + len(times), last_message_at=max(times)
        )
    return timeline
