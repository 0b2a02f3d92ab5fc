"""Which conversation a new message belongs to."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.conf import settings

from conversations.models import Conversation, Message
from kommunikation.models import BusinessEntity

# Reply and forward prefixes of common mail clients and languages (Re:, AW:, WG:,
# Fwd:, SV:, Antw:, VS:, TR:, RIF:, ODP:, Doorst:, ...), with counters like
# "Re[2]:" or "AW (3):", and external-mail tags like "[EXT]" that gateways add.
_PREFIX = re.compile(
    r"""^\s*(?:
        (?:re|aw|wg|fw|fwd|sv|vs|antw|antwort|tr|rif|r|odp|doorst|wtr|vb|rv|enc|res|ynt|ilt)
        \s*(?:\[\d+\]|\(\d+\))?\s*[:：]
      | \[\s*(?:ext|extern|external|externe?\s+mail|spam|\*+\s*spam\s*\*+|warning|caution)\s*\]
      | \(\s*ext(?:ern)?\s*\)
      | \*+\s*(?:ext|spam)\s*\*+
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)


def normalize_subject(subject: str) -> str:
    """The subject without any depth of reply/forward prefixes, folded for comparison."""
    value = " ".join((subject or "").split())
    while True:
        stripped = _PREFIX.sub("", value, count=1)
        if stripped == value:
            break
        value = stripped
    return value.casefold().strip()[:200]


def find_conversation(
    *,
    brand: BusinessEntity,
    thread_ids: list[str],
    counterpart: str,
    subject_key: str,
    at: datetime,
) -> Conversation | None:
    """In-Reply-To/References against every known Message-ID of the brand, inbound and
    outbound; else the same normalised subject with the same counterpart within the window."""
    if thread_ids:
        conversation_id = (
            Message.objects.filter(conversation__brand=brand, message_id__in=thread_ids)
            .order_by("-id")
            .values_list("conversation_id", flat=True)
            .first()
        )
        if conversation_id:
            return Conversation.objects.get(pk=conversation_id)
    if subject_key and counterpart:
        window = timedelta(days=settings.THREADING_SUBJECT_WINDOW_DAYS)
        return (
            Conversation.objects.filter(
                brand=brand,
                counterpart=counterpart,
                subject_key=subject_key,
                last_message_at__gte=at - window,
                last_message_at__lte=at + window,
            )
            .order_by("-last_message_at", "-id")
            .first()
        )
    return None
