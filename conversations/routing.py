"""Which brand an incoming message is for, when its entry path does not say.

IMAP fetches and webhooks for a known mailbox carry their brand; a file import and a
webhook to an address of no mailbox do not. For those, ``BrandRouter.route`` decides,
from the header block alone (it runs before the raw bytes are stored, so it must not
fail on any input), in this order:

1. a message we already have (its own Message-ID is known) stays where it is, so that
   importing the same files again stores nothing twice, also after a conversation was
   moved to another brand;
2. a reply (In-Reply-To / References names a known message, the newest one wins) goes
   to the brand of that conversation: the thread is where people already decided it
   belongs, even when the customer wrote to another brand's address;
3. the recipients, in the order of trust Delivered-To, X-Original-To (both written by
   the receiving server), To, Cc: the first address that is a brand's mailbox or
   sender address (support, sales, admin, noreply), or on one of its domains or their
   subdomains (the longest matching domain wins);
4. else the fallback brand, and the route says so (the commands count these).

Messages of one batch see each other in input order, as if they came one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from conversations.mime import message_ids, quick_message_id
from conversations.models import Mailbox, Message
from kommunikation.contact import email_domain
from kommunikation.models import BusinessEntity
from kommunikation.services import default_brand

log = logging.getLogger(__name__)

# the recipient headers, most trusted first
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "To", "Cc")
IN_CHUNK = 500

KNOWN = "known"
THREAD = "thread"
RECIPIENT = "recipient"
FALLBACK = "fallback"


@dataclass(frozen=True)
class Route:
    brand: BusinessEntity
    by: str  # KNOWN, THREAD, RECIPIENT or FALLBACK

    @property
    def matched(self) -> bool:
        return self.by != FALLBACK


@dataclass
class _Envelope:
    """What routing reads from a message's header block."""

    message_id: str = ""
    thread_ids: tuple[str, ...] = ()  # nearest first, as ParsedEmail.thread_ids
    recipients: tuple[str, ...] = ()  # most trusted first


def _header_block(raw: bytes) -> bytes:
    # a slice of the header block only: no copy of a big body
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return raw[: min(ends)] if ends else raw


def read_envelope(raw: bytes, extra_recipients: Sequence[str] = ()) -> _Envelope:
    """Never raises: a header block nobody can read routes by nothing."""
    envelope = _Envelope(message_id=quick_message_id(raw))
    recipients = [r for r in extra_recipients if r]
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(_header_block(raw))
        in_reply_to = message_ids(str(headers.get("In-Reply-To", "")))
        references = message_ids(" ".join(map(str, headers.get_all("References", []))))
        envelope.thread_ids = tuple(dict.fromkeys(in_reply_to[:1] + references[::-1]))
        for name in RECIPIENT_HEADERS:
            values = [str(v) for v in headers.get_all(name, [])]
            recipients += [address for _name, address in getaddresses(values)]
    except Exception:  # a header block the parser cannot read at all
        log.debug("routing could not read the headers", exc_info=True)
    envelope.recipients = tuple(
        a.strip().strip("<>").lower() for a in recipients if "@" in a and a.strip()
    )
    return envelope


class BrandRouter:
    """The brands' addresses and domains, read once; one per command run or webhook call."""

    def __init__(self, fallback: BusinessEntity | None = None) -> None:
        self.brands = {brand.pk: brand for brand in BusinessEntity.objects.order_by("pk")}
        self.fallback = fallback or default_brand()
        self.brands.setdefault(self.fallback.pk, self.fallback)
        self._addresses: dict[str, int] = {}
        for address, brand_id in (
            Mailbox.objects.exclude(address="").order_by("pk").values_list("address", "brand_id")
        ):
            self._addresses.setdefault(address.lower(), brand_id)
        self._domains: list[tuple[str, int]] = []
        for brand in self.brands.values():
            for field in ("support_email", "sales_email", "admin_email", "noreply_email"):
                address = (getattr(brand, field) or "").strip().lower()
                if address:
                    self._addresses.setdefault(address, brand.pk)
            for domain in brand.domains or []:
                domain = str(domain).strip().lower().lstrip("@")
                if domain:
                    self._domains.append((domain, brand.pk))
        self._domains.sort(key=lambda item: -len(item[0]))  # the most specific first

    def brand_for_address(self, address: str) -> BusinessEntity | None:
        address = address.strip().lower()
        if address in self._addresses:
            return self.brands[self._addresses[address]]
        domain = email_domain(address)
        for own, brand_id in self._domains:
            if domain == own or domain.endswith("." + own):
                return self.brands[brand_id]
        return None

    def brand_for_recipients(self, recipients: Iterable[str]) -> BusinessEntity | None:
        for address in recipients:
            brand = self.brand_for_address(address)
            if brand is not None:
                return brand
        return None

    def route(self, raws: Sequence[bytes], *, extra_recipients: Sequence[str] = ()) -> list[Route]:
        """One route per raw message, in order; one query for the whole list.
        ``extra_recipients`` (an ESP's envelope recipient) rank above every header."""
        envelopes = [read_envelope(raw, extra_recipients) for raw in raws]
        stored = self._stored_messages(envelopes)
        in_batch: dict[str, tuple[int, int]] = {}  # Message-ID -> (position, brand id)
        routes = []
        for position, envelope in enumerate(envelopes):
            route = self._route_one(envelope, stored, in_batch)
            if envelope.message_id:
                in_batch.setdefault(envelope.message_id, (position, route.brand.pk))
            routes.append(route)
        return routes

    def _route_one(self, envelope: _Envelope, stored: dict, in_batch: dict) -> Route:
        own = envelope.message_id
        if own in in_batch:
            return Route(self.brands[in_batch[own][1]], KNOWN)
        if own in stored:
            return Route(self._brand(stored[own]["raw_brand"] or stored[own]["brand"]), KNOWN)
        earlier = [in_batch[m] for m in envelope.thread_ids if m in in_batch]
        if earlier:  # newer than anything stored
            return Route(self.brands[max(earlier)[1]], THREAD)
        known = [stored[m] for m in envelope.thread_ids if m in stored]
        if known:
            newest = max(known, key=lambda row: row["pk"])
            return Route(self._brand(newest["brand"]), THREAD)
        brand = self.brand_for_recipients(envelope.recipients)
        if brand is not None:
            return Route(brand, RECIPIENT)
        return Route(self.fallback, FALLBACK)

    def _brand(self, pk: int) -> BusinessEntity:
        if pk not in self.brands:  # a brand created during the run
            self.brands[pk] = BusinessEntity.objects.get(pk=pk)
        return self.brands[pk]

    @staticmethod
    def _stored_messages(envelopes: list[_Envelope]) -> dict[str, dict]:
        """Message-ID -> the newest stored message with it: its pk, its conversation's
        brand and (for received mail) the brand of its raw row, where dedupe looks."""
        ids = sorted({m for e in envelopes for m in (e.message_id, *e.thread_ids) if m})
        found: dict[str, dict] = {}
        for start in range(0, len(ids), IN_CHUNK):
            rows = Message.objects.filter(message_id__in=ids[start : start + IN_CHUNK])
            for message_id, pk, brand_id, raw_brand_id in rows.values_list(
                "message_id", "pk", "conversation__brand_id", "raw__brand_id"
            ):
                row = found.get(message_id)
                if row is None or pk > row["pk"]:
                    found[message_id] = {"pk": pk, "brand": brand_id, "raw_brand": raw_brand_id}
        return found


def route_inbound(recipients: list[str]) -> tuple[BusinessEntity | None, Mailbox | None]:
    """For a webhook: the mailbox (and so the brand) of the first recipient that is a
    mailbox's address; else (None, None), and ingestion routes by the message itself."""
    addresses = [r.strip().lower() for r in recipients if r and "@" in r]
    by_address = {
        m.address: m for m in Mailbox.objects.select_related("brand").filter(address__in=addresses)
    }
    for address in addresses:
        if address in by_address:
            return by_address[address].brand, by_address[address]
    return None, None
