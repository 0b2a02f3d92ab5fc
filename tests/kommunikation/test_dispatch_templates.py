"""A message queued with a template key is rendered by templates_app for its customer."""

from __future__ import annotations

import pytest
from django.core import mail

from kommunikation.dispatch import dispatch_batch
from kommunikation.models import OutboundMessage
from kommunikation.outbox import enqueue_outbound
from templates_app.loading import LIBRARY_DIR, load_library

pytestmark = pytest.mark.django_db


def test_a_template_message_is_rendered_for_its_customer_and_sent(customer, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    load_library([LIBRARY_DIR / "replies.yaml"])
    customer.last_name, customer.gender, customer.language = "Schwarzkopf", "f", "en"
    customer.save()
    enqueue_outbound(
        brand=customer.brand, customer=customer, channels="email", category="service",
        idempotency_key="ack:1", source="rule", template_key="reply_acknowledgement",
        context={"phone": ""},
    )  # fmt: skip

    dispatch_batch()

    row = OutboundMessage.objects.get()
    assert (row.status, row.last_error) == ("sent", "")
    [sent] = mail.outbox
    assert sent.subject == "We have received your message"
    assert sent.body.startswith("Dear Ms Schwarzkopf,")
    assert row.message.text.startswith("Dear Ms Schwarzkopf,")


def test_without_a_customer_the_greeting_is_neutral(brand_a, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    load_library([LIBRARY_DIR / "replies.yaml"])
    enqueue_outbound(
        brand=brand_a, channels="email", category="service", idempotency_key="ack:2",
        source="system", template_key="reply_follow_up", to_address="wer@extern.example",
    )  # fmt: skip

    dispatch_batch()

    [sent] = mail.outbox
    assert sent.to == ["wer@extern.example"]
    assert sent.body.startswith("Sehr geehrte Damen und Herren,")  # never the sample customer
