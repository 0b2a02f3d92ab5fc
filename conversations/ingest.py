"""The one way an email enters the system.

``ingest_raw_email(raw, brand=..., mailbox=..., source=...)``:

1. stores the raw bytes first, in their own transaction, so a later failure
   loses nothing; dedupes by Message-ID per mailbox (same content: duplicate;
   different content: kept and flagged) or by sha256 where there is none;
2. parses (``conversations.mime``), sanitises, threads, classifies by sender;
3. stores message, attachments and the conversation update in one transaction.

Whatever goes wrong in step 2 or 3, the message is stored flagged with the
reason and shows up in the inbox; it never stops a batch.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.classify import SenderClassifier
from conversations.mime import (
    ParsedEmail,
    content_hash,
    decode_bytes,
    parse_email,
    quick_message_id,
)
from conversations.models import (
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
from conversations.threading import find_conversation, normalize_subject
from kommunikation.models import BusinessEntity

log = logging.getLogger(__name__)

Outcome = Literal["new", "threaded", "duplicate", "flagged"]


@dataclass
class IngestResult:
    outcome: Outcome
    raw: RawEmail | None = None
    message: Message | None = None
    conversation: Conversation | None = None
    reason: str = ""


@dataclass
class IngestStats:
    """Counts of one batch, as the commands print them."""

    new: int = 0
    threaded: int = 0
    duplicate: int = 0
    flagged: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, result: IngestResult) -> None:
        setattr(self, result.outcome, getattr(self, result.outcome) + 1)

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
    """Per-batch caches (sender classification); one per command run or webhook call."""

    def __init__(self) -> None:
        self.classifier = SenderClassifier()


def ingest_raw_email(
    raw: bytes,
    *,
    brand: BusinessEntity,
    mailbox: Mailbox | None = None,
    source: str = "",
    context: IngestContext | None = None,
) -> IngestResult:
    context = context or IngestContext()
    stored = _store_raw(raw, brand=brand, mailbox=mailbox, source=source)
    if isinstance(stored, IngestResult):
        return stored
    raw_row, conflict = stored

    try:
        parsed = parse_email(raw)
        problems = list(parsed.problems)
        if conflict:
            problems.insert(0, _("Message-ID schon vorhanden, aber mit anderem Inhalt"))
        with transaction.atomic():
            return _store_message(raw_row, parsed, problems, mailbox=mailbox, context=context)
    except Exception as exc:  # anything at all: keep the message, flag it, go on
        log.exception("ingest failed for raw email %s", raw_row.pk)
        reason = _("Nachricht konnte nicht verarbeitet werden: %(error)s") % {
            "error": f"{type(exc).__name__}: {exc}"[:500]
        }
        reason = reason.replace("\x00", "")  # error texts may quote the data; PostgreSQL
        with transaction.atomic():
            return _store_unreadable(raw_row, raw, reason, mailbox=mailbox)


def _store_raw(
    raw: bytes, *, brand: BusinessEntity, mailbox: Mailbox | None, source: str
) -> tuple[RawEmail, bool] | IngestResult:
    sha = hashlib.sha256(raw).hexdigest()
    mailbox_key = str(mailbox.pk) if mailbox else ""
    message_id = quick_message_id(raw)
    chash = content_hash(raw)
    same_mailbox = RawEmail.objects.filter(brand=brand, mailbox_key=mailbox_key)
    with transaction.atomic():
        duplicate = same_mailbox.filter(sha256=sha).first()
        if duplicate is None and message_id:
            hashes = dict(
                same_mailbox.filter(message_id=message_id).values_list("content_hash", "pk")
            )
            if chash in hashes:
                duplicate = RawEmail.objects.get(pk=hashes[chash])
            conflict = bool(hashes) and duplicate is None
        else:
            conflict = False
        if duplicate is not None:
            return IngestResult("duplicate", raw=duplicate)
        try:
            with transaction.atomic():
                row = RawEmail.objects.create(
                    brand=brand,
                    mailbox=mailbox,
                    mailbox_key=mailbox_key,
                    message_id=message_id,
                    sha256=sha,
                    content_hash=chash,
                    data=raw,
                    size=len(raw),
                    source=source[:500],
                )
        except IntegrityError:  # the same bytes arrived concurrently
            return IngestResult("duplicate", raw=same_mailbox.get(sha256=sha))
    return row, conflict


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


def _store_message(
    raw_row: RawEmail,
    parsed: ParsedEmail,
    problems: list[str],
    *,
    mailbox: Mailbox | None,
    context: IngestContext,
) -> IngestResult:
    brand = raw_row.brand
    now = timezone.now()
    at = _message_time(parsed.date, now)
    counterpart = parsed.from_address[:254]
    subject_key = normalize_subject(parsed.subject)

    conversation = find_conversation(
        brand=brand,
        thread_ids=parsed.thread_ids,
        counterpart=counterpart,
        subject_key=subject_key,
        at=at,
    )
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
    if verdict:
        conversation.classification = verdict.classification
        conversation.classified_automatically = True
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
    if conversation.response_due_at is None:
        conversation.response_due_at = at + timedelta(
            hours=settings.SLA_HOURS.get(conversation.priority, 24)
        )
    if problems:
        conversation.flagged = True
    conversation.save()

    message = Message.objects.create(
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
        sent_at=parsed.date,
        created_at=now,
    )
    _store_attachments(message, parsed)

    if verdict:
        ClassificationChange.objects.create(
            conversation=conversation,
            from_classification=UNCLASSIFIED,
            to_classification=verdict.classification,
            to_customer_id=verdict.customer_id,
            automatic=True,
            reason=verdict.reason,
            changed_at=now,
        )
    raw_row.state = RawEmail.State.FLAGGED if problems else RawEmail.State.PARSED
    raw_row.error = "; ".join(problems + parsed.notes)
    raw_row.save(update_fields=["state", "error"])
    return IngestResult(
        "flagged" if problems else outcome,
        raw=raw_row,
        message=message,
        conversation=conversation,
        reason="; ".join(problems),
    )


def _store_attachments(message: Message, parsed: ParsedEmail) -> None:
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
    if rows:
        Attachment.objects.bulk_create(rows)


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
        "flagged", raw=raw_row, message=message, conversation=conversation, reason=reason
    )
