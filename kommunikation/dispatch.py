"""The dispatch worker: claim due outbox rows, check, render, send, write back, thread.

Workers claim, then work (STYLE.md 6): a short transaction claims a batch with
SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL; on SQLite the IMMEDIATE
transaction serialises claims, one worker) and marks the rows "sending" with a
lease and a claim token of its own. Sending happens outside any transaction. A
message the provider accepted is written back with the next few
(OUTBOX_WRITE_BACK_EVERY) in one short transaction: status "sent", its thread
entry and status timeline together. Failures, deferrals and retries are written
at once. A worker killed at any point leaves its rows "sending" until the lease
ends, then another worker claims them again: nothing is lost. The price is the
window before the write-back: a worker killed after the provider accepted up to
OUTBOX_WRITE_BACK_EVERY messages but before their group was committed sends those
again — with the same Message-IDs, so receivers and our own ingestion see one
message each.

A worker writes back only what it still holds. A worker that stalls past its
lease (a long GC pause, a hung connection, a suspended VM) may find its rows
claimed again by another worker with a new token. Every write-back therefore
matches on primary key, status "sending" and the claim token, and checks the row
count: a write-back that lost its row changes nothing, in the outbox or in the
thread, and is counted as `lost`; the worker holding the current token wins,
whichever of the two finishes first. Attempts and counters are incremented in the
database (F expressions, `attempts = attempts + 1`), never written from memory.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import uuid
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
from conversations.models import Message
from conversations.outbound import Outbound, OutboundThreads, record_sent, record_status
from kommunikation.automation.engine import still_wanted
from kommunikation.channels import CHANNELS
from kommunikation.channels.base import Outgoing, PermanentError, TransientError
from kommunikation.fallback import fallback_due, note_send_failure
from kommunikation.models import (
    ContactPoint,
    OutboundMessage,
    OutboundSource,
    OutboundStatus,
    ProviderBudget,
)
from kommunikation.outbox import BatchHistory, retry_delay
from kommunikation.tracking import invite_link

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
    # write-backs that found the row claimed again by another worker (our lease ran out)
    lost: int = 0
    reasons: list[str] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        for name in (
            "claimed", "sent", "deferred", "refused", "failed", "retried", "fallback", "lost"
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Rendered:
    subject: str
    text: str
    html: str
    links: FooterLinks | None = None
    pdf: bytes = b""  # a letter's PDF (DIN 5008, templates_app.letters)
    # WhatsApp: the approved template (name, language, parameters) to send instead of text
    template: tuple[str, str, list[str]] | None = None


class RenderError(Exception):
    pass


# --- claiming -------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One claim of a batch: its rows and the token every write-back must match."""

    token: uuid.UUID
    worker: str
    ids: list[int]


def claim_batch(*, limit: int, now: dt.datetime, worker: str = WORKER) -> Claim:
    """Mark up to `limit` due rows as ours for the lease time, under a new claim token."""
    token = uuid.uuid4()
    with transaction.atomic():
        # urgent before low among what is due, then oldest first
        due = OutboundMessage.objects.due(now).order_by("priority", "next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        rows = list(due.values_list("id", "channel")[:limit])
        if not rows:
            return Claim(token=token, worker=worker, ids=[])
        ids = _within_budgets(rows, now)
        # the rows are locked (PostgreSQL) or the transaction holds the write lock
        # (SQLite, IMMEDIATE): nobody else claims them between the SELECT and this UPDATE
        OutboundMessage.objects.filter(id__in=ids).update(
            status=OutboundStatus.SENDING,
            lease_until=now + dt.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
            claimed_by=worker[:100],
            claimed_at=now,
            claim_token=token,
        )
    return Claim(token=token, worker=worker, ids=ids)


def claimed_rows(claim: Claim) -> list[OutboundMessage]:
    """The rows this claim still holds, with what handling them needs.

    Matched on the token, not the ids alone: a row claimed again by another worker
    since (our lease ran out before we got here) is theirs, not ours to send.
    """
    return list(
        OutboundMessage.objects.filter(
            id__in=claim.ids, status=OutboundStatus.SENDING, claim_token=claim.token
        )
        .select_related("brand", "customer", "conversation", "message")
        .order_by("priority", "next_attempt_at", "id")
    )


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
        # the row is locked until the claim commits, so `used` read here is current; the
        # write adds to the database's value all the same (no read-modify-write)
        budgets = ProviderBudget.objects.filter(provider=channel)
        if now - budget.window_start >= dt.timedelta(minutes=1):
            budget.window_start, budget.used = now, 0
            granted = min(len(ids), limit)
            budgets.update(window_start=now, used=granted)
        else:
            granted = max(0, min(len(ids), limit - budget.used))
            if granted:
                budgets.update(used=F("used") + granted)
        allowed += ids[:granted]
        if ids[granted:]:
            # waiting rows wait for the next window; a row still "sending" under an expired
            # lease keeps its claim untouched: its worker may yet write it back
            OutboundMessage.objects.filter(
                id__in=ids[granted:], status=OutboundStatus.QUEUED
            ).update(next_attempt_at=budget.window_start + dt.timedelta(minutes=1))
    return allowed


# --- the loop -------------------------------------------------------------------------


def dispatch_batch(
    *, limit: int | None = None, now: dt.datetime | None = None, worker: str = WORKER
) -> BatchResult:
    """Claim one batch and handle every row of it; one channel connection per batch.

    The reads the gate needs (consents, preferences, suppressions, what was sent
    before) are loaded once for the batch. Accepted messages are written back in
    groups of OUTBOX_WRITE_BACK_EVERY (the most a killed worker sends twice).
    """
    result = BatchResult()
    claim = claim_batch(
        limit=limit or settings.OUTBOX_BATCH_SIZE, now=now or timezone.now(), worker=worker
    )
    result.claimed = len(claim.ids)
    if not claim.ids:
        return result
    rows = claimed_rows(claim)
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
    # the batch's threads, looked up once for all its write-back groups
    threads: OutboundThreads = field(default_factory=OutboundThreads)

    def flush(self) -> None:
        if not self.sent:
            return
        group, self.sent = self.sent, []
        try:
            lost = write_back_sent(group, threads=self.threads)
        except WriteBackConflict:
            # rolled back: the group's rows stay "sending" under our token until the
            # lease ends, as if this worker had been killed; the cached threads may name
            # conversations that were rolled back with it
            log.exception("write-back of %s sent messages rolled back", len(group))
            self.threads.clear()
            self.result.lost += len(group)
            return
        self.result.sent += len(group) - len(lost)
        self.result.lost += len(lost)


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
            _write(row, result, status=OutboundStatus.CANCELLED, last_error=reason[:2000])
            return
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
        staff_answer=row.source == OutboundSource.REPLY,  # quiet hours hold automated ones
    )
    row.recipient = recipient
    row.decision, row.decision_reason, row.decided_at = decision.kind, decision.reason[:500], now
    if decision.kind == DEFER:
        if _write(
            row, result, status=OutboundStatus.QUEUED, next_attempt_at=decision.until, last_error=""
        ):
            result.deferred += 1
        return
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

    # counted in `result.sent` when written back (it may be lost to another worker)
    row.provider_id = outcome.provider_id[:200]
    row.sent_at = timezone.now()
    row.attempts += 1  # in memory for what follows; the database counts it itself
    row.subject, row.text, row.html = rendered.subject[:500], rendered.text, rendered.html
    row.status, row.last_error, row.lease_until = OutboundStatus.SENT, "", None
    # not delivered by then: the next channel (issue 11 §7, kommunikation/fallback.py)
    row.fallback_due_at = fallback_due(row, row.sent_at)
    # the gate's history counts it now: the next message of this batch sees it
    batch.history.add(row)
    batch.sent.append((row, rendered))


def recipient_for(
    row: OutboundMessage, channel: str, *, points: dict[int, list[ContactPoint]] | None = None
) -> str:
    """The row's address for this channel (a rule's choice, also for a fallback), else the
    fixed address when it fits the channel, else the customer's first usable one."""
    if row.addresses.get(channel):
        return row.addresses[channel]
    if channel == "push":
        return _device_token(row, points)
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


def _device_token(row: OutboundMessage, points: dict[int, list[ContactPoint]] | None) -> str:
    """Push: the customer's device seen most recently (retired tokens are bouncing)."""
    if row.customer_id is None:
        return ""
    if points is None:
        points = _contact_points({row.customer_id})
    devices = [p for p in points.get(row.customer_id, []) if p.channel == "push"]
    devices.sort(key=lambda p: (p.last_seen_at or p.created_at, p.pk), reverse=True)
    return devices[0].value if devices else ""


@dataclass(frozen=True)
class FooterLinks:
    """What a promotional email offers its reader: the footer's links (the layout shows
    them) and the RFC 8058 List-Unsubscribe targets (the email channel's headers)."""

    unsubscribe_url: str = ""
    unsubscribe_mailto: str = ""
    preference_url: str = ""


def footer_links(row: OutboundMessage, channel: str) -> FooterLinks:
    """Unsubscribe and preference links for an email that needs consent, else none."""
    if channel != "email" or not needs_consent(row.category) or row.customer is None:
        return FooterLinks()
    noreply = row.brand.sender_address("noreply")
    return FooterLinks(
        unsubscribe_url=unsubscribe_url(
            customer=row.customer, channel=channel, category=row.category, address=row.recipient
        ),
        unsubscribe_mailto=unsubscribe_mailto(
            mailbox=noreply, customer=row.customer, channel=channel,
            category=row.category, address=row.recipient,
        ) if noreply else "",
        preference_url=customer_preference_url(row.customer),
    )  # fmt: skip


def render(row: OutboundMessage, channel: str) -> Rendered:
    """A template key through templates_app; content written by staff or the system as
    given, an email of it inside the brand's layout (its footer with the company details
    German business mail must carry, § 37a HGB, § 35a GmbHG, and the links)."""
    # imported here: templates_app is optional for the outbox and its import is heavy
    from templates_app.plain import NO_CUSTOMER, brand_data, customer_data
    from templates_app.rendering import email_layout, render_message, text_to_html

    links = footer_links(row, channel)
    if row.text or row.html:
        if channel == "letter":
            pdf = _letter_from_text(row, row.text)
            return Rendered(row.subject, row.text, row.html, links, pdf=pdf)
        if channel != "email" or row.source == OutboundSource.TEST:
            # a template test send is a rendered email already, layout and all
            return Rendered(row.subject, row.text, row.html, links)
        text, html = email_layout(
            body_html=row.html or text_to_html(row.text),
            body_text=row.text,
            subject=row.subject,
            brand=brand_data(row.brand),
            language=row.language or row.brand.default_language,
            unsubscribe_url=links.unsubscribe_url,
            preference_url=links.preference_url,
        )
        return Rendered(row.subject, text, html, links)
    try:
        rendered = render_message(
            key=row.template_key,
            channel=channel,
            # templates read plain data, never the model; nobody known: a neutral greeting
            customer=customer_data(row.customer) if row.customer else NO_CUSTOMER,
            brand=row.brand,
            language=row.language,
            context=row.context,
            variant_seed=row.idempotency_key,
            links={
                "unsubscribe": links.unsubscribe_url,
                "preferences": links.preference_url,
                # the messenger invite (seed 003), tracked: {{ whatsapp_link }}
                "whatsapp": invite_link(row),
            },
        )
    except Exception as exc:  # any template problem stops this message, visibly
        raise RenderError(
            _("Vorlage %(key)s nicht darstellbar: %(error)s")
            % {"key": row.template_key, "error": f"{type(exc).__name__}: {exc}"}
        ) from exc
    row.template_version = str(getattr(rendered, "version", "") or "")[:40]
    row.variant = str(getattr(rendered, "variant", "") or "")[:40]
    if channel == "whatsapp":
        # the approved template goes to Meta; its text (rendered as Meta will) to the thread
        return Rendered("", rendered.text or "", "", links, template=rendered.whatsapp)
    text = rendered.sms_text if channel == "sms" else rendered.text
    return Rendered(
        rendered.subject or "",
        text or "",
        rendered.html or "",
        links,
        pdf=getattr(rendered, "letter_pdf", b"") or b"",
    )


def _letter_from_text(row: OutboundMessage, text: str) -> bytes:
    """A letter written by staff (no template): their text in the brand's DIN 5008 layout."""
    from templates_app.letters import letter_for_text

    try:
        return letter_for_text(
            brand=row.brand, customer=row.customer, subject=row.subject, text=text
        )
    except Exception as exc:  # as a template problem: this message stops, visibly
        raise RenderError(
            _("Brief nicht darstellbar: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"}
        ) from exc


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
        cc=row.cc,
        bcc=row.bcc,
        auto_submitted=row.auto_submitted,
        document=rendered.pdf,
        template=rendered.template,
    )
    links = rendered.links or FooterLinks()
    if links.unsubscribe_url:
        # the channel's RFC 8058 headers; the visible links are in the layout's footer
        out.unsubscribe_url = links.unsubscribe_url
        out.unsubscribe_mailto = links.unsubscribe_mailto
        # plain SMTP gets our own pixel and click redirect; only promotional mail with
        # consent (the gate checked it) is tracked, never an invoice
        out.track = settings.OUTBOX_TRACK_SMTP and settings.EMAIL_BACKEND.endswith(
            "smtp.EmailBackend"
        )
    return out


# --- write-back -----------------------------------------------------------------------


def _still_ours(row: OutboundMessage):
    """The rows a write-back may change: this row, while it is "sending" under our claim."""
    return OutboundMessage.objects.filter(
        pk=row.pk, status=OutboundStatus.SENDING, claim_token=row.claim_token
    )


def _lost(rows: list[OutboundMessage]) -> None:
    for row in rows:
        log.warning(
            "outbox #%s: claimed again by another worker while we held it (lease over); "
            "its result stands, ours is dropped",
            row.pk,
        )


def _write(
    row: OutboundMessage,
    result: BatchResult,
    *,
    status: str,
    last_error: str,
    next_attempt_at=None,
    attempted: bool = False,
) -> bool:
    """Write the outcome of one unsent row, if we still hold its claim; returns whether we did.

    `attempted`: the provider was tried (a transient failure), one more attempt
    counted by the database. A lost row is logged and counted in `result.lost`.
    """
    row.status = status
    row.last_error = last_error
    row.lease_until = None
    fields = ["status", "last_error", "lease_until", "recipient", "decision", "decision_reason",
              "decided_at", "channel", "channel_index"]  # fmt: skip
    if next_attempt_at is not None:
        row.next_attempt_at = next_attempt_at
        fields.append("next_attempt_at")
    changes = {name: getattr(row, name) for name in fields}
    if attempted:
        changes["attempts"] = F("attempts") + 1
    if _still_ours(row).update(**changes):
        return True
    result.lost += 1
    _lost([row])
    return False


def _retry(row, exc: TransientError, result: BatchResult) -> None:
    row.attempts += 1  # in memory for the decision and the backoff; the database counts itself
    if row.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        reason = _("Nach %(n)s Versuchen aufgegeben: %(error)s") % {"n": row.attempts, "error": exc}
        return _fail_or_fall_back(row, reason, result, attempted=True)
    if exc.retry_after:
        delay = dt.timedelta(seconds=exc.retry_after)
    else:
        delay = retry_delay(row.attempts, jitter=random.random())
    if _write(
        row,
        result,
        status=OutboundStatus.QUEUED,
        next_attempt_at=timezone.now() + delay,
        last_error=_("Vorübergehender Fehler, neuer Versuch geplant: %(error)s") % {"error": exc},
        attempted=True,
    ):
        result.retried += 1


def _fail_or_fall_back(
    row, reason: str, result: BatchResult, *, status=OutboundStatus.FAILED, attempted=False
):
    following = row.next_channel
    if following is not None:
        previous = row.channel
        row.channel_index += 1
        row.channel = following
        row.recipient = ""
        if _write(
            row,
            result,
            status=OutboundStatus.QUEUED,
            next_attempt_at=timezone.now(),
            last_error=_("%(channel)s: %(reason)s – weiter mit %(next)s.")
            % {"channel": previous, "reason": reason, "next": following},
            attempted=attempted,
        ):
            result.fallback += 1
            note_send_failure(row, previous, reason, following)  # a chain after a send: shown
        return
    with transaction.atomic():
        if not _write(row, result, status=status, last_error=reason[:2000], attempted=attempted):
            return  # the other worker's outcome stands, in the outbox and in the thread
        note_send_failure(row, row.channel, reason, None)
        if row.message is not None:
            # an inbox reply: the composer shows that it did not go out, and why
            record_status(row.message, Message.State.FAILED, timezone.now(), detail=reason)
    if status == OutboundStatus.REFUSED:
        result.refused += 1
    else:
        result.failed += 1
    result.reasons.append(reason)


class WriteBackConflict(Exception):
    """A group's write-back changed fewer rows than it held: rolled back, nothing written."""


def write_back_sent(
    sent: list[tuple[OutboundMessage, Rendered]], *, threads: OutboundThreads | None = None
) -> list[OutboundMessage]:
    """Mark a group of sent rows and put them in their threads, in one short transaction.

    Only the rows this worker still holds; returns the others, lost to a worker
    that claimed them again after our lease ran out: they get no thread entry and
    no status from us. The thread entries are the inbox's to write
    (``conversations.outbound.record_sent``, with its one threading rule for
    outbound messages).

    Optimistic first, as losing a row is rare: thread and mark the whole group,
    each UPDATE matched on the claim token, and compare the row count. Short of a
    row, the transaction is rolled back (thread entries included) and the group
    written again, this time locking the rows still ours first.
    """
    threads = OutboundThreads() if threads is None else threads
    before = [(row.conversation, row.message) for row, _rendered in sent]
    try:
        with transaction.atomic():
            _thread_and_mark(sent, threads)
        return []
    except WriteBackConflict:
        # the rolled-back transaction's conversations and messages must not be reused
        threads.clear()
        for (row, _rendered), (conversation, message) in zip(sent, before, strict=True):
            row.conversation, row.message = conversation, message
    with transaction.atomic():
        # locked until the commit: a worker claiming them now skips them (SKIP LOCKED)
        # and later finds them sent
        held = set(
            OutboundMessage.objects.select_for_update()
            .filter(
                pk__in=[row.pk for row, _rendered in sent],
                status=OutboundStatus.SENDING,
                claim_token__in={row.claim_token for row, _rendered in sent},
            )
            .order_by("pk")
            .values_list("pk", "claim_token")
        )
        lost = [row for row, _rendered in sent if (row.pk, row.claim_token) not in held]
        ours = [(row, rendered) for row, rendered in sent if (row.pk, row.claim_token) in held]
        if ours:
            _thread_and_mark(ours, threads)
    _lost(lost)
    return lost


def _thread_and_mark(
    sent: list[tuple[OutboundMessage, Rendered]], threads: OutboundThreads
) -> None:
    _thread_sent(sent, threads)
    _thread_letters([(row, rendered) for row, rendered in sent if row.channel == "letter"])
    _thread_calls([row for row, _rendered in sent if row.channel == "call"])
    written = _mark_sent([row for row, _rendered in sent])
    if written != len(sent):
        raise WriteBackConflict(f"{written} of {len(sent)} rows written back")


def _thread_sent(sent: list[tuple[OutboundMessage, Rendered]], threads: OutboundThreads) -> None:
    """The group's thread entries, through the inbox's one writer of outbound messages."""
    items = [
        Outbound(
            brand=row.brand,
            customer=row.customer,
            channel=row.channel,
            recipient=row.recipient,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            conversation=row.conversation,
            message=row.message,
            topic=row.template_key,
            sender_name=row.brand.name,
            sender_address=row.brand.sender_address(row.purpose),
            reply_to=row.reply_to,
            message_id=row.header_message_id,
            in_reply_to=row.in_reply_to,
            references=row.references,
            provider_id=row.provider_id,
            # a fallback attempt stands in its thread where it went out: after the steps of
            # the chain before it (kommunikation/fallback.py's notes)
            queued_at=row.created_at if row.fallback_of_id is None else row.sent_at,
            sent_at=row.sent_at,
        )
        for row, rendered in sent
    ]
    for (row, _rendered), item, message in zip(
        sent, items, record_sent(items, threads=threads), strict=True
    ):
        row.message, row.conversation = message, item.conversation or message.conversation


def _thread_letters(sent: list[tuple[OutboundMessage, Rendered]]) -> None:
    """Letters' thread entries get their PDF; one held for the print batch stays queued."""
    if sent:
        from kommunikation.letters.services import thread_letters

        thread_letters(
            [row for row, _rendered in sent],
            documents={row.pk: rendered.pdf for row, rendered in sent if rendered.pdf},
        )


def _thread_calls(rows: list[OutboundMessage]) -> None:
    """Calls' thread entries wait ("queued") until staff made the call (issue 11 §4)."""
    if rows:
        from kommunikation.calls.services import thread_calls

        thread_calls(rows)


_SENT_COLUMNS = [
    "recipient", "decision", "decision_reason", "decided_at", "channel", "channel_index",
    "provider_id", "sent_at", "template_version", "variant", "subject", "text", "html",
    "message_id", "conversation_id", "fallback_due_at",
]  # fmt: skip


def _mark_sent(rows: list[OutboundMessage]) -> int:
    """Status "sent" with what went out, one parameterised UPDATE per row in one
    executemany (psycopg pipelines it into one round trip); returns the rows changed.

    Each UPDATE matches on the claim token as well as the primary key, and counts
    the attempt in the database (`attempts = attempts + 1`).
    """
    quote = connection.ops.quote_name
    table = quote(OutboundMessage._meta.db_table)
    assignments = ", ".join(f"{quote(c)} = %s" for c in _SENT_COLUMNS)
    adapt = connection.ops.adapt_datetimefield_value  # as the ORM stores it (SQLite: UTC text)
    token_field = OutboundMessage._meta.get_field("claim_token")
    params = [
        [
            row.recipient, row.decision, row.decision_reason, adapt(row.decided_at), row.channel,
            row.channel_index, row.provider_id, adapt(row.sent_at),
            row.template_version, row.variant, row.subject, row.text, row.html,
            row.message and row.message.pk, row.conversation and row.conversation.pk,
            adapt(row.fallback_due_at), OutboundStatus.SENT, row.pk, OutboundStatus.SENDING,
            token_field.get_db_prep_value(row.claim_token, connection),
        ]
        for row in rows
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {assignments}, status = %s, last_error = '', lease_until = NULL, "
            f"{quote('attempts')} = {quote('attempts')} + 1 "
            f"WHERE id = %s AND status = %s AND {quote('claim_token')} = %s",
            params,
        )
        # the sum over the statements (sqlite3 and psycopg alike)
        return cursor.rowcount
