"""enqueue_outbound: one row per idempotency key, plain validation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kommunikation.models import OutboundMessage, OutboundStatus
from kommunikation.outbox import enqueue_outbound, retry_delay


def enqueue(customer, **kwargs):
    defaults = {
        "brand": customer.brand, "customer": customer, "channels": "email", "category": "transactional",
        "idempotency_key": "invoice:RE-1001", "source": "rule", "subject": "Ihre Rechnung RE-1001",
        "text": "Guten Tag, anbei Ihre Rechnung.",
    }  # fmt: skip
    defaults.update(kwargs)
    return enqueue_outbound(**defaults)


def test_it_queues_a_message_with_our_message_id_on_the_brand_domain(customer):
    row = enqueue(customer)
    assert row.status == OutboundStatus.QUEUED
    assert row.channels == ["email"]
    assert row.header_message_id.endswith("@laderthuis.nl>")
    assert row.language == "de"


def test_the_same_idempotency_key_twice_returns_the_first_row(customer):
    first = enqueue(customer)
    second = enqueue(customer, subject="anders")
    assert second.pk == first.pk
    assert second.subject == "Ihre Rechnung RE-1001"
    assert OutboundMessage.objects.count() == 1


def test_fallback_channels_are_kept_in_order(customer):
    row = enqueue(customer, channels=["whatsapp", "sms", "email"])
    assert row.channel == "whatsapp"
    assert row.next_channel == "sms"


def test_a_later_message_waits_for_its_time(customer):
    later = timezone.now() + dt.timedelta(days=3)
    row = enqueue(customer, not_before=later)
    assert row.next_attempt_at == later
    assert not OutboundMessage.objects.due(timezone.now()).exists()


def test_it_refuses_a_message_without_content_or_template(customer):
    with pytest.raises(ValueError):
        enqueue(customer, subject="", text="")
    with pytest.raises(ValueError):
        enqueue(customer, category="spam")


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 60
    settings.OUTBOX_RETRY_MAX_SECONDS = 3600
    assert retry_delay(1, jitter=0.999) <= dt.timedelta(seconds=60)
    assert retry_delay(1, jitter=0.0) == dt.timedelta(seconds=30)
    assert retry_delay(3, jitter=0.0) == dt.timedelta(seconds=120)
    assert retry_delay(20, jitter=0.999) <= dt.timedelta(seconds=3600)
