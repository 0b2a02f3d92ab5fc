"""Demo events for `make run`: a few business events per brand, run through the rules, so
the outbox and the Ereignisse card show automation working (a confirmation sent, a dunning
chain planned, one cancelled by its payment, appointment reminders waiting)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from kommunikation.automation.engine import run_rules
from kommunikation.events.models import Event
from kommunikation.events.services import record_event
from kommunikation.models import BusinessEntity, Customer


def _events_for(customer: Customer, n: int, now: dt.datetime) -> list[dict]:
    today = timezone.localdate(now)
    invoice = {
        "invoice_number": f"RE-DEMO-{n:04d}",
        "invoice_date": (today - dt.timedelta(days=30)).isoformat(),
        "amount": str(Decimal("249.00") + n),
        "due_date": (today - dt.timedelta(days=16)).isoformat(),
        "days_overdue": 16,
        "fee": "0",
        "new_due_date": (today + dt.timedelta(days=7)).isoformat(),
        "iban": "DE89 3704 0044 0532 0130 00",
    }
    starts = (now + dt.timedelta(days=3)).replace(hour=9, minute=30, second=0, microsecond=0)
    return [
        {"type": "order.created", "record_id": f"o-{n}", "payload": {
            "order_number": f"CC-DEMO-{n:04d}", "order_date": today.isoformat(),
            "order_total": "1234.56", "order_status_friendly": "in Bearbeitung",
            "items": [{"name": "Zaptec Go 11 kW", "quantity": 1, "price": "1234.56"}]}},
        {"type": "invoice.overdue", "record_id": f"i-{n}", "payload": invoice},
        {"type": "appointment.scheduled", "record_id": f"a-{n}", "payload": {
            "order_number": f"CC-DEMO-{n:04d}", "starts_at": starts.isoformat(),
            "installer_team": "Team Nord", "phone": "020-1234567"}},
        {"type": "quote.sent", "record_id": f"q-{n}", "payload": {
            "quote_number": f"AN-DEMO-{n:04d}", "quote_total": "2499.00",
            "valid_until": (today + dt.timedelta(days=30)).isoformat()}},
        {"type": "payment.received", "record_id": f"i-{n}", "version": "paid", "payload": {
            "invoice_number": invoice["invoice_number"], "amount": invoice["amount"],
            "payment_date": today.isoformat()}} if n % 2 else None,
    ]  # fmt: skip


def seed_automation_demo(*, per_brand: int = 2) -> int:
    """Record and run the demo events; returns how many were recorded (idempotent)."""
    now = timezone.now()
    recorded = []
    for brand in BusinessEntity.objects.order_by("pk"):
        customers = (
            Customer.objects.customers()
            .filter(brand=brand, contact_points__channel="email")
            .distinct()
            .order_by("pk")[:per_brand]
        )
        for n, customer in enumerate(customers, start=1):
            for spec in _events_for(customer, customer.pk, now):
                key = f"{spec['type']}:{spec['record_id']}:{customer.pk}" if spec else ""
                if spec is None or Event.objects.filter(source="demo", source_key=key).exists():
                    continue  # a second demo_setup: recorded already
                event, created = record_event(
                    brand=brand,
                    customer=customer,
                    type=spec["type"],
                    source="demo",
                    source_key=key,
                    occurred_at=now - dt.timedelta(minutes=10 - n),
                    payload=spec["payload"],
                    record_id=spec["record_id"],
                    record_version=spec.get("version", "1"),
                )
                if created:
                    recorded.append(event.pk)
    for pk in recorded:
        run_rules(pk)
    return len(recorded)
