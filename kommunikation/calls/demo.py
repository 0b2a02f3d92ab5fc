"""Demo call tasks for `make run`: per brand one overdue, one due later and one done, each
planned as the dispatch worker plans it (the call channel, then the thread entry)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone

from conversations.outbound import Outbound, record_outbound
from kommunikation.calls.models import CallTask
from kommunikation.calls.services import record_call_outcome, thread_calls
from kommunikation.channels.base import Outgoing
from kommunikation.channels.call import CallChannel
from kommunikation.models import BusinessEntity, Customer, OutboundMessage, OutboundStatus
from kommunikation.outbox import enqueue_outbound
from kommunikation.roles import AGENT

SCRIPT = (
    "Anruf bei {name} zum Angebot AN-DEMO-{n:04d}.\n"
    "Fragen: Passt das Angebot? Gibt es offene Punkte? Termin für die Installation?"
)


def _plan(brand, customer, n: int, now: dt.datetime) -> CallTask | None:
    key = f"demo-call:{brand.slug}:{customer.pk}"
    if OutboundMessage.objects.filter(idempotency_key=key).exists():
        return None  # a second demo_setup: planned already
    phone = customer.contact_points.filter(channel="phone").order_by("position", "pk").first()
    text = SCRIPT.format(name=customer, n=customer.pk)
    row = enqueue_outbound(
        brand=brand, channels=["call", "email"], category="service", idempotency_key=key,
        source="system", customer=customer, subject="Angebot – Anruf", text=text,
        template_key="quote_call_task", trigger=False,
    )  # fmt: skip
    sent = CallChannel().send(
        Outgoing(outbound_id=row.pk, brand=brand, recipient=phone.value, category="service",
                 text=text, subject="Angebot – Anruf")
    )  # fmt: skip
    message = record_outbound(
        Outbound(brand=brand, channel="call", recipient=phone.value, sent_at=now, text=text,
                 customer=customer, topic="quote_call_task", sender_name=brand.name,
                 provider_id=sent.provider_id, queued_at=now)
    )  # fmt: skip
    OutboundMessage.objects.filter(pk=row.pk).update(
        status=OutboundStatus.SENT, provider_id=sent.provider_id, sent_at=now, attempts=1,
        recipient=phone.value, message=message, conversation=message.conversation,
    )  # fmt: skip
    row.refresh_from_db()
    thread_calls([row])
    return CallTask.objects.get(outbound=row)


def seed_call_demo(*, per_brand: int = 3) -> int:
    """Plan the demo's call tasks; returns how many were new (idempotent)."""
    now = timezone.now()
    new = 0
    for brand in BusinessEntity.objects.order_by("pk"):
        agent = (
            get_user_model()
            .objects.filter(brands=brand, groups__name=AGENT, is_active=True)
            .order_by("pk")
            .first()
        )
        customers = (
            Customer.objects.customers()
            .filter(brand=brand, contact_points__channel="phone")
            .distinct()
            .order_by("pk")[:per_brand]
        )
        for n, customer in enumerate(customers):
            task = _plan(brand, customer, n, now)
            if task is None:
                continue
            new += 1
            if n == 0:  # should have been called this morning
                CallTask.objects.filter(pk=task.pk).update(due_at=now - dt.timedelta(hours=3))
            elif n == 2 and agent is not None:
                task.assignee = agent
                task.save(update_fields=["assignee"])
                record_call_outcome(
                    task=task, outcome="reached", user=agent, note="Angebot passt, Termin folgt."
                )
    return new
