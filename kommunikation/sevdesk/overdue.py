"""The daily overdue scan: ``invoice.overdue`` once per open invoice and dunning level.

Levels by days past the due date (settings.DUNNING_DAYS, default 1, 14, 28): 1 payment
reminder, 2 first Mahnung, 3 second Mahnung. Per invoice only the highest level reached is
made (a scan that did not run for a week does not send a reminder and a Mahnung on one
day), and only when that level was reached after the connection's first sync (first-sync
guard: debts older than the connection are the business's own history). The payload carries
the amounts (total, paid, open) and dates, so the letter of each level shows the open amount
after a partial payment. Source "sevdesk", key ``sevdesk:invoice:<id>:overdue:<level>``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from kommunikation.events.models import Event
from kommunikation.events.services import EventConflict, InvalidEvent, record_event
from kommunikation.sevdesk.models import SevdeskConnection, SevdeskSnapshot
from kommunikation.sevdesk.sync import SOURCE

log = logging.getLogger(__name__)

OPEN_STATUSES = ("200", "750")


def level_labels() -> list[str]:
    return [_("Zahlungserinnerung"), _("1. Mahnung"), _("2. Mahnung"), _("3. Mahnung")]


def dunning_level(days_overdue: int) -> int:
    """0 for none, else 1.. (the position in settings.DUNNING_DAYS)."""
    return sum(1 for threshold in settings.DUNNING_DAYS if days_overdue >= threshold)


@dataclass
class ScanResult:
    events: int = 0
    history: int = 0

    def summary(self) -> str:
        return _("%(events)s überfällige Rechnungen gemeldet, %(history)s vor dem Erstabgleich") % {
            "events": self.events,
            "history": self.history,
        }


def scan_overdue(*, today: dt.date | None = None) -> ScanResult:
    today = today or timezone.localdate()
    result = ScanResult()
    for connection in SevdeskConnection.objects.filter(
        active=True, initial_sync_at__isnull=False
    ).select_related("brand"):
        _scan_brand(connection, today, result)
    return result


def _scan_brand(connection: SevdeskConnection, today: dt.date, result: ScanResult) -> None:
    brand = connection.brand
    first_sync_day = timezone.localdate(connection.initial_sync_at)
    overdue = SevdeskSnapshot.objects.filter(
        brand=brand,
        resource="Invoice",
        status__in=OPEN_STATUSES,
        due_date__lt=today - dt.timedelta(days=min(settings.DUNNING_DAYS) - 1),
    ).exclude(kind__in=("SR", "MA"))
    done = set(
        Event.objects.filter(
            brand=brand, source=SOURCE, type="invoice.overdue", source_key__contains=":overdue:"
        ).values_list("source_key", flat=True)
    )
    labels = level_labels()
    fees = [*settings.DUNNING_FEES, *["0"] * len(settings.DUNNING_DAYS)]
    midnight = dt.datetime.combine(today, dt.time(), tzinfo=ZoneInfo(settings.TIME_ZONE))
    for snapshot in overdue.select_related("customer").iterator():
        days = (today - snapshot.due_date).days
        level = dunning_level(days)
        if level == 0:
            continue
        key = f"sevdesk:invoice:{snapshot.external_id}:overdue:{level}"
        if key in done:
            continue
        reached = snapshot.due_date + dt.timedelta(days=settings.DUNNING_DAYS[level - 1])
        if reached < first_sync_day:
            result.history += 1
            continue
        data = snapshot.data
        fee = Decimal(fees[level - 1])
        payload = {
            "invoice_number": data["number"],
            "invoice_date": data["invoice_date"],
            "due_date": data["due_date"],
            # what the customer still owes: the letter's amount (total_due adds the fee)
            "amount": data["open_amount"],
            "invoice_total": data["sum_gross"],
            "paid_amount": data["paid_amount"],
            "open_amount": data["open_amount"],
            "currency": data["currency"],
            "days_overdue": days,
            "level": level,
            "level_label": str(labels[min(level, len(labels)) - 1]),
            "fee": str(fee),
            "new_due_date": (today + dt.timedelta(days=settings.DUNNING_NEW_DUE_DAYS)).isoformat(),
            "iban": settings.DUNNING_IBAN,
            "sevdesk_id": snapshot.external_id,
        }
        try:
            _event, created = record_event(
                brand=brand,
                type="invoice.overdue",
                source=SOURCE,
                source_key=key,
                occurred_at=midnight,
                payload=payload,
                customer=snapshot.customer,
                customer_ref={"sevdesk_id": data["contact"]} if data["contact"] else {},
                record_id=snapshot.external_id,
                record_number=data["number"],
                record_status=snapshot.status,
                record_version=str(snapshot.version),
            )
        except (InvalidEvent, EventConflict) as exc:
            log.warning("overdue scan %s: %s", key, exc)
            continue
        result.events += int(created)
