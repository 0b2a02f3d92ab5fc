"""The sevDesk sync: contacts become customers, invoice and order changes become events.

sevDesk has no webhooks, so every brand's account is polled (``sync_all``, every five
minutes and by ``manage.py sync_sevdesk``). Per resource (Contact, CommunicationWay,
Invoice, Order) the sync asks for what changed since the last high-water mark minus an
overlap (``updateAfter``, settings.SEVDESK_OVERLAP_MINUTES), page by page. Each invoice and
order is compared with its last ``SevdeskSnapshot``: only a change of the fields that matter
(status, amounts, dates) bumps the snapshot's version and may become an event, so the
overlap, a re-run or ``--full`` never makes an event twice. Source keys (source "sevdesk"):

- ``sevdesk:invoice:<id>:created``              invoice.created (status 200/750/1000 appears)
- ``sevdesk:invoice:<id>:sent``                 invoice.sent (once: sendDate/sendType appear
  on an open invoice)
- ``sevdesk:invoice:<id>:status:750:v<version>`` invoice.partially_paid (each new paid amount)
- ``sevdesk:invoice:<id>:status:1000:v<version>`` payment.received
- ``sevdesk:order:<id>:created``                quote.created (AN) / order.created (AB)
- ``sevdesk:order:<id>:sent``                   quote.sent (once: sendDate/sendType appear on
  an open quote, status 200)
- ``sevdesk:order:<id>:status:500:v<version>``  quote.accepted (AN)
- ``sevdesk:order:<id>:status:<s>:v<version>``  order.status_changed (AB: 200 new_order,
  1000 completed)
- ``sevdesk:order:<id>:shipped``                order.status_changed to shipped, for the order
  the delivery note (LI) came from, once the note is sent and names a tracking number
- ``sevdesk:order:<id>:delivery_note``          order.delivery_note_sent (the note is sent
  without a tracking number)
- ``sevdesk:invoice:<id>:overdue:<level>``      invoice.overdue (the daily scan, once per level)

Drafts (100) never become events; cancellation (SR) and reminder (MA) invoices are stored but
make none. An invoice counts as sent when sevDesk has a ``sendDate`` or a ``sendType`` for it
(set by sendBy / sendViaEmail); one already paid when it is sent makes no invoice.sent (it
would ask for money that has arrived). sevDesk has no tracking field: the number is read
from a labelled line ("Sendungsnummer: ...", "Tracking-Nr. ...") in the delivery note's
texts or reference; a delivery note links to its order by ``origin``.

**First-sync guard (for the rules engine):** the first sync of a connection
(``initial_sync_at`` empty) imports contacts and stores cursors and snapshots, and records
**no events at all**. Later, a record that is new to us but was created in sevDesk before the
first sync (a gap, deleted snapshots) is history too and is only stored. The overdue scan
only makes levels reached after the first sync. So every event with source "sevdesk" is
live and the engine needs no check of its own; there is no "historical" event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kommunikation.events.services import EventConflict, InvalidEvent, record_event
from kommunikation.models import (
    BusinessEntity,
    ContactChannel,
    ContactPoint,
    ContactType,
    Customer,
    CustomerKind,
    Gender,
    normalize_contact,
)
from kommunikation.sevdesk.client import SevdeskAuthError, SevdeskClient, SevdeskError
from kommunikation.sevdesk.models import SevdeskConnection, SevdeskSnapshot

log = logging.getLogger(__name__)

SOURCE = "sevdesk"
RESOURCES = ("Contact", "CommunicationWay", "Invoice", "Order")
BATCH = 500  # objects handled per transaction

# Contact categories (sevdesk.md): the standard ones say what a contact is, any other one is
# the account's own grouping, which we keep as the industry
CATEGORY_SUPPLIER = "2"
STANDARD_CATEGORIES = {"2", "3", "4", "28"}
# CommunicationWayKey ids: 1 Privat, 2 Arbeit, 3 Fax, 4 Mobil, 7 Newsletter
WAY_KEY_TYPES = {"1": ContactType.PRIVATE, "2": ContactType.WORK, "4": ContactType.MOBILE}
WAY_KEY_TYPES["7"] = ContactType.NEWSLETTER
WAY_KEY_FAX = "3"

INVOICE_LIVE = {"200", "750", "1000"}
INVOICE_NO_EVENTS = {"SR", "MA"}  # cancellations, sevDesk's own reminders
ORDER_LIVE = {"200", "300", "500", "750", "1000"}
# a delivery note that went out (200 delivered, later invoiced); 300 is a cancelled one
DELIVERY_NOTE_SENT = {"200", "500", "750", "1000"}
# AB (order confirmation) status -> seed 002's order status
ORDER_STATUS_MAP = {"200": "new_order", "1000": "completed"}
QUOTE_VALID_DAYS = 30  # sevDesk has no "valid until"; quotes say 30 days
# an invoice that is sent while still open (a paid one needs no "here is your invoice")
INVOICE_SENDABLE = {"200", "750"}
# sevDesk has no tracking field: a labelled number in the delivery note's texts. The label
# ignores case, the number does not (upper-case letters and digits, at least one digit, or
# digit groups as DHL prints them), so "Sendungsnummer folgt" names no number.
TRACKING_NUMBER = re.compile(
    r"(?i:sendungs-?(?:nummer|nr\.?)|tracking(?:-?(?:nummer|nr\.?|number|id|code))?"
    r"|paket-?(?:nummer|nr\.?))\s*[:#]?\s*"
    r"(?P<number>(?=[A-Z]*\d)[A-Z0-9]{8,40}(?![A-Za-z0-9])|\d{2,6}(?: \d{2,6}){1,9}(?!\d))"
)
CARRIERS = {"dhl": "DHL", "dpd": "DPD", "ups": "UPS", "gls": "GLS", "hermes": "Hermes"}
CARRIERS |= {"fedex": "FedEx", "deutsche post": "Deutsche Post"}
CARRIER_NAME = re.compile(r"\b(" + "|".join(CARRIERS) + r")\b", re.IGNORECASE)
TRACKING_FIELDS = ("headText", "footText", "customerInternalNote", "header")


@dataclass
class SyncResult:
    brand: str
    first: bool = False
    requests: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESOURCES, 0))
    events: int = 0
    history: int = 0  # records only stored, as the first-sync guard wants
    skipped: int = 0  # unusable addresses, unknown contacts
    error: str = ""

    def summary(self) -> str:
        if self.error:
            return _("%(brand)s: Fehler – %(error)s") % {"brand": self.brand, "error": self.error}
        text = _(
            "%(brand)s: %(contacts)s Kontakte, %(ways)s Kontaktwege, %(invoices)s Rechnungen, "
            "%(orders)s Aufträge, %(events)s Ereignisse, %(requests)s Anfragen"
        ) % {
            "brand": self.brand,
            "contacts": self.counts["Contact"],
            "ways": self.counts["CommunicationWay"],
            "invoices": self.counts["Invoice"],
            "orders": self.counts["Order"],
            "events": self.events,
            "requests": self.requests,
        }
        if self.first:
            text += " " + _("(Erstabgleich: keine Ereignisse für die Vorgeschichte)")
        return text


# --- parsing sevDesk's strings --------------------------------------------------------------


def _s(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _ref(value: Any) -> str:
    return _s(value.get("id")) if isinstance(value, dict) else ""


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(_s(value) or "0").quantize(Decimal("0.01"))
    except InvalidOperation:
        return Decimal("0.00")


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(Decimal(_s(value)))
    except (InvalidOperation, ValueError):
        return default


def _datetime(value: Any) -> dt.datetime | None:
    raw = _s(value)
    if not raw:
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except ValueError:
        try:  # sevDesk's other date format, dd.mm.yyyy
            day, month, year = (int(part) for part in raw.split("."))
            return dt.datetime(year, month, day, tzinfo=ZoneInfo(settings.TIME_ZONE))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = timezone.make_aware(parsed)
    return parsed


def _date(value: Any) -> dt.date | None:
    # the date as written (2024-04-08T00:00:00+02:00 is the 8th, not the 7th in UTC)
    parsed = _datetime(value)
    return parsed.date() if parsed else None


def _iso(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def invoice_fields(obj: dict) -> dict[str, Any]:
    """What we keep of an invoice (plain JSON); due date = invoice date + timeToPay days."""
    invoice_date = _date(obj.get("invoiceDate"))
    time_to_pay = _int(obj.get("timeToPay"))
    due = invoice_date + dt.timedelta(days=time_to_pay) if invoice_date else None
    gross, paid = _dec(obj.get("sumGross")), _dec(obj.get("paidAmount"))
    return {
        "number": _s(obj.get("invoiceNumber")),
        "status": _s(obj.get("status")),
        "type": _s(obj.get("invoiceType")) or "RE",
        "contact": _ref(obj.get("contact")),
        "invoice_date": _iso(invoice_date),
        "time_to_pay": time_to_pay,
        "due_date": _iso(due),
        "sum_net": str(_dec(obj.get("sumNet"))),
        "sum_gross": str(gross),
        "paid_amount": str(paid),
        "open_amount": str(
            max(gross - paid, Decimal("0.00"))
            if _s(obj.get("status")) != "1000"
            else Decimal("0.00")
        ),
        "pay_date": _iso(_date(obj.get("payDate"))),
        "currency": _s(obj.get("currency")) or "EUR",
        "send_date": _iso(_date(obj.get("sendDate"))),
        "send_type": _s(obj.get("sendType")),
    }


def tracking_of(obj: dict) -> tuple[str, str]:
    """(tracking number, carrier) from a delivery note's texts; ("", "") for none."""
    for name in TRACKING_FIELDS:
        # head and foot texts may carry a few HTML tags: a tag separates words
        text = html.unescape(re.sub(r"<[^>]*>", " ", _s(obj.get(name))))
        match = TRACKING_NUMBER.search(text)
        if match:
            carrier = CARRIER_NAME.search(text)
            number = match.group("number").replace(" ", "")
            return number, CARRIERS[carrier.group(1).lower()] if carrier else ""
    return "", ""


def order_fields(obj: dict) -> dict[str, Any]:
    origin = obj.get("origin") if isinstance(obj.get("origin"), dict) else {}
    fields = {
        "number": _s(obj.get("orderNumber")),
        "status": _s(obj.get("status")),
        "type": _s(obj.get("orderType")),
        "contact": _ref(obj.get("contact")),
        "order_date": _iso(_date(obj.get("orderDate"))),
        "sum_net": str(_dec(obj.get("sumNet"))),
        "sum_gross": str(_dec(obj.get("sumGross"))),
        "currency": _s(obj.get("currency")) or "EUR",
    }
    if fields["type"] in ("AN", "LI"):
        # a quote or delivery note counts as sent once sevDesk has a sendDate/sendType
        fields["send_date"] = _iso(_date(obj.get("sendDate")))
        fields["send_type"] = _s(obj.get("sendType"))
    if fields["type"] == "LI":
        # the order the delivery note was made from (origin, "Order"), and what it says
        # about the parcel; only delivery notes keep these, so other orders' digests stay
        fields["origin"] = _ref(origin) if _s(origin.get("objectName")) in ("", "Order") else ""
        fields["tracking_number"], fields["carrier"] = tracking_of(obj)
    return fields


# --- events from a change -------------------------------------------------------------------


@dataclass
class PlannedEvent:
    type: str
    source_key: str
    payload: dict[str, Any]
    record_kind: str = ""
    # the record the event is about when it is not the changed document itself (a
    # delivery note's events are about its order): id, number, status, version
    record: tuple[str, str, str, str] | None = None


def _is_sent(fields: dict) -> bool:
    return bool(fields.get("send_date") or fields.get("send_type"))


def _was_sent(prev: dict | None) -> bool:
    if prev is None:
        return False
    if "send_date" not in prev:
        # a snapshot from before sends were kept: an invoice past draft was sent then
        return prev["status"] in INVOICE_LIVE
    return prev["status"] in INVOICE_LIVE and _is_sent(prev)


def _quote_was_sent(prev: dict | None) -> bool:
    if prev is None:
        return False
    if "send_type" not in prev:
        # a snapshot from before quote sends were kept: a live quote was sent then
        return prev["status"] in ORDER_LIVE
    return _is_sent(prev)


def invoice_events(
    ext_id: str, prev: dict | None, new: dict, version: int, origin: dict | None = None
) -> list[PlannedEvent]:
    """The events a change of an invoice makes (prev None: first seen; origin unused)."""
    if new["type"] in INVOICE_NO_EVENTS:
        return []
    before, now = (prev or {}).get("status"), new["status"]
    base = {
        "invoice_number": new["number"],
        "invoice_date": new["invoice_date"],
        "due_date": new["due_date"],
        "amount": new["sum_gross"],
        "currency": new["currency"],
        "sevdesk_id": ext_id,
    }
    key = f"sevdesk:invoice:{ext_id}"
    events = []
    if now in INVOICE_LIVE and before not in INVOICE_LIVE:
        events.append(PlannedEvent("invoice.created", f"{key}:created", base))
    if now in INVOICE_SENDABLE and _is_sent(new) and not _was_sent(prev):
        # once per invoice (no version in the key): sending it again is no news
        payload = {
            **base,
            "send_date": new["send_date"] or timezone.localdate().isoformat(),
            "send_type": new["send_type"],
        }
        events.append(PlannedEvent("invoice.sent", f"{key}:sent", payload))
    if now == "750" and (before != "750" or prev["paid_amount"] != new["paid_amount"]):
        payload = {
            **base,
            "paid_amount": new["paid_amount"],
            "open_amount": new["open_amount"],
            "payment_date": new["pay_date"] or timezone.localdate().isoformat(),
        }
        events.append(
            PlannedEvent("invoice.partially_paid", f"{key}:status:750:v{version}", payload)
        )
    if now == "1000" and before != "1000":
        payload = {**base, "payment_date": new["pay_date"] or timezone.localdate().isoformat()}
        events.append(PlannedEvent("payment.received", f"{key}:status:1000:v{version}", payload))
    return events


def order_events(
    ext_id: str, prev: dict | None, new: dict, version: int, origin: dict | None = None
) -> list[PlannedEvent]:
    """The events a change of an order makes; ``origin``: the stored fields of the order a
    delivery note was made from (None when unknown)."""
    if new["type"] == "LI":
        return delivery_note_events(ext_id, prev, new, version, origin)
    before, now = (prev or {}).get("status"), new["status"]
    key = f"sevdesk:order:{ext_id}"
    first_live = now in ORDER_LIVE and before not in ORDER_LIVE
    events = []
    if new["type"] == "AN":
        order_date = dt.date.fromisoformat(new["order_date"]) if new["order_date"] else None
        quote = {
            "quote_number": new["number"],
            "quote_total": new["sum_gross"],
            "valid_until": _iso(order_date + dt.timedelta(days=QUOTE_VALID_DAYS))
            if order_date
            else "",
            "sevdesk_id": ext_id,
        }
        if first_live:
            events.append(PlannedEvent("quote.created", f"{key}:created", quote, "quote"))
        if now == "200" and _is_sent(new) and not _quote_was_sent(prev):
            # once per quote (no version in the key): the follow-ups of seed 002's
            # "quote_sent" and the +7 days call start here
            sent = {**quote, "send_date": new["send_date"], "send_type": new["send_type"]}
            events.append(PlannedEvent("quote.sent", f"{key}:sent", sent, "quote"))
        if now == "500" and before != "500":
            accepted = {
                "quote_number": new["number"],
                "quote_total": new["sum_gross"],
                "accepted_date": timezone.localdate().isoformat(),
                "sevdesk_id": ext_id,
            }
            events.append(
                PlannedEvent("quote.accepted", f"{key}:status:500:v{version}", accepted, "quote")
            )
    elif new["type"] == "AB":
        if first_live:
            payload = {
                "order_number": new["number"],
                "order_date": new["order_date"],
                "order_total": new["sum_gross"],
                "order_status_friendly": _("bestätigt"),
                "items": [],  # positions would cost one request per order
                "sevdesk_id": ext_id,
            }
            events.append(PlannedEvent("order.created", f"{key}:created", payload, "order"))
        elif before and before != now and ORDER_STATUS_MAP.get(now):
            status, previous = ORDER_STATUS_MAP[now], ORDER_STATUS_MAP.get(before, "")
            if status != previous:
                payload = {
                    "order_number": new["number"],
                    "status": status,
                    "previous_status": previous,
                    "changed_at": timezone.localdate().isoformat(),
                    "sevdesk_id": ext_id,
                }
                events.append(
                    PlannedEvent(
                        "order.status_changed", f"{key}:status:{now}:v{version}", payload, "order"
                    )
                )
    return events


def delivery_note_events(
    ext_id: str, prev: dict | None, new: dict, version: int, origin: dict | None
) -> list[PlannedEvent]:
    """A delivery note that is sent ships its order: order.status_changed to shipped with
    the tracking number, or order.delivery_note_sent while it names none. A number added
    to a note already sent ships then; each of the two once per note."""
    before, now = (prev or {}).get("status"), new["status"]
    if now not in DELIVERY_NOTE_SENT:
        return []
    first_live = before not in DELIVERY_NOTE_SENT
    tracking = new.get("tracking_number", "")
    had_tracking = not first_live and bool((prev or {}).get("tracking_number"))
    origin_id = new.get("origin", "") if origin is not None else ""
    order_number = origin["number"] if origin_id else new["number"]
    # about the order it ships (so its pending follow-ups see that it moved on); the
    # version names the note, so a second delivery of the same order is news again
    record = (
        origin_id or ext_id,
        order_number,
        origin["status"] if origin_id else now,
        f"LI{ext_id}.v{version}",
    )
    common = {
        "order_number": order_number,
        "delivery_note_number": new["number"],
        "sevdesk_id": origin_id or ext_id,
        "delivery_note_id": ext_id,
    }
    key = f"sevdesk:order:{ext_id}"
    day = new.get("send_date") or timezone.localdate().isoformat()
    if tracking and not had_tracking:
        previous = ""
        if origin_id and origin["type"] == "AB":
            previous = ORDER_STATUS_MAP.get(origin["status"], "")
        elif origin_id and origin["type"] == "AN":
            previous = "quote_sent"
        payload = {
            **common,
            "status": "shipped",
            "previous_status": previous,
            "changed_at": day,
            "tracking_number": tracking,
            "carrier": new.get("carrier", ""),
        }
        return [PlannedEvent("order.status_changed", f"{key}:shipped", payload, "order", record)]
    if first_live:
        payload = {**common, "delivery_date": day}
        return [
            PlannedEvent(
                "order.delivery_note_sent", f"{key}:delivery_note", payload, "order", record
            )
        ]
    return []


# --- the sync -------------------------------------------------------------------------------


def _batches(items: Iterable[dict], size: int = BATCH) -> Iterator[list[dict]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def connections_to_sync(brand_slug: str | None = None) -> list[SevdeskConnection]:
    """Active connections with a token; brands with a token in the environment get a row."""
    brands = BusinessEntity.objects.all()
    if brand_slug:
        brands = brands.filter(slug=brand_slug)
    env_slugs = set(settings.SEVDESK_TOKENS)
    if settings.SEVDESK_API_TOKEN:
        if settings.SEVDESK_BRAND:
            env_slugs.add(settings.SEVDESK_BRAND.lower())
        elif BusinessEntity.objects.count() == 1:
            env_slugs.add(BusinessEntity.objects.get().slug)
    for brand in brands.filter(slug__in=env_slugs):
        SevdeskConnection.objects.get_or_create(brand=brand)
    connections = SevdeskConnection.objects.filter(brand__in=brands, active=True).select_related(
        "brand"
    )
    return [c for c in connections if c.effective_token]


def sync_all(
    *, brand_slug: str | None = None, full: bool = False, sleep: Callable = time.sleep
) -> list[SyncResult]:
    return [sync_connection(c, full=full, sleep=sleep) for c in connections_to_sync(brand_slug)]


class _Sync:
    def __init__(self, connection: SevdeskConnection, client: SevdeskClient, *, full: bool):
        self.connection = connection
        self.brand = connection.brand
        self.client = client
        self.full = full
        self.first = connection.initial_sync_at is None
        self.result = SyncResult(brand=self.brand.slug, first=self.first)
        overlap = dt.timedelta(minutes=settings.SEVDESK_OVERLAP_MINUTES)
        # records created in sevDesk before the first sync are history (see the docstring)
        self.history_before = (
            connection.initial_sync_at - overlap if connection.initial_sync_at else None
        )
        self.overlap = overlap
        self.customers: dict[str, Customer] = {}

    def params(self, resource: str) -> dict[str, Any]:
        params: dict[str, Any] = {}
        cursor = self.connection.cursors.get(resource)
        if cursor and not self.full and not self.first:
            since = dt.datetime.fromisoformat(cursor) - self.overlap
            params["updateAfter"] = int(since.timestamp())
        if resource == "Contact":
            params["depth"] = 1  # without it sevDesk lists organisations only
            params["embed"] = "category"
        return params

    def run(self) -> None:
        handlers = {
            "Contact": self.contacts,
            "CommunicationWay": self.ways,
            "Invoice": self.invoices,
            "Order": self.orders,
        }
        for resource in RESOURCES:
            high = self.connection.cursors.get(resource)
            for batch in _batches(self.client.iter_objects(resource, self.params(resource))):
                with transaction.atomic():
                    handlers[resource](batch)
                self.result.counts[resource] += len(batch)
                for obj in batch:
                    update = _datetime(obj.get("update"))
                    if update and (high is None or update > dt.datetime.fromisoformat(high)):
                        high = update.isoformat()
            if high:
                self.connection.cursors[resource] = high

    # contacts

    def customer_fields(self, obj: dict) -> dict[str, Any]:
        company = _s(obj.get("name"))
        first, last = _s(obj.get("surename")), _s(obj.get("familyname"))
        category = obj.get("category") if isinstance(obj.get("category"), dict) else {}
        category_id = _ref(category)
        industry = ""
        if category_id and category_id not in STANDARD_CATEGORIES:
            industry = (_s(category.get("name")) or _("Kategorie %(id)s") % {"id": category_id})[
                :80
            ]
        gender = {"m": Gender.MALE, "w": Gender.FEMALE, "f": Gender.FEMALE}.get(
            _s(obj.get("gender")).lower()[:1], Gender.DIVERSE
        )
        return {
            "number": _s(obj.get("customerNumber"))[:40],
            "kind": CustomerKind.SUPPLIER
            if category_id == CATEGORY_SUPPLIER
            else CustomerKind.CUSTOMER,
            "is_company": bool(company) and not (first or last),
            "company_name": company[:200],
            "first_name": first[:80],
            "last_name": last[:80],
            "title": _s(obj.get("academicTitle"))[:40],
            "gender": gender,
            "birthday": _date(obj.get("birthday")),
            "industry": industry,
        }

    def contacts(self, batch: list[dict]) -> None:
        ids = [_s(o.get("id")) for o in batch]
        existing = {
            c.sevdesk_id: c for c in Customer.objects.filter(brand=self.brand, sevdesk_id__in=ids)
        }
        new, changed, names = [], [], set()
        for obj, ext_id in zip(batch, ids, strict=True):
            fields = self.customer_fields(obj)
            customer = existing.get(ext_id)
            if customer is None:
                since = _date(obj.get("create"))
                new.append(
                    Customer(brand=self.brand, sevdesk_id=ext_id, customer_since=since, **fields)
                )
                continue
            diff = {k: v for k, v in fields.items() if getattr(customer, k) != v}
            if diff:
                for k, v in diff.items():
                    setattr(customer, k, v)
                customer.updated_at = timezone.now()  # bulk_update skips auto_now
                changed.append(customer)
                names.update(diff)
        Customer.objects.bulk_create(new, batch_size=BATCH)
        if changed:
            Customer.objects.bulk_update(changed, [*names, "updated_at"], batch_size=BATCH)

    def customers_for(self, contact_ids: Iterable[str]) -> dict[str, Customer]:
        wanted = {i for i in contact_ids if i and i not in self.customers}
        if wanted:
            for customer in Customer.objects.filter(brand=self.brand, sevdesk_id__in=wanted):
                self.customers[customer.sevdesk_id] = customer
        return self.customers

    # communication ways

    def ways(self, batch: list[dict]) -> None:
        customers = self.customers_for(_ref(o.get("contact")) for o in batch)
        points = {}
        wanted = [
            customers[c].pk for c in {_ref(o.get("contact")) for o in batch} if c in customers
        ]
        for point in ContactPoint.objects.filter(customer_id__in=wanted):
            points[(point.customer_id, "id", point.sevdesk_id)] = point
            points[(point.customer_id, point.channel, point.value)] = point
        new, changed = [], []
        for obj in batch:
            customer = customers.get(_ref(obj.get("contact")))
            way_type, key = _s(obj.get("type")).upper(), _ref(obj.get("key"))
            if customer is None or way_type not in ("EMAIL", "PHONE", "MOBILE"):
                continue
            if key == WAY_KEY_FAX:
                continue  # never a text message to a fax
            channel = ContactChannel.EMAIL if way_type == "EMAIL" else ContactChannel.PHONE
            try:
                value = normalize_contact(channel, _s(obj.get("value")))
            except ValueError:
                self.result.skipped += 1
                continue
            if way_type == "MOBILE":
                point_type = ContactType.MOBILE
            else:
                point_type = WAY_KEY_TYPES.get(key, ContactType.WORK)
            # main -> first address of its channel; the others after it, in sevDesk's order
            position = 0 if _s(obj.get("main")) in ("1", "true") else 1
            ext_id = _s(obj.get("id"))
            point = points.get((customer.pk, "id", ext_id)) or points.get(
                (customer.pk, channel, value)
            )
            wanted_fields = {
                "channel": channel,
                "value": value,
                "type": point_type,
                "position": position,
                "sevdesk_id": ext_id,
            }
            if point is None:
                point = ContactPoint(customer=customer, **wanted_fields)
                new.append(point)
            elif any(getattr(point, k) != v for k, v in wanted_fields.items()):
                clash = points.get((customer.pk, channel, value))
                if clash is not None and clash is not point:
                    continue  # the edited value is already another point of this customer
                for k, v in wanted_fields.items():
                    setattr(point, k, v)
                changed.append(point)
            else:
                continue
            points[(customer.pk, "id", ext_id)] = point
            points[(customer.pk, channel, value)] = point
        ContactPoint.objects.bulk_create(new, batch_size=BATCH)
        ContactPoint.objects.bulk_update(
            changed, ["channel", "value", "type", "position", "sevdesk_id"], batch_size=BATCH
        )

    # invoices and orders

    def invoices(self, batch: list[dict]) -> None:
        self.documents("Invoice", batch, invoice_fields, invoice_events)

    def orders(self, batch: list[dict]) -> None:
        self.documents("Order", batch, order_fields, order_events)

    def documents(self, resource: str, batch: list[dict], to_fields, to_events) -> None:
        ids = [_s(o.get("id")) for o in batch]
        snapshots = {
            s.external_id: s
            for s in SevdeskSnapshot.objects.filter(
                brand=self.brand, resource=resource, external_id__in=ids
            )
        }
        fields_by_id = {ext_id: to_fields(obj) for obj, ext_id in zip(batch, ids, strict=True)}
        customers = self.customers_for(f["contact"] for f in fields_by_id.values())
        origins = self.origins(resource, fields_by_id)
        new, changed, planned = [], [], []
        for obj, ext_id in zip(batch, ids, strict=True):
            fields = fields_by_id[ext_id]
            fields_digest = digest(fields)
            snapshot = snapshots.get(ext_id)
            customer = customers.get(fields["contact"])
            if snapshot is not None and snapshot.digest == fields_digest:
                if snapshot.customer_id is None and customer is not None:
                    snapshot.customer = customer
                    changed.append(snapshot)
                continue
            prev = snapshot.data if snapshot is not None else None
            if snapshot is None:
                snapshot = SevdeskSnapshot(brand=self.brand, resource=resource, external_id=ext_id)
                new.append(snapshot)
            else:
                snapshot.version += 1
                changed.append(snapshot)
            snapshot.digest, snapshot.data, snapshot.customer = fields_digest, fields, customer
            self.denormalise(snapshot, fields)
            if self.first or (prev is None and self.is_history(obj)):
                self.result.history += 1
                continue
            origin = origins.get(fields.get("origin") or "")
            for event in to_events(ext_id, prev, fields, snapshot.version, origin):
                planned.append((event, obj, snapshot))
        SevdeskSnapshot.objects.bulk_create(new, batch_size=BATCH)
        SevdeskSnapshot.objects.bulk_update(
            changed,
            ["digest", "version", "data", "customer", "kind", "status", "document_date"]
            + ["due_date", "amount_net", "open_amount", "updated_at"],
            batch_size=BATCH,
        )
        for event, obj, snapshot in planned:
            self.record(event, obj, snapshot)

    def origins(self, resource: str, fields_by_id: dict[str, dict]) -> dict[str, dict]:
        """The stored fields of the orders these delivery notes came from (this batch's
        own first: an order and its note may arrive together)."""
        wanted = {f["origin"] for f in fields_by_id.values() if f.get("origin")}
        if not wanted:
            return {}
        found = {i: fields_by_id[i] for i in wanted if i in fields_by_id}
        rest = wanted - set(found)
        if rest:
            for snapshot in SevdeskSnapshot.objects.filter(
                brand=self.brand, resource=resource, external_id__in=rest
            ):
                found[snapshot.external_id] = snapshot.data
        return found

    @staticmethod
    def denormalise(snapshot: SevdeskSnapshot, fields: dict[str, Any]) -> None:
        snapshot.kind = fields["type"][:4]
        snapshot.status = fields["status"][:10]
        day = fields.get("invoice_date") or fields.get("order_date")
        snapshot.document_date = dt.date.fromisoformat(day) if day else None
        due = fields.get("due_date")
        snapshot.due_date = dt.date.fromisoformat(due) if due else None
        snapshot.amount_net = Decimal(fields["sum_net"])
        snapshot.open_amount = Decimal(fields.get("open_amount") or "0")
        snapshot.updated_at = timezone.now()

    def is_history(self, obj: dict) -> bool:
        created = _datetime(obj.get("create"))
        return bool(self.history_before and created and created < self.history_before)

    def record(self, event: PlannedEvent, obj: dict, snapshot: SevdeskSnapshot) -> None:
        fields = snapshot.data
        record_id, number, status, version = event.record or (
            snapshot.external_id,
            fields["number"],
            fields["status"],
            str(snapshot.version),
        )
        try:
            _event, created = record_event(
                brand=self.brand,
                type=event.type,
                source=SOURCE,
                source_key=event.source_key,
                occurred_at=_datetime(obj.get("update")) or timezone.now(),
                payload=event.payload,
                customer=snapshot.customer,
                customer_ref={"sevdesk_id": fields["contact"]} if fields["contact"] else {},
                record_kind=event.record_kind,
                record_id=record_id,
                record_number=number,
                record_status=status,
                record_version=version,
            )
        except (InvalidEvent, EventConflict) as exc:
            # one bad record must not stop the sync; the admin sees it in the log
            log.warning("sevDesk %s %s: %s", event.type, event.source_key, exc)
            self.result.skipped += 1
            return
        self.result.events += int(created)


def sync_connection(
    connection: SevdeskConnection,
    *,
    full: bool = False,
    sleep: Callable = time.sleep,
    now: dt.datetime | None = None,
) -> SyncResult:
    """Sync one brand; errors end up on the connection (last_error) and in the result."""
    from kommunikation.sevdesk.segments import refresh_segments

    sync = None
    with SevdeskClient(
        base_url=connection.effective_base_url, token=connection.effective_token, sleep=sleep
    ) as client:
        sync = _Sync(connection, client, full=full)
        try:
            sync.run()
        except SevdeskAuthError as exc:
            sync.result.error = str(exc)
        except SevdeskError as exc:
            sync.result.error = str(exc)
        sync.result.requests = client.requests
    result = sync.result
    now = now or timezone.now()
    connection.last_sync_at = now
    connection.last_error = result.error
    connection.last_result = result.summary()[:500]
    update_fields = ["cursors", "last_sync_at", "last_error", "last_result"]
    if not result.error and connection.initial_sync_at is None:
        connection.initial_sync_at = now
        update_fields.append("initial_sync_at")
    connection.save(update_fields=update_fields)
    if not result.error:
        refresh_segments(brand=connection.brand)
    return result
