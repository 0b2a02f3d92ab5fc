"""Segmentation (seed 000 "Kundensegmentierung"): value tier, activity, revenue per customer.

Computed from the sevDesk snapshots of invoices and order confirmations, nightly and after
each sync. Thresholds live in settings (SEGMENT_TIER_A/B, SEGMENT_*_DAYS). The results are
plain fields on Customer (revenue_12m, value_tier, activity, last_document_date; industry
comes from the contact's sevDesk category during the sync), so rule conditions and inbox
filters read them like any other customer field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, Min, Q, Sum
from django.utils import timezone

from kommunikation.models import Activity, Customer, CustomerKind, ValueTier
from kommunikation.sevdesk.models import SevdeskSnapshot

# invoices that are revenue: sent, partially paid, paid (not drafts, not deactivated)
REVENUE_STATUSES = ("200", "750", "1000")
# what counts as an order or invoice for activity: invoices (no cancellations or reminders)
# and order confirmations
ACTIVITY_DOCUMENTS = Q(resource="Invoice", status__in=REVENUE_STATUSES) & ~Q(
    kind__in=("SR", "MA")
) | Q(resource="Order", kind="AB", status__in=("200", "500", "750", "1000"))


def value_tier(revenue: Decimal) -> str:
    if revenue >= settings.SEGMENT_TIER_A:
        return ValueTier.A
    if revenue >= settings.SEGMENT_TIER_B:
        return ValueTier.B
    return ValueTier.C


def activity(
    *, first: dt.date | None, last: dt.date | None, since: dt.date | None, today: dt.date
) -> str:
    """new: the first order/invoice (or, without any, the customer) is recent; then by the
    days since the last one: active, occasional, inactive."""
    start = first or since
    if start and (today - start).days <= settings.SEGMENT_NEW_DAYS:
        return Activity.NEW
    if last is None:
        return Activity.INACTIVE
    days = (today - last).days
    if days <= settings.SEGMENT_ACTIVE_DAYS:
        return Activity.ACTIVE
    if days <= settings.SEGMENT_OCCASIONAL_DAYS:
        return Activity.OCCASIONAL
    return Activity.INACTIVE


def refresh_segments(*, brand=None, today: dt.date | None = None) -> int:
    """Recompute the segments of every customer (of one brand); returns how many changed."""
    today = today or timezone.localdate()
    customers = Customer.objects.filter(kind=CustomerKind.CUSTOMER)
    snapshots = SevdeskSnapshot.objects.filter(customer__isnull=False)
    if brand is not None:
        customers = customers.filter(brand=brand)
        snapshots = snapshots.filter(brand=brand)
    year_ago = today - dt.timedelta(days=365)
    revenue = dict(
        snapshots.filter(
            resource="Invoice", status__in=REVENUE_STATUSES, document_date__gt=year_ago
        )
        .values_list("customer")
        .annotate(total=Sum("amount_net"))
    )
    dates = {
        row[0]: row[1:]
        for row in snapshots.filter(ACTIVITY_DOCUMENTS)
        .values_list("customer")
        .annotate(first=Min("document_date"), last=Max("document_date"))
    }
    now = timezone.now()
    fields = ["revenue_12m", "value_tier", "activity", "last_document_date"]
    changed = []
    for customer in customers.only(*fields, "customer_since", "created_at"):
        first, last = dates.get(customer.pk, (None, None))
        total = (revenue.get(customer.pk) or Decimal("0")).quantize(Decimal("0.01"))
        since = customer.customer_since or timezone.localdate(customer.created_at)
        wanted = {
            "revenue_12m": total,
            "value_tier": value_tier(total),
            "activity": activity(first=first, last=last, since=since, today=today),
            "last_document_date": last,
        }
        if any(getattr(customer, k) != v for k, v in wanted.items()):
            for k, v in wanted.items():
                setattr(customer, k, v)
            customer.segments_updated_at = now
            changed.append(customer)
    Customer.objects.bulk_update(changed, [*fields, "segments_updated_at"], batch_size=500)
    return len(changed)
