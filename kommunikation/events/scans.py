"""The daily scans: events that come from the calendar rather than from another system.

Each scan looks at the data of every brand for one day (Europe/Berlin) and records one event
per customer (or conversation) through ``record_event``. The source key names what the
event is about and the day, year or silence it belongs to, so a re-run the same day, a
second worker or an operator's ``run_scans`` never makes a second event: ``record_event``
returns the stored one. Where the content could differ on a re-run (the inactivity scan
run a day later), the key stays the same and the stored event wins (``EventConflict`` is
counted as "already recorded", not raised).

The scans only record what happened; which customer gets which message, when and on which
channel is the rules engine's decision (conditions on kind, VIP, classification, ...).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dateutil.easter import easter
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import DateTimeField, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from kommunikation.events.catalogue import SEASONAL_OCCASIONS
from kommunikation.events.models import Event
from kommunikation.events.services import EventConflict, InvalidEvent, record_event
from kommunikation.models import BusinessEntity, Customer, CustomerKind

logger = logging.getLogger(__name__)

# the business records whose events count as activity of a customer (orders and invoices)
ACTIVITY_KINDS = ("order", "invoice")
# fields a Customer may carry with its last order/invoice date (the sevDesk sync may add
# one); used when present, alongside the events
ACTIVITY_FIELDS = ("last_activity_at", "last_activity_on", "last_order_at", "last_invoice_at")


@dataclass
class ScanResult:
    name: str
    created: int = 0
    existing: int = 0
    refused: int = 0

    def __str__(self) -> str:
        return _("%(name)s: %(created)s neu, %(existing)s schon erfasst, %(refused)s abgelehnt") % {
            "name": self.name,
            "created": self.created,
            "existing": self.existing,
            "refused": self.refused,
        }


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def today() -> dt.date:
    """The scans' day: the calendar date in Europe/Berlin (not UTC: at 00:30 in Berlin
    it is still yesterday in UTC, and a birthday must not come a day late)."""
    return timezone.localtime(timezone.now(), _zone()).date()


def start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=_zone())


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _same_day_q(field: str, day: dt.date) -> Q:
    """Dates whose month and day are ``day``'s; in a year without 29 February, people born
    (or customers won) on 29 February are celebrated on 28 February."""
    q = Q(**{f"{field}__month": day.month, f"{field}__day": day.day})
    if day.month == 2 and day.day == 28 and not _is_leap(day.year):
        q |= Q(**{f"{field}__month": 2, f"{field}__day": 29})
    return q


class _Recorder:
    """Counts what record_event made; a known key with other content is "already recorded"."""

    def __init__(self, name: str):
        self.result = ScanResult(name)
        self._brands: dict[int, BusinessEntity] = {}

    def brand(self, pk: int) -> BusinessEntity:
        if pk not in self._brands:
            self._brands[pk] = BusinessEntity.objects.get(pk=pk)
        return self._brands[pk]

    def record(self, *, brand_id: int, **fields) -> None:
        try:
            _event, created = record_event(brand=self.brand(brand_id), **fields)
        except EventConflict:
            created = False
        except InvalidEvent as error:
            # one bad row (a customer of another brand on a conversation, ...) must not stop
            # the scan for everyone else; it is logged with its reason
            logger.warning("scan %s: %s refused: %s", self.result.name, fields["source_key"], error)
            self.result.refused += 1
            return
        if created:
            self.result.created += 1
        else:
            self.result.existing += 1


def scan_birthdays(*, day: dt.date | None = None) -> ScanResult:
    """``customer.birthday`` for everyone whose birthday is ``day`` (default: today)."""
    day = day or today()
    rec = _Recorder("birthdays")
    customers = Customer.objects.filter(_same_day_q("birthday", day), birthday__year__lt=day.year)
    for customer in customers.order_by("pk").iterator(chunk_size=1000):
        rec.record(
            brand_id=customer.brand_id,
            customer=customer,
            type="customer.birthday",
            source="scan:birthday",
            source_key=f"customer:{customer.pk}:{day.year}",
            occurred_at=start_of(day),
            record_id=str(customer.pk),
            payload={"birthday": customer.birthday.isoformat(), "date": day.isoformat()},
        )
    return rec.result


def scan_anniversaries(*, day: dt.date | None = None) -> ScanResult:
    """``customer.anniversary`` for every full year since ``customer_since`` (not on the
    first day itself)."""
    day = day or today()
    rec = _Recorder("anniversaries")
    customers = Customer.objects.filter(
        _same_day_q("customer_since", day), customer_since__year__lt=day.year
    )
    for customer in customers.order_by("pk").iterator(chunk_size=1000):
        years = day.year - customer.customer_since.year
        rec.record(
            brand_id=customer.brand_id,
            customer=customer,
            type="customer.anniversary",
            source="scan:anniversary",
            source_key=f"customer:{customer.pk}:{day.year}",
            occurred_at=start_of(day),
            record_id=str(customer.pk),
            payload={
                "years": years,
                "customer_since": customer.customer_since.isoformat(),
                "date": day.isoformat(),
            },
        )
    return rec.result


_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_EASTER = re.compile(r"^easter([+-]\d+)?$")


def seasonal_dates(year: int) -> dict[str, dt.date]:
    """The configured day of each occasion in ``year`` (settings.SCAN_SEASONAL_DATES)."""
    dates = {}
    for item in settings.SCAN_SEASONAL_DATES:
        occasion, _sep, when = (part.strip() for part in item.partition("="))
        if occasion not in SEASONAL_OCCASIONS:
            raise ImproperlyConfigured(
                f"SCAN_SEASONAL_DATES: unknown occasion {occasion!r} "
                f"(known: {', '.join(SEASONAL_OCCASIONS)})"
            )
        if match := _MONTH_DAY.match(when):
            try:
                dates[occasion] = dt.date(year, int(match[1]), int(match[2]))
            except ValueError:
                raise ImproperlyConfigured(f"SCAN_SEASONAL_DATES: no such day {when!r}") from None
        elif match := _EASTER.match(when):
            dates[occasion] = easter(year) + dt.timedelta(days=int(match[1] or 0))
        else:
            raise ImproperlyConfigured(
                f"SCAN_SEASONAL_DATES: {item!r} is not occasion=MM-DD or occasion=easter[+-N]"
            )
    return dates


def scan_seasonal(*, day: dt.date | None = None) -> ScanResult:
    """``seasonal.greeting`` for every customer and supplier on an occasion's configured
    day (rules choose the audience: kind, consent for relationship messages, ...)."""
    day = day or today()
    rec = _Recorder("seasonal")
    occasions = [o for o, d in seasonal_dates(day.year).items() if d == day]
    if not occasions:
        return rec.result
    for customer in Customer.objects.order_by("pk").iterator(chunk_size=1000):
        for occasion in occasions:
            rec.record(
                brand_id=customer.brand_id,
                customer=customer,
                type="seasonal.greeting",
                source="scan:seasonal",
                source_key=f"{occasion}:{day.year}:customer:{customer.pk}",
                occurred_at=start_of(day),
                record_kind="customer",
                record_id=str(customer.pk),
                payload={"year": day.year, "occasion": occasion, "date": day.isoformat()},
            )
    return rec.result


def _months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` earlier (the month's last day where it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _activity_field() -> str | None:
    names = {f.name for f in Customer._meta.get_fields()}
    return next((name for name in ACTIVITY_FIELDS if name in names), None)


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value, _zone()).date()
    return value


def scan_inactive(*, day: dt.date | None = None, months: int | None = None) -> ScanResult:
    """``customer.inactive`` for customers whose last order or invoice is ``months`` or more
    ago (settings.SCAN_INACTIVE_MONTHS), once per silence: the key holds the date of the
    last activity, so a customer who orders again and falls silent again gets a new event.

    The last activity is the latest event about an order or invoice of that customer, or
    the customer's own last-activity field where it has one (whichever is later).
    Customers without any order or invoice are prospects, not inactive: they are skipped.
    """
    day = day or today()
    months = settings.SCAN_INACTIVE_MONTHS if months is None else months
    rec = _Recorder("inactive")
    # the end of the day that is `months` before: activity on it or earlier is too old
    cutoff = start_of(_months_before(day, months) + dt.timedelta(days=1))
    latest_event = (
        Event.objects.filter(customer=OuterRef("pk"), record_kind__in=ACTIVITY_KINDS)
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    customers = Customer.objects.filter(kind=CustomerKind.CUSTOMER).annotate(
        last_event_at=Subquery(latest_event, output_field=DateTimeField())
    )
    field = _activity_field()
    for customer in customers.order_by("pk").iterator(chunk_size=1000):
        candidates = [customer.last_event_at, getattr(customer, field) if field else None]
        dates = [_as_date(v) for v in candidates if v is not None]
        if not dates:
            continue
        last = max(dates)
        if start_of(last) >= cutoff:
            continue
        rec.record(
            brand_id=customer.brand_id,
            customer=customer,
            type="customer.inactive",
            source="scan:inactive",
            source_key=f"customer:{customer.pk}:since:{last.isoformat()}",
            occurred_at=start_of(day),
            record_id=str(customer.pk),
            payload={"last_order_date": last.isoformat(), "months": months},
        )
    return rec.result


def conversation_reference(conversation) -> str:
    """How a conversation is named to the customer (the inbox may define a reference)."""
    reference = getattr(conversation, "reference", "")
    if reference:
        return str(reference)
    return f"KK-{conversation.created_at.year}-{conversation.pk:06d}"


# classifications where no answer from the other side is worth a reminder
_ANSWERABLE = ("customer", "supplier", "")


def scan_no_response(
    *, now: dt.datetime | None = None, hours: Iterable[int] | None = None
) -> ScanResult:
    """``conversation.no_response`` for open conversations whose last message is ours (sent,
    not a note, not failed or bounced) and has had no answer from the customer for each of
    the thresholds ``hours`` (settings.SCAN_NO_RESPONSE_HOURS): one event per threshold and
    message of ours, so 48 h, 72 h and 14 days each fire once and a new message of ours
    starts the count again. ``hours_without_response`` is the threshold, not the moment of
    the scan, so rules can tell the steps apart and a re-run records the same event.
    """
    from conversations.models import Conversation, Direction, Message

    now = now or timezone.now()
    thresholds = sorted(set(settings.SCAN_NO_RESPONSE_HOURS if hours is None else hours))
    rec = _Recorder("no_response")
    if not thresholds:
        return rec.result
    # our auto-replies ("Wir melden uns") are no answer the customer owes a reply to
    last = (
        Message.objects.filter(conversation=OuterRef("pk"), is_internal_note=False)
        .exclude(outbound__auto_submitted="auto-replied")
        .order_by("-created_at", "-id")
    )
    conversations = (
        Conversation.objects.open()
        .filter(classification__in=_ANSWERABLE)
        # a cheap first cut through the inbox index: nothing newer than the smallest threshold
        .filter(last_message_at__lte=now - dt.timedelta(hours=thresholds[0]))
        .annotate(
            last_id=Subquery(last.values("id")[:1]),
            last_direction=Subquery(last.values("direction")[:1]),
        )
        .filter(last_direction=Direction.OUTBOUND)
        .select_related("customer")
    )
    for conversation in conversations.order_by("pk").iterator(chunk_size=500):
        message = (
            Message.objects.filter(pk=conversation.last_id)
            .exclude(status__in=[Message.State.FAILED, Message.State.BOUNCED])
            .first()
        )
        if message is None or message.sent_at is None:
            continue  # not sent (yet): nobody could answer it
        for threshold in thresholds:
            due = message.sent_at + dt.timedelta(hours=threshold)
            if due > now:
                break
            rec.record(
                brand_id=conversation.brand_id,
                customer=conversation.customer,
                customer_ref={}
                if conversation.customer_id
                else {"address": conversation.counterpart},
                type="conversation.no_response",
                source="scan:no_response",
                source_key=f"message:{message.pk}:{threshold}h",
                # the moment the threshold passed: the same on every re-run
                occurred_at=due,
                record_kind="conversation",
                record_id=str(conversation.pk),
                record_number=conversation_reference(conversation),
                payload={
                    "conversation_reference": conversation_reference(conversation),
                    "conversation_subject": conversation.subject,
                    "hours_without_response": threshold,
                    "last_message_at": message.sent_at.isoformat(),
                    "classification": conversation.classification,
                    "channel": message.channel,
                    "counterpart": conversation.counterpart,
                },
            )
    return rec.result


SCANS: dict[str, Callable[..., ScanResult]] = {
    "birthdays": scan_birthdays,
    "anniversaries": scan_anniversaries,
    "seasonal": scan_seasonal,
    "inactive": scan_inactive,
    "no_response": scan_no_response,
}


def run_scans(*, only: str | None = None, day: dt.date | None = None) -> list[ScanResult]:
    """Run one scan or all for ``day`` (default today). For the no-response scan the moment
    is now, or the end of ``day`` when that is in the past."""
    names = [only] if only else list(SCANS)
    results = []
    for name in names:
        if name == "no_response":
            now = timezone.now()
            if day is not None:
                now = min(now, start_of(day + dt.timedelta(days=1)) - dt.timedelta(microseconds=1))
            results.append(scan_no_response(now=now))
        else:
            results.append(SCANS[name](day=day))
    return results
