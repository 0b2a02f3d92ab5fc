"""Which conversation a new message belongs to."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
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

# IN lists are split so that no query exceeds a database's parameter limit
IN_CHUNK = 500


def normalize_subject(subject: str) -> str:
    """The subject without any depth of reply/forward prefixes, folded for comparison."""
    value = " ".join((subject or "").split())
    while True:
        stripped = _PREFIX.sub("", value, count=1)
        if stripped == value:
            break
        value = stripped
    return value.casefold().strip()[:200]


def subject_window() -> timedelta:
    return timedelta(days=settings.THREADING_SUBJECT_WINDOW_DAYS)


def find_conversation(
    *,
    brand: BusinessEntity,
    thread_ids: list[str],
    counterpart: str,
    subject_key: str,
    at: datetime,
) -> Conversation | None:
    """In-Reply-To/References against every known Message-ID of the brand, inbound and
    outbound (the newest message that matches wins); else the same normalised subject
    with the same counterpart within the window."""
    if thread_ids:
        conversation = (
            Conversation.objects.filter(brand=brand, messages__message_id__in=thread_ids)
            .order_by("-messages__id")
            .first()
        )
        if conversation is not None:
            return conversation
    if subject_key and counterpart:
        window = subject_window()
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


def _chunks(values: Sequence[str], size: int = IN_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class BatchThreading:
    """``find_conversation`` for a whole batch of messages with two queries.

    Built from every message's (thread_ids, counterpart, subject_key, at), it loads the
    brand's messages with any of the referenced Message-IDs and every conversation that
    could match, once. Then ``find`` answers for one message after the other, in input
    order, and ``add`` records where each message went, so that a reply later in the
    batch threads into a message earlier in the batch (by Message-ID or by subject) just
    as if they had been ingested one by one. The conversations are shared objects: the
    caller updates them in place and saves them at the end.
    """

    def __init__(
        self, brand: BusinessEntity, lookups: Sequence[tuple[list[str], str, str, datetime]]
    ) -> None:
        self.window = subject_window()
        # Message-ID -> (message pk, conversation pk) of the newest known message
        self._known: dict[str, tuple[int, int]] = {}
        ids = sorted({mid for thread_ids, *_rest in lookups for mid in thread_ids})
        for chunk in _chunks(ids):
            for mid, pk, conversation_id in Message.objects.filter(
                conversation__brand=brand, message_id__in=chunk
            ).values_list("message_id", "id", "conversation_id"):
                if mid not in self._known or pk > self._known[mid][0]:
                    self._known[mid] = (pk, conversation_id)

        subject_lookups = [(cp, key, at) for _ids, cp, key, at in lookups if cp and key]
        # two queries, each along its index (an OR of both would read all of the brand's)
        conversations = Conversation.objects.filter(brand=brand)
        self._conversations: dict[int, Conversation] = {}
        if self._known:
            self._conversations.update(
                conversations.in_bulk(sorted({c for _pk, c in self._known.values()}))
            )
        if subject_lookups:
            ats = [at for _cp, _key, at in subject_lookups]
            for conversation in conversations.filter(
                counterpart__in=sorted({cp for cp, _key, _at in subject_lookups}),
                subject_key__in=sorted({key for _cp, key, _at in subject_lookups}),
                last_message_at__gte=min(ats) - self.window,
                last_message_at__lte=max(ats) + self.window,
            ):
                self._conversations.setdefault(conversation.pk, conversation)
        self._by_subject: dict[tuple[str, str], list[Conversation]] = defaultdict(list)
        self._registered: set[int] = set()
        for conversation in self._conversations.values():
            self._register(conversation)
        # Message-ID -> (position in the batch, conversation) of the batch's own messages
        self._batch_ids: dict[str, tuple[int, Conversation]] = {}
        self._created: dict[int, int] = {}  # id(new conversation) -> position created at
        self._position = 0

    def _register(self, conversation: Conversation) -> None:
        if id(conversation) not in self._registered:
            self._registered.add(id(conversation))
            self._by_subject[(conversation.counterpart, conversation.subject_key)].append(
                conversation
            )

    def _recency(self, conversation: Conversation) -> tuple:
        # a conversation created in this batch gets a higher id than every stored one
        if conversation.pk is None:
            return (conversation.last_message_at, 1, self._created[id(conversation)])
        return (conversation.last_message_at, 0, conversation.pk)

    def find(
        self, *, thread_ids: list[str], counterpart: str, subject_key: str, at: datetime
    ) -> Conversation | None:
        in_batch = [self._batch_ids[m] for m in thread_ids if m in self._batch_ids]
        if in_batch:  # newer than any stored message
            return max(in_batch, key=lambda hit: hit[0])[1]
        stored = [self._known[m] for m in thread_ids if m in self._known]
        if stored:
            conversation = self._conversations.get(max(stored)[1])
            if conversation is not None:
                return conversation
        if subject_key and counterpart:
            candidates = [
                c
                for c in self._by_subject.get((counterpart, subject_key), ())
                if at - self.window <= c.last_message_at <= at + self.window
            ]
            if candidates:
                return max(candidates, key=self._recency)
        return None

    def add(self, conversation: Conversation, message_id: str) -> None:
        """A message of the batch went into ``conversation`` (new or stored)."""
        self._position += 1
        if conversation.pk is None:
            self._created.setdefault(id(conversation), self._position)
        self._register(conversation)
        if message_id:
            self._batch_ids[message_id] = (self._position, conversation)
