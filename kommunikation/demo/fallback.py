"""The demo's fallback chain (issue 11 §7): one thread where a WhatsApp reminder was not
delivered within its hour, the SMS after it was refused (the customer wants no reminders by
SMS), and the email went out; every step visible in the thread.

The WhatsApp message is recorded as sent 95 minutes ago (the demo has no Meta account to
send it through); everything after that is the product's own path: the fallback check,
the compliance gate, the dispatch worker, the thread writer.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from compliance.services import Actor, update_preferences
from conversations.outbound import Outbound, record_outbound
from kommunikation.dispatch import dispatch_batch
from kommunikation.fallback import fallback_undelivered
from kommunikation.models import BusinessEntity, Customer, OutboundMessage, OutboundStatus
from kommunikation.outbox import enqueue_outbound

DEMO_ACTOR = Actor(label="Demo")
WAIT = dt.timedelta(hours=1)
TEXT = (
    "Erinnerung: Heute um 14:00 Uhr kommt Team Nord zur Installation Ihrer Wallbox. "
    "Bitte halten Sie den Zählerschrank zugänglich."
)


def seed_fallback_demo() -> int:
    """The chain for the first brand with a WhatsApp number; 1 if made, 0 if there already
    (or no brand / customer to show it with)."""
    brand = BusinessEntity.objects.exclude(whatsapp_number="").order_by("pk").first()
    if brand is None:
        return 0
    key = f"demo-fallback:{brand.slug}"
    if OutboundMessage.objects.filter(idempotency_key=key).exists():
        return 0
    customer = (
        Customer.objects.customers()
        .filter(brand=brand, contact_points__channel="phone")
        .filter(contact_points__channel="email")
        .order_by("pk")
        .first()
    )
    if customer is None:
        return 0
    now = timezone.now()
    sent_at = now - dt.timedelta(minutes=95)
    # the customer does not want reminders by SMS: the gate refuses that step of the chain
    update_preferences(
        customer=customer, wanted={("sms", "reminder"): False}, actor=DEMO_ACTOR, source="staff"
    )
    row = enqueue_outbound(
        brand=brand, customer=customer, channels=["whatsapp", "sms", "email"],
        category="reminder", idempotency_key=key, source="system",
        subject="Ihr Installationstermin heute", text=TEXT, fallback_after=WAIT,
        not_before=sent_at, trigger=False,
    )  # fmt: skip
    phone = customer.contact_points.filter(channel="phone").order_by("position", "pk").first()
    message = record_outbound(
        Outbound(
            brand=brand, customer=customer, channel="whatsapp", recipient=phone.value,
            sent_at=sent_at, queued_at=sent_at, text=TEXT, topic="demo-fallback",
            sender_name=brand.name, sender_address=brand.whatsapp_number,
            provider_id=f"wamid.demo-fallback-{row.pk}",
        )
    )  # fmt: skip
    OutboundMessage.objects.filter(pk=row.pk).update(
        status=OutboundStatus.SENT, sent_at=sent_at, recipient=phone.value, attempts=1,
        provider_id=message.provider_id, message=message, conversation=message.conversation,
        decision="send", decided_at=sent_at, fallback_due_at=sent_at + WAIT,
    )  # fmt: skip
    fallback_undelivered(now=now)
    for _attempt in range(3):  # the SMS refused (the same row goes on), then the email
        dispatch_batch()
    return 1
