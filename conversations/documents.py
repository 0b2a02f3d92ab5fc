"""Files and holds on outbound thread entries, for channels whose message is a document.

A letter's thread entry carries its PDF as an attachment (the letter's own stored file), and a letter printed in the
office is not sent when the outbox hands it over: it waits for the print batch. The
dispatch write-back calls these inside its transaction, right after it recorded the
entries (``kommunikation.letters.services.thread_letters``).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.core.files.base import ContentFile

from conversations.models import Attachment, Message, StatusChange


def attach_document(
    message: Message, *, filename: str, content_type: str, data: bytes
) -> Attachment:
    """Attach a file to a message (content-addressed like ingested attachments)."""
    sha = hashlib.sha256(data).hexdigest()
    attachment = Attachment(
        message=message,
        filename=filename[:255],
        content_type=content_type,
        size=len(data),
        sha256=sha,
    )
    attachment.file.save(filename, ContentFile(data), save=False)
    attachment.save()
    return attachment


def attach_stored(
    message: Message, *, filename: str, content_type: str, name: str, size: int, sha256: str
) -> Attachment:
    """Attach a file that is stored already (a letter's PDF, kept by the letter): the
    attachment names the same file, nothing is written a second time."""
    return Attachment.objects.create(
        message=message,
        file=name,
        filename=filename[:255],
        content_type=content_type,
        size=size,
        sha256=sha256,
    )


def hold_sent(message: Message, *, detail: str, at: dt.datetime) -> None:
    """A message the channel keeps for later (a letter for the print batch): its
    just-recorded "sent" becomes "queued" with the reason, until the channel records
    "sent" itself (``record_status``)."""
    Message.objects.filter(pk=message.pk).update(status=Message.State.QUEUED, sent_at=None)
    StatusChange.objects.filter(message=message, status=Message.State.SENT).update(
        status=Message.State.QUEUED, detail=detail[:500], at=at
    )
    message.status, message.sent_at = Message.State.QUEUED, None
