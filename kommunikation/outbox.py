"""Putting messages into the outbox, and what the outbox knows about past sends."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from email.utils import make_msgid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.models import CONSENT_CATEGORIES
from compliance.services import Actor, audit, audit_many, request_double_opt_in
from kommunikation.bulk import build, insert_new, update_each
from kommunikation.contact import email_domain
from kommunikation.models import (
    BusinessEntity,
    Category,
    Customer,
    OutboundMessage,
    OutboundSource,
    OutboundStatus,
)


def brand_mail_domain(brand: BusinessEntity) -> str:
    """The domain our Message-IDs live on: the brand's first own domain, else its address's."""
    if brand.domains:
        return brand.domains[0]
    return email_domain(brand.sender_address("support")) or "localhost"


_CATEGORIES = frozenset(Category.values)


def new_outbound(
    *,
    brand: BusinessEntity,
    channels: str | Sequence[str],
    category: str,
    idempotency_key: str,
    source: str,
    customer: Customer | None = None,
    template_key: str = "",
    subject: str = "",
    text: str = "",
    html: str = "",
    context: dict | None = None,
    language: str = "",
    to_address: str = "",
    addresses: Mapping[str, str] | None = None,
    purpose: str = "support",
    reply_to: str = "",
    in_reply_to: str = "",
    references: str = "",
    message_id: str = "",
    attachments: list[dict] | None = None,
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    not_before: dt.datetime | None = None,
    source_ref: str = "",
    conversation=None,
    message=None,
    created_by=None,
    priority: int = 2,
    auto_submitted: str = "",
    fallback_after: dt.timedelta | None = None,
    created_at: dt.datetime | None = None,
) -> OutboundMessage:
    """The checked, unsaved row ``enqueue_outbound`` stores (arguments as there); many of
    them go into the outbox at once through ``enqueue_outbound_many``."""
    channel_list = [channels] if isinstance(channels, str) else list(channels)
    if not channel_list:
        raise ValueError("at least one channel")
    if category not in _CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    if not template_key and not (text or html):
        raise ValueError("a template key or content")
    when = not_before or timezone.now()
    return build(
        OutboundMessage,
        brand=brand,
        customer=customer,
        conversation=conversation or (message.conversation if message is not None else None),
        message=message,
        channels=channel_list,
        channel=channel_list[0],
        to_address=to_address,
        addresses={c: a for c, a in (addresses or {}).items() if c in channel_list and a},
        category=category,
        template_key=template_key,
        language=language or (customer.language if customer else brand.default_language),
        subject=subject,
        text=text,
        html=html,
        context=context or {},
        attachments=attachments or [],
        cc=list(cc),
        bcc=list(bcc),
        purpose=purpose,
        reply_to=reply_to,
        header_message_id=message_id or make_msgid(domain=brand_mail_domain(brand)),
        in_reply_to=in_reply_to,
        references=references,
        idempotency_key=idempotency_key,
        source=source,
        source_ref=source_ref,
        not_before=when,
        next_attempt_at=when,
        created_by=created_by,
        priority=priority,
        auto_submitted=auto_submitted,
        fallback_after=fallback_after if len(channel_list) > 1 else None,
        created_at=created_at or timezone.now(),
    )


def enqueue_outbound(
    *,
    brand: BusinessEntity,
    channels: str | Sequence[str],
    category: str,
    idempotency_key: str,
    source: str,
    customer: Customer | None = None,
    template_key: str = "",
    subject: str = "",
    text: str = "",
    html: str = "",
    context: dict | None = None,
    language: str = "",
    to_address: str = "",
    addresses: Mapping[str, str] | None = None,
    purpose: str = "support",
    reply_to: str = "",
    in_reply_to: str = "",
    references: str = "",
    message_id: str = "",
    attachments: list[dict] | None = None,
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    not_before: dt.datetime | None = None,
    source_ref: str = "",
    conversation=None,
    message=None,
    created_by=None,
    trigger: bool = True,
    priority: int = 2,
    auto_submitted: str = "",
    fallback_after: dt.timedelta | None = None,
) -> OutboundMessage:
    """Queue one message; the same idempotency key twice returns the first row.

    Either `template_key` (+ `context`, plain data) or agent-written content
    (`subject`/`text`/`html`). `channels` is one channel or an ordered list whose
    later entries are fallbacks. `message` is an existing thread entry (an inbox
    reply) that the dispatch worker updates instead of creating one. With
    `trigger`, an immediate message starts a dispatch task after the commit.
    `message_id` keeps a Message-ID the thread entry already carries (so a reply to a
    message still in the queue threads too); otherwise one is made on the brand's domain.
    `priority` orders the dispatch claim among due rows: 0 urgent, 1 high, 2 normal, 3 low.
    `addresses` fixes the recipient per channel (the rules engine's choice for each of
    the channels, so a fallback goes where the rule said); `to_address` is the older
    form for the first channel alone.
    `auto_submitted` is the RFC 3834 Auto-Submitted value the message carries
    ("auto-replied" for the inbound rules' auto-replies).
    `fallback_after`: not delivered within this wait, the next channel is tried
    (kommunikation/fallback.py; only with a next channel).
    """
    row = new_outbound(
        brand=brand, channels=channels, category=category, idempotency_key=idempotency_key,
        source=source, customer=customer, template_key=template_key, subject=subject, text=text,
        html=html, context=context, language=language, to_address=to_address,
        addresses=addresses, purpose=purpose,
        reply_to=reply_to, in_reply_to=in_reply_to, references=references, message_id=message_id,
        attachments=attachments, cc=cc, bcc=bcc, not_before=not_before, source_ref=source_ref,
        conversation=conversation, message=message, created_by=created_by, priority=priority,
        auto_submitted=auto_submitted, fallback_after=fallback_after,
    )  # fmt: skip
    now = timezone.now()
    when = row.not_before
    try:
        # the unique constraint decides, not a check-then-insert: two callers racing
        # with the same key get one row
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return OutboundMessage.objects.get(idempotency_key=idempotency_key)
    if trigger and when <= now:
        transaction.on_commit(trigger_dispatch)
    return row


def enqueue_outbound_many(
    rows: Sequence[OutboundMessage],
) -> dict[str, tuple[OutboundMessage, bool]]:
    """Queue many rows made by ``new_outbound`` in a few queries; per idempotency key
    (row, created): the stored row when the key was queued before, as ``enqueue_outbound``
    returns it. Starts no dispatch; the caller triggers one for the whole batch.

    The unique key decides, with no look-up first (almost every key is new): the rows
    are inserted with ON CONFLICT DO NOTHING (``insert_new``), and only the keys stored
    before, by an earlier call or by another writer meanwhile, are read back, as the
    stored rows (their Message-IDs are not ours), never as second rows.
    """
    wanted: dict[str, OutboundMessage] = {}
    for row in rows:
        wanted.setdefault(row.idempotency_key, row)
    if not wanted:
        return {}
    result: dict[str, tuple[OutboundMessage, bool]] = {}
    stored = insert_new(
        OutboundMessage, list(wanted.values()), key="idempotency_key", mark="header_message_id"
    )
    taken = []
    db = OutboundMessage.objects.db
    for key, row in wanted.items():
        pk = stored.get(key)
        if pk is not None:
            row.pk, row._state.adding, row._state.db = pk, False, db
            result[key] = (row, True)
        else:
            taken.append(key)
    if taken:
        for row in OutboundMessage.objects.filter(idempotency_key__in=taken):
            result[row.idempotency_key] = (row, False)
    return result


def trigger_dispatch() -> None:
    """Run a dispatch batch now (django-q2 task) instead of waiting for the minute schedule."""
    from django_q.tasks import async_task

    async_task("kommunikation.tasks.dispatch_outbox", q_options={"task_name": "dispatch_outbox"})


def send_double_opt_in(
    *,
    customer: Customer,
    purpose: str,
    address: str,
    wording: str,
    wording_version: str,
    ip_address: str | None,
) -> OutboundMessage:
    """Record a pending consent and mail the confirmation link through the outbox."""
    consent, url = request_double_opt_in(
        customer=customer,
        purpose=purpose,
        address=address,
        wording=wording,
        wording_version=wording_version,
        ip_address=ip_address,
    )
    text = _(
        "Guten Tag,\n\nbitte bestätigen Sie Ihre Anmeldung mit einem Klick auf diesen Link:\n"
        "%(url)s\n\nSie haben zugestimmt: „%(wording)s“\n\n"
        "Wenn Sie das nicht waren, ignorieren Sie diese E-Mail einfach.\n"
    ) % {"url": url, "wording": wording}
    return enqueue_outbound(
        brand=customer.brand,
        customer=customer,
        channels="email",
        # the confirmation itself is part of the consent process, not promotion
        category=Category.TRANSACTIONAL,
        idempotency_key=f"double-opt-in:{consent.pk}",
        source=OutboundSource.SYSTEM,
        subject=_("Bitte bestätigen Sie Ihre Anmeldung"),
        text=text,
        to_address=address,
        purpose="noreply",
    )


class OutboxHistory:
    """compliance.gate.SendHistory over the sent rows of the outbox."""

    def count_capped_since(self, *, customer, channel: str, since: dt.datetime) -> int:
        return OutboundMessage.objects.filter(
            customer=customer,
            channel=channel,
            status=OutboundStatus.SENT,
            category__in=CONSENT_CATEGORIES,
            sent_at__gte=since,
        ).count()

    def last_sent(self, *, customer, channel: str, template_key: str) -> dt.datetime | None:
        return OutboundMessage.objects.filter(
            customer=customer,
            channel=channel,
            status=OutboundStatus.SENT,
            template_key=template_key,
        ).aggregate(last=Max("sent_at"))["last"]


class BatchHistory:
    """The same answers for one dispatch batch: loaded once, then kept up to date in memory.

    Loaded on the first question (a batch of invoices never asks), for the batch's
    customers and the longest window the gate looks back (the cap's days, the
    duplicate rule's hours); `add` counts each message this batch sends, before it
    is written back. Sends by another worker in the same seconds count from the
    next batch on, as BatchRecords' consent reads.
    """

    def __init__(self, *, customer_ids: set[int], at: dt.datetime):
        self.customer_ids = customer_ids
        self.at = at
        self.capped: dict[tuple[int, str], list[dt.datetime]] | None = None
        self.last: dict[tuple[int, str, str], dt.datetime] = {}

    def _load(self) -> None:
        self.capped = {}
        window = max(
            dt.timedelta(days=settings.COMPLIANCE_CAP_DAYS),
            dt.timedelta(hours=settings.COMPLIANCE_DUPLICATE_HOURS),
        )
        sent = OutboundMessage.objects.filter(
            customer_id__in=self.customer_ids,
            status=OutboundStatus.SENT,
            sent_at__gte=self.at - window,
        ).values_list("customer_id", "channel", "category", "template_key", "sent_at")
        for customer_id, channel, category, template_key, sent_at in sent:
            self._count(customer_id, channel, category, template_key, sent_at)

    def _count(self, customer_id, channel, category, template_key, sent_at) -> None:
        if category in CONSENT_CATEGORIES:
            self.capped.setdefault((customer_id, channel), []).append(sent_at)
        if template_key:
            key = (customer_id, channel, template_key)
            if key not in self.last or self.last[key] < sent_at:
                self.last[key] = sent_at

    def add(self, row: OutboundMessage) -> None:
        if self.capped is not None and row.customer_id is not None:
            self._count(row.customer_id, row.channel, row.category, row.template_key, row.sent_at)

    def count_capped_since(self, *, customer, channel: str, since: dt.datetime) -> int:
        if self.capped is None:
            self._load()
        return sum(1 for at in self.capped.get((customer.pk, channel), ()) if at >= since)

    def last_sent(self, *, customer, channel: str, template_key: str) -> dt.datetime | None:
        if self.capped is None:
            self._load()
        return self.last.get((customer.pk, channel, template_key))


def retry_delay(attempts: int, *, jitter: float) -> dt.timedelta:
    """Exponential backoff: base * 2^(attempts-1), capped, with jitter in [0.5, 1.0) of it.

    `jitter` is a random number in [0, 1); random jitter spreads the retries of a
    batch that failed together (SMTP down) so they do not return as one wave.
    """
    base = settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    seconds = min(base, settings.OUTBOX_RETRY_MAX_SECONDS) * (0.5 + jitter / 2)
    return dt.timedelta(seconds=seconds)


def retry_outbound(rows, *, actor: Actor, since: dt.datetime | None = None) -> int:
    """Queue failed messages again, now, with a fresh attempt count. Refused ones stay
    refused: the gate said no, and it will be asked again only by a new message."""
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    return _transition(
        rows,
        actor=actor,
        action="outbox.retried",
        from_status=OutboundStatus.FAILED,
        status=OutboundStatus.QUEUED,
        attempts=0,
        next_attempt_at=timezone.now(),
        last_error=_("Erneut eingereiht."),
    )


def cancel_outbound(rows, *, actor: Actor, reason: str = "") -> int:
    """Cancel waiting messages (with the reason); one already being sent cannot be called back."""
    return _transition(
        rows,
        actor=actor,
        action="outbox.cancelled",
        from_status=OutboundStatus.QUEUED,
        status=OutboundStatus.CANCELLED,
        last_error=(reason or _("Storniert."))[:2000],
    )


@transaction.atomic
def cancel_outbound_many(
    reasons: dict[int, str], *, actor: Actor, entered: Sequence[OutboundMessage] = ()
) -> set[int]:
    """``cancel_outbound`` for many rows at once, each with its own reason (row id ->
    reason); returns the ids cancelled. Rows no longer waiting keep their state; the rows
    are locked first, as in ``_transition``.

    `entered` are rows this transaction queued already cancelled (planned and called off
    in the same batch, so never waiting for anyone): they get the same audit entry."""
    moving = (
        list(
            OutboundMessage.objects.select_for_update()
            .filter(pk__in=list(reasons), status=OutboundStatus.QUEUED)
            .only("pk", "brand_id", "customer_id", "status")
        )
        if reasons
        else []
    )
    update_each(
        OutboundMessage,
        {row.pk: {"last_error": (reasons[row.pk] or _("Storniert."))[:2000]} for row in moving},
        same={"status": OutboundStatus.CANCELLED},
    )
    moving += entered
    audit_many(
        [
            {
                "actor": actor,
                "action": "outbox.cancelled",
                "obj": row,
                "customer_id": row.customer_id,
                "changes": {"status": [OutboundStatus.QUEUED, OutboundStatus.CANCELLED]},
            }
            for row in moving
        ]
    )
    return {row.pk for row in moving}


@transaction.atomic
def _transition(rows, *, actor: Actor, action: str, from_status: str, **changes) -> int:
    """Move the rows still in ``from_status`` and audit each one that moved.

    The rows are locked first so that the dispatch worker cannot claim one between the
    filtered update and its audit entry (on SQLite there is one worker and one writer).
    """
    moving = list(
        OutboundMessage.objects.select_for_update()
        .filter(pk__in=rows.values("pk"), status=from_status)
        .only("pk", "brand_id", "customer_id", "status")
    )
    count = OutboundMessage.objects.filter(
        pk__in=[row.pk for row in moving], status=from_status
    ).update(**changes)
    for row in moving:
        audit(
            actor=actor,
            action=action,
            obj=row,
            customer_id=row.customer_id,
            changes={"status": [from_status, changes["status"]]},
        )
    return count


def revise_outbound_many(contexts: dict[int, dict]) -> int:
    """New template data for messages still waiting (row id -> data, in one update): a
    partial payment lowers the open amount of the next dunning letter; a message being
    sent keeps what it has."""
    return update_each(
        OutboundMessage,
        {pk: {"context": context} for pk, context in contexts.items()},
        where={"status": OutboundStatus.QUEUED},
    )


def queue_template_test_send(sender, *, user, brand, subject: str, text: str, html: str, **kwargs):
    """Receiver of templates_app's test_send_requested: the rendered email to the staff member."""
    brand = brand or BusinessEntity.objects.for_user(user).order_by("pk").first()
    if brand is None:
        return None
    return enqueue_outbound(
        brand=brand,
        channels="email",
        category="transactional",
        idempotency_key=f"template-test:{uuid.uuid4()}",
        source="test",
        to_address=user.email,
        subject=f"[Test] {subject}",
        text=text,
        html=html,
        created_by=user,
    )
