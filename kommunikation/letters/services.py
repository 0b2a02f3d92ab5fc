"""A letter's life after the outbox: its record, its thread entry, its postal status.

``apply_postal_status`` is the one place a postal status reaches the thread entry's
timeline (through conversations.outbound's ``record_status`` / ``record_note``, the one
owner of outbound timeline writes).
The timeline moves forward only: each postal status is recorded once, at the time the
provider says it happened, and the letter's status never goes back to an earlier one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pypdf import PdfReader

from conversations.documents import attach_stored, hold_sent
from conversations.models import Message
from conversations.outbound import record_note, record_status
from kommunikation.letters.models import RANK, Letter, LetterMode, PostalStatus
from kommunikation.models import OutboundMessage

# postal states that are a status of the thread entry; the others are notes under "sent"
TIMELINE_STATUS = {
    PostalStatus.DELIVERED: Message.State.DELIVERED,
    PostalStatus.UNDELIVERABLE: Message.State.BOUNCED,
    PostalStatus.CANCELLED: Message.State.FAILED,
    PostalStatus.FAILED: Message.State.FAILED,
}


def pdf_pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def letter_filename(outbound_id: int) -> str:
    return f"brief-{outbound_id}.pdf"


def record_letter(
    *,
    outbound_id: int,
    brand,
    mode: str,
    pdf: bytes,
    status: str,
    provider_id: str = "",
    subject: str = "",
    address: str = "",
) -> Letter:
    """Keep the letter that was handed over (or held for printing), committed on its own.

    Committed at once, before the outbox row is written back: a worker killed between
    the provider's answer and the write-back finds it on the retry and does not create
    the letter at Pingen a second time.
    """
    row = OutboundMessage.objects.select_related("customer").get(pk=outbound_id)
    customer = row.customer
    now = timezone.now()
    letter = Letter(
        brand=brand,
        outbound_id=outbound_id,
        mode=mode,
        status=status,
        provider_id=provider_id,
        pages=pdf_pages(pdf),
        recipient=str(customer or "")[:200],
        address=address[:300],
        customer_number=(getattr(customer, "number", "") or "")[:40],
        subject=subject[:500],
        created_at=now,
        status_at=now,
    )
    letter.pdf.save(letter_filename(outbound_id), ContentFile(pdf), save=False)
    with transaction.atomic():
        letter.save()
    return letter


def thread_letters(
    rows: list[OutboundMessage], *, documents: dict[int, bytes] | None = None
) -> None:
    """In the dispatch write-back, after the thread entries were recorded: each letter's
    entry gets its PDF, and a letter held for printing stays "queued" ("zum Druck bereit").

    The PDF is stored once, by the letter; the thread's attachment names that same file.
    `documents`: the PDFs as rendered, by outbox row (spares reading them back to hash).
    """
    documents = documents or {}
    letters = Letter.objects.filter(outbound_id__in=[row.pk for row in rows])
    by_outbound = {letter.outbound_id: letter for letter in letters}
    for row in rows:
        letter = by_outbound.get(row.pk)
        if letter is None or row.message is None:
            continue
        data = documents.get(row.pk)
        if not data:
            with letter.pdf.open("rb") as handle:
                data = handle.read()
        attach_stored(
            row.message,
            filename=letter_filename(letter.outbound_id),
            content_type="application/pdf",
            name=letter.pdf.name,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        if letter.status == PostalStatus.READY:
            hold_sent(row.message, detail=str(PostalStatus.READY.label), at=row.sent_at)


def apply_postal_status(
    letter: Letter,
    status: str,
    *,
    at: dt.datetime | None = None,
    detail: str = "",
    row: OutboundMessage | None = None,
) -> bool:
    """Move a letter to a postal status and put it on its thread entry's timeline (once).

    Returns whether the letter moved; an earlier status arriving late is still recorded
    on the timeline (at its own time) but does not move the letter back. `row`: the
    letter's outbox row with its message, when the caller has it loaded.
    """
    at = at or timezone.now()
    status = PostalStatus(status)
    with transaction.atomic():
        current = Letter.objects.select_for_update().get(pk=letter.pk)
        moved = RANK[status] > RANK[PostalStatus(current.status)]
        if moved:
            current.status, current.status_at = status, at
            current.save(update_fields=["status", "status_at"])
        letter.status, letter.status_at = current.status, current.status_at
    if row is None:
        row = OutboundMessage.objects.select_related("message").get(pk=letter.outbound_id)
    text = _("Brief: %(status)s") % {"status": status.label}
    if detail:
        text = f"{text} ({detail})"
    if status in TIMELINE_STATUS:
        _to_timeline(row, TIMELINE_STATUS[status], text, at)
    elif status == PostalStatus.SENT and letter.mode == LetterMode.SELFPRINT:
        # printed in the office and posted: only now is it sent
        _to_timeline(row, Message.State.SENT, text, at)
    else:
        _to_timeline(row, None, text, at)
    return moved


def _to_timeline(row: OutboundMessage, status: str | None, text: str, at: dt.datetime) -> None:
    """The one call from letters into the thread entry's timeline (conversations.outbound,
    the owner of timeline writes): a status, recorded once and moving the message forward
    only, or, with None, a note under its current one. A row without a thread entry: none."""
    if row.message_id is None:
        return
    if status:
        record_status(row.message, status, at, detail=text)
    else:
        record_note(row.message, text, at)
