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


# --- incoming messages (issue 9 §4) ---------------------------------------------------------

_INBOUND_DEMO = [
    # (local part of the sender, subject, body)
    ("anfrage", "Frage zu meiner Wallbox", "Guten Tag, meine Wallbox lädt nur noch mit 3,7 kW."),
    ("buchhaltung", "Rechnung RE-2026-0815 doppelt erhalten?",
     "Hallo, wir haben die Rechnung zweimal bekommen. Bitte prüfen."),
]  # fmt: skip


def _demo_mail(brand, sender: str, subject: str, body: str, n: int) -> bytes:
    to = brand.support_email or f"support@{brand.domains[0] if brand.domains else 'example.org'}"
    return (
        f"From: {sender}\nTo: {to}\nSubject: {subject}\n"
        f"Message-ID: <inbound-demo-{brand.slug}-{n}@kunde.example>\n"
        "Content-Type: text/plain; charset=utf-8\n\n" + body + "\n"
    ).encode()


def seed_inbound_demo() -> int:
    """Rules on incoming mail for the demo: Mon-Fri 08:00-17:00 per brand, one absent agent
    with a substitute, a customer owned by the absent agent, and per brand a question
    (acknowledged, or answered by the absence notice) and an invoice mail (priority high,
    tag "Buchhaltung") through conversations.ingest; returns how many mails were new."""
    from django.contrib.auth import get_user_model

    from conversations.ingest import ingest_raw_email
    from kommunikation.automation.availability import Absence, OpeningHours
    from kommunikation.events.inbound import record_inbound_events
    from kommunikation.roles import AGENT

    now = timezone.now()
    new = 0
    for brand in BusinessEntity.objects.order_by("pk"):
        if not OpeningHours.objects.filter(brand=brand).exists():
            OpeningHours.objects.bulk_create(
                OpeningHours(brand=brand, weekday=d, opens=dt.time(8), closes=dt.time(17))
                for d in range(5)
            )
        agents = list(
            get_user_model()
            .objects.filter(brands=brand, groups__name=AGENT, is_active=True)
            .order_by("pk")[:2]
        )
        customer = (
            Customer.objects.customers()
            .filter(brand=brand, contact_points__channel="email")
            .order_by("pk")
            .first()
        )
        if len(agents) == 2 and customer is not None:
            absent, substitute = agents
            if not Absence.objects.filter(brand=brand, user=absent).exists():
                Absence.objects.create(
                    brand=brand, user=absent, substitute=substitute, note="Urlaub (Demo)",
                    starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=7),
                )  # fmt: skip
            if customer.owner_id is None:
                customer.owner = absent
                customer.save(update_fields=["owner"])
        senders = [
            customer.contact_points.filter(channel="email").first().value
            if customer is not None
            else f"anfrage@kunde-{brand.slug}.example",
            f"buchhaltung@kunde-{brand.slug}.example",
        ]
        for n, ((_local, subject, body), sender) in enumerate(
            zip(_INBOUND_DEMO, senders, strict=True)
        ):
            result = ingest_raw_email(_demo_mail(brand, sender, subject, body, n), brand=brand)
            if result.message is None or result.outcome == "duplicate":
                continue
            new += 1
            # recorded here, not only by the queued task, so the demo shows it at once
            record_inbound_events(
                [result.message.pk], [result.message.pk] if result.new_conversation else []
            )
    for event in Event.objects.filter(source="inbox", outcome="pending").order_by("pk"):
        run_rules(event.pk)
    return new
