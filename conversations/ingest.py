"""The one way an email enters the system.

``ingest_raw_email(raw, brand=..., mailbox=..., source=...)`` for one message (the
webhook), ``ingest_raw_emails(items, brand=..., mailbox=...)`` for many (files, IMAP,
the benchmark). With ``brand=None`` (a file import without ``--brand``, a webhook to no
known mailbox) each message goes to the brand ``conversations.routing`` chooses for it:
by the thread it answers, else by its recipients, else the fallback brand (the result
says which). Both do the same:

1. store the raw bytes first, in their own transaction, so a later failure loses
   nothing; dedupe by Message-ID per mailbox (same content: duplicate; different
   content: kept and flagged) or by sha256 where there is none;
2. parse (``conversations.mime``), sanitise, thread, classify by sender;
3. store message, attachments and the conversation update in one transaction.

Whatever goes wrong in step 2 or 3, the message is stored flagged with the reason and
shows up in the inbox; it never stops a batch.

The batch path does each step for up to ``batch_size`` messages at once: one dedupe
query, one bulk insert of the raw rows, two threading queries, two classification
queries, and bulk writes in one transaction. Messages of the same batch dedupe and
thread into each other in input order, exactly as if they came one by one. Should the
batch's store transaction fail, that batch is ingested again one message at a time, so
one bad message flags only itself.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Literal, TypeVar

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.services import unsubscribe_by_mail
from conversations.classify import MODEL, SenderClassifier, SenderVerdict
from conversations.learning import BrandModels, features
from conversations.mime import (
    ParsedEmail,
    content_hash,
    decode_bytes,
    parse_email,
    quick_message_id,
)
from conversations.models import (
    REPLY_OWED_CLASSIFICATIONS,
    UNCLASSIFIED,
    Attachment,
    Channel,
    ClassificationChange,
    Conversation,
    Direction,
    Mailbox,
    Message,
    RawEmail,
    Status,
)
from conversations.routing import FALLBACK, BrandRouter, Route
from conversations.signals import message_ingested
from conversations.threading import BatchThreading, find_conversation, normalize_subject
from conversations.workflow import sla_hours
from kommunikation.bulk import build, insert_many, update_each
from kommunikation.models import BusinessEntity, ContactChannel, ContactPoint, Customer

log = logging.getLogger(__name__)

Outcome = Literal["new", "threaded", "duplicate", "flagged"]

BATCH_SIZE = 200
T = TypeVar("T")
# a batch also ends once its raw emails reach this size, so big attachments stay in bounds
BATCH_BYTES = 32 * 1024 * 1024


@dataclass
class IngestResult:
    outcome: Outcome
    raw: RawEmail | None = None
    message: Message | None = None
    conversation: Conversation | None = None
    reason: str = ""
    brand: BusinessEntity | None = None
    # how the brand was chosen (conversations.routing), "" when the caller fixed it
    routed_by: str = ""
    # the message started its conversation (also when it was flagged)
    new_conversation: bool = False


@dataclass
class IngestStats:
    """Counts of one batch, as the commands print them."""

    new: int = 0
    threaded: int = 0
    duplicate: int = 0
    flagged: int = 0
    errors: list[str] = field(default_factory=list)
    by_brand: Counter[str] = field(default_factory=Counter)  # brand name -> messages
    unrouted: int = 0  # routed to the fallback brand: no recipient matched a brand

    def add(self, result: IngestResult) -> None:
        setattr(self, result.outcome, getattr(self, result.outcome) + 1)
        if result.brand is not None:
            self.by_brand[result.brand.name] += 1
        if result.routed_by == FALLBACK:
            self.unrouted += 1

    @property
    def total(self) -> int:
        return self.new + self.threaded + self.duplicate + self.flagged

    def summary(self) -> str:
        return _(
            "%(new)d neu, %(duplicate)d doppelt, %(threaded)d in bestehende Konversationen, "
            "%(flagged)d markiert"
        ) % {
            "new": self.new,
            "duplicate": self.duplicate,
            "threaded": self.threaded,
            "flagged": self.flagged,
        }


class IngestContext:
    """Per-run caches (sender classification, the brands' addresses for routing); one
    per command run or webhook call."""

    def __init__(self, *, fallback_brand: BusinessEntity | None = None) -> None:
        self.classifier = SenderClassifier()
        self.models = BrandModels()
        self._fallback_brand = fallback_brand

    @cached_property
    def router(self) -> BrandRouter:
        return BrandRouter(self._fallback_brand)


@dataclass
class _Item:
    """One message on its way through a batch."""

    raw: bytes
    source: str
    sha: str = ""
    message_id: str = ""
    chash: str = ""
    row: RawEmail | None = None  # the new raw row, when it is not a duplicate
    conflict: bool = False  # the same Message-ID with other content is stored already
    parsed: ParsedEmail | None = None
    result: IngestResult | None = None

    def __post_init__(self) -> None:
        self.sha = hashlib.sha256(self.raw).hexdigest()
        self.message_id = quick_message_id(self.raw)
        self.chash = content_hash(self.raw)


# --- one message ------------------------------------------------------------------------------


def ingest_raw_email(
    raw: bytes,
    *,
    brand: BusinessEntity | None,
    mailbox: Mailbox | None = None,
    source: str = "",
    context: IngestContext | None = None,
    envelope_recipients: Sequence[str] = (),
) -> IngestResult:
    """``brand=None``: routed (``envelope_recipients``, e.g. an ESP's, rank first)."""
    context = context or IngestContext()
    route = None
    if brand is None:
        route = context.router.route([raw], extra_recipients=envelope_recipients)[0]
        brand = route.brand
    stored = _store_raw(raw, brand=brand, mailbox=mailbox, source=source)
    if isinstance(stored, IngestResult):
        return _routed(stored, brand, route)
    raw_row, conflict = stored
    result = _ingest_stored(raw_row, raw, conflict, mailbox=mailbox, context=context)
    result = _act_on_unsubscribe(_routed(result, brand, route), brand)
    _announce([result])
    return result


def _routed(result: IngestResult, brand: BusinessEntity, route: Route | None) -> IngestResult:
    result.brand = brand
    if route is not None:
        result.routed_by = route.by
    return result


def _announce(results: list[IngestResult]) -> None:
    """``message_ingested`` for the stored messages, once, after commit (see signals)."""
    stored = [r for r in results if r.message is not None and r.outcome != "duplicate"]
    if not stored:
        return

    def send() -> None:
        for receiver, error in message_ingested.send_robust(sender=Message, results=stored):
            if isinstance(error, Exception):
                log.error("message_ingested receiver %r failed", receiver, exc_info=error)

    transaction.on_commit(send)


def _ingest_stored(
    raw_row: RawEmail,
    raw: bytes,
    conflict: bool,
    *,
    mailbox: Mailbox | None,
    context: IngestContext,
    parsed: ParsedEmail | None = None,
) -> IngestResult:
    """Steps 2 and 3 for one stored raw row."""
    try:
        parsed = parsed or _parse(raw)
        with transaction.atomic():
            return _store_message(
                raw_row, parsed, _problems(parsed, conflict), mailbox=mailbox, context=context
            )
    except Exception as exc:  # anything at all: keep the message, flag it, go on
        log.exception("ingest failed for raw email %s", raw_row.pk)
        reason = _("Nachricht konnte nicht verarbeitet werden: %(error)s") % {
            "error": f"{type(exc).__name__}: {exc}"[:500]
        }
        reason = reason.replace("\x00", "")  # error texts may quote the data; PostgreSQL
        with transaction.atomic():
            return _store_unreadable(raw_row, raw, reason, mailbox=mailbox)


def _parse(raw: bytes) -> ParsedEmail:
    """``parse_email`` within the configured limits (size, attachment count)."""
    return parse_email(
        raw,
        max_bytes=settings.INGEST_MAX_MESSAGE_BYTES,
        max_attachments=settings.INGEST_MAX_ATTACHMENTS,
    )


def _problems(parsed: ParsedEmail, conflict: bool) -> list[str]:
    problems = list(parsed.problems)
    if conflict:
        problems.insert(0, _("Message-ID schon vorhanden, aber mit anderem Inhalt"))
    return problems


def _dedupe(items: list[_Item], *, brand: BusinessEntity, mailbox: Mailbox | None) -> None:
    """One query for all items: each gets a duplicate result or a new (unsaved) raw row.
    Items dedupe against each other too, in order."""
    mailbox_key = str(mailbox.pk) if mailbox else ""
    same_mailbox = RawEmail.objects.filter(brand=brand, mailbox_key=mailbox_key)
    columns = ("pk", "sha256", "message_id", "content_hash")
    found = same_mailbox.filter(sha256__in=sorted({i.sha for i in items})).values_list(*columns)
    message_ids = sorted({i.message_id for i in items if i.message_id})
    if message_ids:
        # a UNION of two index searches: "sha256 IN ... OR message_id IN ..." would make
        # SQLite read every raw email of the brand
        found = found.union(same_mailbox.filter(message_id__in=message_ids).values_list(*columns))
    # stored rows by pk, new rows of this batch as objects
    by_sha: dict[str, int | RawEmail] = {}
    by_message_id: dict[str, dict[str, int | RawEmail]] = defaultdict(dict)
    for pk, sha, message_id, chash in sorted(found):
        by_sha.setdefault(sha, pk)
        if message_id:
            by_message_id[message_id].setdefault(chash, pk)
    stored_duplicates: list[tuple[_Item, int]] = []
    for item in items:
        duplicate = by_sha.get(item.sha)
        if duplicate is None and item.message_id:
            hashes = by_message_id.get(item.message_id, {})
            duplicate = hashes.get(item.chash)
            item.conflict = bool(hashes) and duplicate is None
        if isinstance(duplicate, RawEmail):
            item.result = IngestResult("duplicate", raw=duplicate)
            continue
        if duplicate is not None:
            stored_duplicates.append((item, duplicate))
            continue
        item.row = RawEmail(
            brand=brand,
            mailbox=mailbox,
            mailbox_key=mailbox_key,
            message_id=item.message_id,
            sha256=item.sha,
            content_hash=item.chash,
            data=item.raw,
            size=len(item.raw),
            source=item.source[:500],
        )
        by_sha[item.sha] = item.row
        if item.message_id:
            by_message_id[item.message_id].setdefault(item.chash, item.row)
    if stored_duplicates:
        rows = RawEmail.objects.defer("data").in_bulk([pk for _item, pk in stored_duplicates])
        for item, pk in stored_duplicates:
            item.result = IngestResult("duplicate", raw=rows[pk])


# Raw emails above this size are written apart from their INSERT, as one binary
# parameter (PostgreSQL) or through SQLite's incremental blob I/O: Django composes a
# PostgreSQL query client-side, with the bytes as a hex literal (a 30 MB mail cost some
# 240 MB), and SQLite copies a bound blob twice on its way into the row.
LARGE_RAW_BYTES = 1024 * 1024
_BLOB_CHUNK = 1024 * 1024


def _insert_raw_rows(rows: list[RawEmail]) -> None:
    """``bulk_create`` the rows (they get their pk); large data is streamed in after."""
    large = [(row, row.data) for row in rows if len(row.data) > LARGE_RAW_BYTES]
    for row, _data in large:
        row.data = b""
    try:
        RawEmail.objects.bulk_create(rows)
    finally:
        for row, data in large:
            row.data = data
    for row, data in large:
        _write_raw_data(row.pk, data)


def _write_raw_data(pk: int, data: bytes) -> None:
    table = connection.ops.quote_name(RawEmail._meta.db_table)
    if connection.vendor == "postgresql":
        import psycopg

        # a plain psycopg cursor binds server-side; %b sends the bytes as they are
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(f"UPDATE {table} SET data = %b WHERE id = %s", [data, pk])
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET data = zeroblob(%s) WHERE id = %s", [len(data), pk])
        view = memoryview(data)
        with connection.connection.blobopen(RawEmail._meta.db_table, "data", pk) as blob:
            for start in range(0, len(view), _BLOB_CHUNK):
                blob.write(view[start : start + _BLOB_CHUNK])
    else:
        RawEmail.objects.filter(pk=pk).update(data=data)


def _release_query_buffer(rows: list[RawEmail]) -> None:
    """libpq keeps its output buffer at the size of the largest query it sent: after a
    large raw mail, tens of MB for as long as the connection lives (a 30 MB mail's
    ingest took 3.8x its size instead of 2.9x). Outside a transaction the connection is
    closed now; Django opens a new one for the next query."""
    if (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and any(row.size > LARGE_RAW_BYTES for row in rows)
    ):
        connection.close()


def _store_raw(
    raw: bytes, *, brand: BusinessEntity, mailbox: Mailbox | None, source: str
) -> tuple[RawEmail, bool] | IngestResult:
    item = _Item(raw, source)
    try:
        with transaction.atomic():  # SQLite: the dedupe reads under the write lock already
            _dedupe([item], brand=brand, mailbox=mailbox)
            if item.result is not None:
                return item.result
            _insert_raw_rows([item.row])
    except IntegrityError:  # the same bytes arrived concurrently
        return IngestResult(
            "duplicate",
            raw=RawEmail.objects.defer("data").get(
                brand=brand, mailbox_key=item.row.mailbox_key, sha256=item.sha
            ),
        )
    _release_query_buffer([item.row])
    return item.row, item.conflict


def _message_time(parsed_date: datetime | None, now: datetime) -> datetime:
    # A Date header in the future (wrong clocks, spam) must not pin a conversation to the top.
    if parsed_date is None or parsed_date > now + timedelta(minutes=5):
        return now
    return parsed_date


def _snippet(text: str) -> str:
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith(">")
    ]
    return " ".join(" ".join(lines).split())[:200]


# the fields an incoming message may change on a stored conversation
_UPDATED_FIELDS = (
    "classification",
    "classified_automatically",
    "classification_reason",
    "proposed_classification",
    "proposal_reason",
    "customer_id",
    "message_count",
    "last_message_at",
    "snippet",
    "last_inbound_at",
    "unread",
    "status",
    "response_due_at",
    "snoozed_until",
    "flagged",
)


def _snapshot(conversation: Conversation) -> tuple:
    return tuple(getattr(conversation, name) for name in _UPDATED_FIELDS)


def _changed_fields(conversation: Conversation, before: tuple) -> list[str]:
    return [
        name
        for name, old in zip(_UPDATED_FIELDS, before, strict=True)
        if getattr(conversation, name) != old
    ]


@dataclass
class _Prepared:
    """A message ready to be written, and what it does to its conversation."""

    outcome: Outcome
    conversation: Conversation
    message: Message
    change: ClassificationChange | None
    problems: list[str]


def _prepare(
    raw_row: RawEmail,
    parsed: ParsedEmail,
    problems: list[str],
    conversation: Conversation | None,
    *,
    at: datetime,
    now: datetime,
    counterpart: str,
    subject_key: str,
    mailbox: Mailbox | None,
    context: IngestContext,
) -> _Prepared:
    """Update ``conversation`` (or a new one) in memory for the message and build the
    unsaved message; no database writes."""
    brand = raw_row.brand
    outcome: Outcome = "threaded" if conversation else "new"
    if conversation is None:
        conversation = Conversation(
            brand=brand,
            mailbox=mailbox,
            subject=parsed.subject,
            subject_key=subject_key,
            counterpart=counterpart,
            counterpart_name=parsed.from_name[:200],
            channel=Channel.EMAIL,
            last_message_at=at,
            created_at=now,
            message_count=0,
        )

    verdict = None
    if conversation.classification == UNCLASSIFIED:
        verdict = context.classifier.classify(
            brand, counterpart, bulk=parsed.is_bulk or parsed.is_auto_generated
        )
        if verdict is None or not verdict.knows_sender:
            verdict = _first_contact(brand, parsed, conversation, verdict, context)
    if verdict:
        conversation.classification = verdict.classification
        conversation.classified_automatically = True
        conversation.classification_reason = verdict.reason[:200]
        if verdict.customer_id and conversation.customer_id is None:
            conversation.customer_id = verdict.customer_id

    conversation.message_count += 1
    if at >= conversation.last_message_at or outcome == "new":
        conversation.last_message_at = at
        conversation.snippet = _snippet(parsed.text) or parsed.subject[:200]
    conversation.last_inbound_at = max(filter(None, [conversation.last_inbound_at, at]))
    conversation.unread = True
    if conversation.status != Status.OPEN:
        # a new message from the counterpart reopens it; "pending" waited for exactly this
        conversation.status = Status.OPEN
    # a new message from the counterpart ends a Wiedervorlage: it is back in the open list
    conversation.snoozed_until = None
    # the deadline's one rule (ConversationQuerySet.owing_reply), on the unsaved row: a
    # reply is owed to customers, suppliers and unknown senders, when this is the newest
    if (
        conversation.classification not in REPLY_OWED_CLASSIFICATIONS
        or conversation.last_inbound_at < conversation.last_message_at
    ):
        conversation.response_due_at = None
    elif conversation.response_due_at is None:
        conversation.response_due_at = at + timedelta(
            hours=sla_hours(priority=conversation.priority, channel=conversation.channel)
        )
    if problems:
        conversation.flagged = True

    message = Message(
        conversation=conversation,
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        sender_name=parsed.from_name[:200],
        sender_address=parsed.from_address[:254],
        to=parsed.to,
        cc=parsed.cc,
        reply_to=parsed.reply_to[:254],
        subject=parsed.subject,
        text=parsed.text,
        html=parsed.html,
        has_remote_images=parsed.has_remote_images,
        headers=parsed.headers,
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=" ".join(parsed.references),
        status=Message.State.RECEIVED,
        raw=raw_row,
        flagged=bool(problems),
        flag_reason="; ".join(problems),
        signed=parsed.signed,
        encrypted=parsed.encrypted,
        parse_flags=parsed.flags,
        sent_at=parsed.date,
        created_at=now,
    )
    change = None
    if verdict:
        change = ClassificationChange(
            conversation=conversation,
            from_classification=UNCLASSIFIED,
            to_classification=verdict.classification,
            to_customer_id=verdict.customer_id,
            automatic=True,
            reason=verdict.reason[:200],
            rule_id=verdict.rule_id,
            changed_at=now,
        )
    raw_row.state = RawEmail.State.FLAGGED if problems else RawEmail.State.PARSED
    raw_row.error = "; ".join(problems + parsed.notes)
    return _Prepared(outcome, conversation, message, change, problems)


def _first_contact(
    brand: BusinessEntity,
    parsed: ParsedEmail,
    conversation: Conversation,
    verdict: SenderVerdict | None,
    context: IngestContext,
) -> SenderVerdict | None:
    """A sender nobody knows: the brand's model proposes (kept for the dialog) and, above
    the Admin's confidence, decides; else the bulk headers' verdict (or none) stands."""
    proposal = context.models.propose(
        brand,
        features(
            sender=parsed.from_address,
            subject=parsed.subject,
            text=parsed.text,
            headers=parsed.headers,
        ),
    )
    if proposal is None:
        return verdict
    conversation.proposed_classification = proposal.classification
    conversation.proposal_reason = proposal.reason[:200]
    if context.models.applies(brand, proposal):
        return SenderVerdict(proposal.classification, None, proposal.reason[:200], MODEL)
    return verdict


def _result(prepared: _Prepared) -> IngestResult:
    return IngestResult(
        "flagged" if prepared.problems else prepared.outcome,
        raw=prepared.message.raw,
        message=prepared.message,
        conversation=prepared.conversation,
        reason="; ".join(prepared.problems),
        new_conversation=prepared.outcome == "new",
    )


def _store_message(
    raw_row: RawEmail,
    parsed: ParsedEmail,
    problems: list[str],
    *,
    mailbox: Mailbox | None,
    context: IngestContext,
) -> IngestResult:
    now = timezone.now()
    at = _message_time(parsed.date, now)
    counterpart = parsed.from_address[:254]
    subject_key = normalize_subject(parsed.subject)
    conversation = find_conversation(
        brand=raw_row.brand,
        thread_ids=parsed.thread_ids,
        counterpart=counterpart,
        subject_key=subject_key,
        at=at,
    )
    before = _snapshot(conversation) if conversation else None
    prepared = _prepare(
        raw_row,
        parsed,
        problems,
        conversation,
        at=at,
        now=now,
        counterpart=counterpart,
        subject_key=subject_key,
        mailbox=mailbox,
        context=context,
    )
    if before is None:
        prepared.conversation.save(force_insert=True)
    else:
        prepared.conversation.save(update_fields=_changed_fields(prepared.conversation, before))
    prepared.message.save(force_insert=True)
    Attachment.objects.bulk_create(_attachments(prepared.message, parsed))
    if prepared.change:
        prepared.change.save(force_insert=True)
    raw_row.save(update_fields=["state", "error"])
    return _result(prepared)


def _attachments(message: Message, parsed: ParsedEmail) -> list[Attachment]:
    """The message's attachment rows (unsaved); the files are written to storage now."""
    rows = []
    for item in parsed.attachments:
        sha = item.sha256
        attachment = Attachment(
            message=message,
            filename=item.filename,
            content_type=item.content_type[:120],
            size=len(item.data),
            sha256=sha,
            content_id=item.content_id,
            is_inline=item.is_inline,
        )
        name = attachment.file.field.generate_filename(attachment, item.filename)
        # content-addressed, so an existing file is already the right bytes
        if not default_storage.exists(name):
            name = default_storage.save(name, ContentFile(item.data))
        attachment.file.name = name
        rows.append(attachment)
    return rows


def _store_unreadable(
    raw_row: RawEmail, raw: bytes, reason: str, *, mailbox: Mailbox | None
) -> IngestResult:
    """The last resort: a visible, flagged message carrying the raw text."""
    now = timezone.now()
    text, _problem = decode_bytes(raw[:200_000], "utf-8")
    conversation = Conversation.objects.create(
        brand=raw_row.brand,
        mailbox=mailbox,
        subject=_("(nicht lesbare Nachricht)"),
        channel=Channel.EMAIL,
        flagged=True,
        message_count=1,
        snippet=reason[:200],
        last_message_at=now,
        last_inbound_at=now,
        created_at=now,
    )
    message = Message.objects.create(
        conversation=conversation,
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        subject=conversation.subject,
        text=text.replace("\x00", ""),
        status=Message.State.RECEIVED,
        raw=raw_row,
        flagged=True,
        flag_reason=reason,
        created_at=now,
    )
    raw_row.state = RawEmail.State.FLAGGED
    raw_row.error = reason
    raw_row.save(update_fields=["state", "error"])
    return IngestResult(
        "flagged",
        raw=raw_row,
        message=message,
        conversation=conversation,
        reason=reason,
        new_conversation=True,
    )


# --- many messages ----------------------------------------------------------------------------


def ingest_raw_emails(
    items: Iterable[tuple[bytes, str]],
    *,
    brand: BusinessEntity | None,
    mailbox: Mailbox | None = None,
    context: IngestContext | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[IngestResult]:
    """Ingest (raw bytes, source) pairs in batches; yields one result per item, in input
    order, each batch's results once that batch is stored. Lazy: nothing happens until
    the results are consumed. ``brand=None``: each message is routed."""
    context = context or IngestContext()
    for batch in batched(items, size=batch_size, size_of=lambda item: len(item[0])):
        if brand is not None:
            results = [
                _act_on_unsubscribe(_routed(result, brand, None), brand)
                for result in _ingest_batch(batch, brand=brand, mailbox=mailbox, context=context)
            ]
            _announce(results)
            yield from results
            continue
        routes = context.router.route([raw for raw, _source in batch])
        # Dedupe and threading never cross brands, so each brand's part of the batch is
        # stored on its own, in input order, with the same outcome as one by one.
        positions: dict[int, list[int]] = defaultdict(list)
        for position, route in enumerate(routes):
            positions[route.brand.pk].append(position)
        results: list[IngestResult | None] = [None] * len(batch)
        for indices in positions.values():
            part = _ingest_batch(
                [batch[i] for i in indices],
                brand=routes[indices[0]].brand,
                mailbox=mailbox,
                context=context,
            )
            for i, result in zip(indices, part, strict=True):
                results[i] = _routed(result, routes[i].brand, routes[i])
        routed = [
            _act_on_unsubscribe(result, route.brand)
            for result, route in zip(results, routes, strict=True)
        ]
        _announce(routed)
        yield from routed


def _act_on_unsubscribe(result: IngestResult, brand: BusinessEntity) -> IngestResult:
    """Mail to the brand's noreply address answering our List-Unsubscribe mailto: act on
    its signed token and file the conversation away (the mail itself is kept). Without a
    valid token it stays in the inbox for a person to read."""
    message = result.message
    noreply = (brand.noreply_email or "").lower()
    if (
        result.outcome in ("new", "threaded")
        and message is not None
        and noreply
        and noreply in message.to
        and unsubscribe_by_mail(message.subject)
    ):
        Conversation.objects.filter(pk=message.conversation_id).update(
            status=Status.ARCHIVED, unread=False
        )
    return result


def batched(
    items: Iterable[T],
    *,
    size: int = BATCH_SIZE,
    max_bytes: int = BATCH_BYTES,
    size_of: Callable[[T], int] = len,
) -> Iterator[list[T]]:
    """Lists of up to ``size`` items that together take up to about ``max_bytes``."""
    batch: list[T] = []
    total = 0
    for item in items:
        batch.append(item)
        total += size_of(item)
        if len(batch) >= size or total >= max_bytes:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


def _ingest_batch(
    batch: list[tuple[bytes, str]],
    *,
    brand: BusinessEntity,
    mailbox: Mailbox | None,
    context: IngestContext,
) -> list[IngestResult]:
    items = [_Item(raw, source) for raw, source in batch]
    try:
        with transaction.atomic():
            _dedupe(items, brand=brand, mailbox=mailbox)
            _insert_raw_rows([i.row for i in items if i.row is not None])
    except IntegrityError:  # some of the same bytes arrived concurrently: one by one
        for item in items:
            stored = _store_raw(item.raw, brand=brand, mailbox=mailbox, source=item.source)
            if isinstance(stored, IngestResult):
                item.row, item.conflict, item.result = None, False, stored
            else:
                (item.row, item.conflict), item.result = stored, None
    _release_query_buffer([i.row for i in items if i.row is not None])

    pending = [i for i in items if i.result is None]
    for item in pending:
        try:
            item.parsed = _parse(item.raw)
        except Exception:  # handled (flagged) one by one below
            log.debug("parsing raw email %s failed", item.row.pk, exc_info=True)
    readable = [i for i in pending if i.parsed is not None]
    if readable:
        try:
            with transaction.atomic():
                _store_batch(readable, brand=brand, mailbox=mailbox, context=context)
        except Exception:
            log.warning(
                "storing a batch of %d messages failed; one by one instead",
                len(readable),
                exc_info=True,
            )
            for item in readable:
                item.result = None
    for item in pending:
        if item.result is None:
            item.result = _ingest_stored(
                item.row,
                item.raw,
                item.conflict,
                mailbox=mailbox,
                context=context,
                parsed=item.parsed,
            )
    return [item.result for item in items]


def _store_batch(
    items: list[_Item], *, brand: BusinessEntity, mailbox: Mailbox | None, context: IngestContext
) -> None:
    """Thread, classify and store the parsed items; sets each item's result."""
    keys = []
    for item in items:
        now = timezone.now()
        keys.append(
            (
                now,
                _message_time(item.parsed.date, now),
                item.parsed.from_address[:254],
                normalize_subject(item.parsed.subject),
            )
        )
    threading = BatchThreading(
        brand,
        [
            (item.parsed.thread_ids, counterpart, subject_key, at)
            for item, (_now, at, counterpart, subject_key) in zip(items, keys, strict=True)
        ],
    )
    context.classifier.prefetch(brand, [counterpart for _n, _a, counterpart, _s in keys])

    created: list[Conversation] = []
    before: dict[int, tuple[Conversation, tuple]] = {}  # id(stored conversation) -> snapshot
    prepared_items: list[tuple[_Item, _Prepared]] = []
    for item, (now, at, counterpart, subject_key) in zip(items, keys, strict=True):
        parsed = item.parsed
        conversation = threading.find(
            thread_ids=parsed.thread_ids, counterpart=counterpart, subject_key=subject_key, at=at
        )
        if conversation is not None and conversation.pk is not None:
            before.setdefault(id(conversation), (conversation, _snapshot(conversation)))
        prepared = _prepare(
            item.row,
            parsed,
            _problems(parsed, item.conflict),
            conversation,
            at=at,
            now=now,
            counterpart=counterpart,
            subject_key=subject_key,
            mailbox=mailbox,
            context=context,
        )
        if conversation is None:
            created.append(prepared.conversation)
        threading.add(prepared.conversation, parsed.message_id)
        prepared_items.append((item, prepared))

    Conversation.objects.bulk_create(created)
    for conversation, snapshot in before.values():
        # one UPDATE each: Django's bulk_update (CASE WHEN per row and field) costs more
        changed = _changed_fields(conversation, snapshot)
        if changed:
            Conversation.objects.filter(pk=conversation.pk).update(
                **{name: getattr(conversation, name) for name in changed}
            )
    messages = [prepared.message for _item, prepared in prepared_items]
    Message.objects.bulk_create(messages)
    attachments = [
        row
        for item, prepared in prepared_items
        for row in _attachments(prepared.message, item.parsed)
    ]
    Attachment.objects.bulk_create(attachments)
    ClassificationChange.objects.bulk_create(
        [prepared.change for _item, prepared in prepared_items if prepared.change]
    )
    by_state: dict[tuple[str, str], list[int]] = defaultdict(list)
    for item, _prepared in prepared_items:
        by_state[(item.row.state, item.row.error)].append(item.row.pk)
    for (state, error), pks in by_state.items():
        RawEmail.objects.filter(pk__in=pks).update(state=state, error=error)
    for item, prepared in prepared_items:
        item.result = _result(prepared)


# --- messages of other channels (WhatsApp, SMS, ...) -------------------------------------


@dataclass
class IncomingFile:
    """A file that came with a message of another channel, downloaded already."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class IncomingMessage:
    """One message of a channel other than email, as ``ingest_message`` takes it."""

    brand: BusinessEntity
    channel: str
    sender_address: str
    provider_id: str
    text: str
    occurred_at: datetime | None = None
    attachments: Sequence[IncomingFile] = ()
    reply_to_provider_id: str = ""
    sender_name: str = ""
    recipient_address: str = ""
    sender_user_id: str = ""
    headers: Sequence[tuple[str, str]] = ()
    flag_reason: str = ""


def ingest_message(
    *,
    brand: BusinessEntity,
    channel: str,
    sender_address: str,
    provider_id: str,
    text: str,
    occurred_at: datetime | None = None,
    attachments: Sequence[IncomingFile] = (),
    reply_to_provider_id: str = "",
    sender_name: str = "",
    recipient_address: str = "",
    sender_user_id: str = "",
    headers: Sequence[tuple[str, str]] = (),
    flag_reason: str = "",
) -> IngestResult:
    """The one way a message of a channel other than email enters: WhatsApp, SMS, ...

    Idempotent by ``provider_id`` per brand and channel (a provider's retry is a
    duplicate). The sender (E.164 phone, normalised by the caller) is matched to the
    brand's customer by contact point; the message joins the conversation of the message
    it replies to (``reply_to_provider_id``, a provider id of ours or theirs), else the
    customer's (or the number's) latest conversation on this channel, reopened, else a
    new one. ``sender_user_id`` is a provider's user id beside or instead of the number
    (WhatsApp's business-scoped user id): a sender known only by it is found by it.
    The customer's thread view shows it with their email.
    """
    item = IncomingMessage(
        brand=brand, channel=channel, sender_address=sender_address, provider_id=provider_id,
        text=text, occurred_at=occurred_at, attachments=attachments,
        reply_to_provider_id=reply_to_provider_id, sender_name=sender_name,
        recipient_address=recipient_address, sender_user_id=sender_user_id, headers=headers,
        flag_reason=flag_reason,
    )  # fmt: skip
    return ingest_messages([item])[0]


def ingest_messages(items: Sequence[IncomingMessage]) -> list[IngestResult]:
    """Many messages of other channels at once (a batch of webhooks), with the rules of
    ``ingest_message``, in one transaction and a handful of queries per brand and channel
    instead of eight a message: one dedupe query, one contact lookup, one query each for
    the conversations replied to and the senders' conversations, then bulk writes.
    Messages of the same batch dedupe and thread into each other in input order, exactly
    as if they came one by one. ``message_ingested`` is sent once for the batch."""
    results: list[IngestResult] = [None] * len(items)  # type: ignore[list-item]
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        groups[(item.brand.pk, item.channel)].append(index)
    with transaction.atomic():
        for indexes in groups.values():
            for index, result in zip(
                indexes, _ingest_group([items[i] for i in indexes]), strict=True
            ):
                results[index] = result
    _announce(results)
    return results


def _recency(conversation: Conversation) -> tuple:
    # the newest conversation wins; one created in this batch (no pk yet) is the newest
    return (conversation.last_message_at, conversation.pk or float("inf"))


def _ingest_group(items: list[IncomingMessage]) -> list[IngestResult]:
    """``ingest_messages`` for items of one brand and channel, inside its transaction."""
    brand, channel = items[0].brand, items[0].channel
    now = timezone.now()
    messages = Message.objects.filter(conversation__brand=brand, channel=channel)
    known: dict[str, Message] = {
        m.provider_id: m
        for m in messages.filter(provider_id__in={i.provider_id for i in items}).select_related(
            "conversation"
        )
    }
    phones = {i.sender_address for i in items if i.sender_address}
    customer_of: dict[str, int] = {}
    if phones:
        for value, customer_id in (
            ContactPoint.objects.filter(
                channel=ContactChannel.PHONE, value__in=phones, customer__brand=brand
            )
            .order_by("position", "id")
            .values_list("value", "customer_id")
        ):
            customer_of.setdefault(value, customer_id)
    kind_of: dict[int, str] = dict(
        Customer.objects.filter(pk__in=set(customer_of.values())).values_list("pk", "kind")
        if customer_of
        else ()
    )
    # one object per conversation, however many queries find it; "before" for the update
    conversations: dict[int, Conversation] = {}
    before: dict[int, tuple] = {}
    counterpart_before: dict[int, str] = {}

    def register(conversation: Conversation) -> Conversation:
        if conversation.pk not in conversations:
            conversations[conversation.pk] = conversation
            before[conversation.pk] = _snapshot(conversation)
            counterpart_before[conversation.pk] = conversation.counterpart
        return conversations[conversation.pk]

    replied_to: dict[str, Conversation] = {}
    references = {i.reply_to_provider_id for i in items if i.reply_to_provider_id}
    if references:
        for provider_id, conversation in (
            (m.provider_id, m.conversation)
            for m in Message.objects.filter(conversation__brand=brand, provider_id__in=references)
            .select_related("conversation")
            .order_by("-id")
        ):
            replied_to.setdefault(provider_id, register(conversation))
    addresses = {a for i in items for a in (i.sender_address, i.sender_user_id) if a}
    match = Q(counterpart__in=addresses)
    if customer_of:
        match |= Q(customer_id__in=set(customer_of.values()))
    for conversation in Conversation.objects.filter(brand=brand, channel=channel).filter(match):
        register(conversation)
    created: list[Conversation] = []  # new in this batch, in order
    stored: dict[str, Message] = {}  # stored in this batch, by provider id
    results: list[IngestResult] = []
    new_messages: list[tuple[Message, Sequence[IncomingFile]]] = []
    for item in items:
        existing = known.get(item.provider_id) or stored.get(item.provider_id)
        if existing is not None:
            results.append(
                IngestResult(
                    "duplicate", message=existing, conversation=existing.conversation, brand=brand
                )
            )
            continue
        at = _message_time(item.occurred_at, now)
        address = item.sender_address or item.sender_user_id
        customer_id = customer_of.get(item.sender_address) if item.sender_address else None
        conversation = None
        if item.reply_to_provider_id:
            conversation = replied_to.get(item.reply_to_provider_id)
            if conversation is None and item.reply_to_provider_id in stored:
                conversation = stored[item.reply_to_provider_id].conversation
        if conversation is None:
            mine = {a for a in (item.sender_address, item.sender_user_id) if a}
            candidates = [
                c
                for c in [*conversations.values(), *created]
                if c.channel == channel
                and (c.counterpart in mine or (customer_id and c.customer_id == customer_id))
            ]
            conversation = max(candidates, key=_recency, default=None)
        if conversation is None and item.sender_user_id and not item.sender_address:
            # known so far by number and user id together: the user id finds the thread
            found = (
                Conversation.objects.filter(
                    brand=brand,
                    channel=channel,
                    pk__in=messages.filter(headers__icontains=item.sender_user_id).values(
                        "conversation_id"
                    ),
                )
                .order_by("-last_message_at", "-id")
                .first()
            )
            candidates = [register(found)] if found else []
            candidates += [
                m.conversation
                for m in stored.values()
                if ["User-Id", item.sender_user_id] in m.headers
            ]
            conversation = max(candidates, key=_recency, default=None)
        outcome: Outcome = "threaded" if conversation else "new"
        if conversation is None:
            kind = kind_of.get(customer_id) if customer_id else None
            conversation = Conversation(
                brand=brand,
                customer_id=customer_id,
                subject=_("%(channel)s mit %(name)s")
                % {"channel": Channel(channel).label, "name": item.sender_name or address},
                counterpart=address[:254],
                counterpart_name=item.sender_name[:200],
                channel=channel,
                classification=kind or UNCLASSIFIED,
                classified_automatically=bool(kind),
                classification_reason=_("Telefonnummer bekannt") if kind else "",
                last_message_at=at,
                created_at=now,
                message_count=0,
            )
            created.append(conversation)
        else:
            if customer_id and conversation.customer_id is None:
                conversation.customer_id = customer_id
            if item.sender_address and conversation.counterpart != item.sender_address:
                conversation.counterpart = item.sender_address  # a number beats a user id
        conversation.message_count += 1
        if at >= conversation.last_message_at or outcome == "new":
            conversation.last_message_at = at
            conversation.snippet = _snippet(item.text)
        conversation.last_inbound_at = max(filter(None, [conversation.last_inbound_at, at]))
        conversation.unread = True
        conversation.status = Status.OPEN
        if conversation.response_due_at is None:
            hours = settings.SLA_HOURS_WHATSAPP if channel == Channel.WHATSAPP else None
            hours = hours or settings.SLA_HOURS.get(conversation.priority, 24)
            conversation.response_due_at = at + timedelta(hours=hours)
        if item.flag_reason:
            conversation.flagged = True
        kept = list(item.headers)
        if item.sender_user_id:
            kept.append(("User-Id", item.sender_user_id))
        message = build(
            Message,
            conversation=conversation,
            channel=channel,
            direction=Direction.INBOUND,
            sender_name=item.sender_name[:200],
            sender_address=address[:254],
            to=[item.recipient_address] if item.recipient_address else [],
            text=item.text,
            headers=[list(pair) for pair in kept],
            in_reply_to=item.reply_to_provider_id[:998],
            provider_id=item.provider_id[:200],
            status=Message.State.RECEIVED,
            flagged=bool(item.flag_reason),
            flag_reason=item.flag_reason,
            sent_at=at,
            created_at=now,
        )
        stored[item.provider_id] = message
        new_messages.append((message, item.attachments))
        results.append(
            IngestResult(
                outcome,
                message=message,
                conversation=conversation,
                brand=brand,
                new_conversation=outcome == "new",
            )
        )
    # bulk writes (kommunikation.bulk: COPY and UPDATE ... FROM unnest on PostgreSQL;
    # Django's bulk_update costs more CPU than the rest of the batch)
    insert_many(Conversation, created)
    # existing conversations: one UPDATE per set of changed fields (usually one)
    by_fields: dict[tuple[str, ...], list[Conversation]] = defaultdict(list)
    for pk, conversation in conversations.items():
        fields = _changed_fields(conversation, before[pk])
        if conversation.counterpart != counterpart_before[pk]:
            fields.append("counterpart")
        if fields:
            by_fields[tuple(fields)].append(conversation)
    for fields, rows in by_fields.items():
        update_each(Conversation, {c.pk: {f: getattr(c, f) for f in fields} for c in rows})
    insert_many(Message, [message for message, _attached in new_messages])
    Attachment.objects.bulk_create(
        [row for message, files in new_messages for row in _files(message, files)]
    )
    return results


def _files(message: Message, files: Sequence[IncomingFile]) -> list[Attachment]:
    rows = []
    for item in files:
        attachment = Attachment(
            message=message,
            filename=item.filename[:255],
            content_type=item.content_type[:120],
            size=len(item.data),
            sha256=hashlib.sha256(item.data).hexdigest(),
        )
        name = attachment.file.field.generate_filename(attachment, item.filename)
        if not default_storage.exists(name):
            name = default_storage.save(name, ContentFile(item.data))
        attachment.file.name = name
        rows.append(attachment)
    return rows
