"""The demo's thread with a fallback chain: WhatsApp not delivered, SMS refused, email sent."""

from __future__ import annotations

import pytest

from conversations.models import Message
from kommunikation.demo import seed_demo
from kommunikation.demo.fallback import seed_fallback_demo
from kommunikation.models import OutboundMessage

pytestmark = pytest.mark.django_db


def test_the_demo_shows_a_whole_chain_in_one_thread_and_is_made_once(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    seed_demo(conversations=12, seed=3)

    assert seed_fallback_demo() == 1

    first = OutboundMessage.objects.get(idempotency_key__startswith="demo-fallback:")
    attempt = first.fallbacks.get()
    assert (first.channel, first.status) == ("whatsapp", "sent")
    assert (attempt.channel, attempt.status) == ("email", "sent")
    entries = Message.objects.filter(conversation=first.conversation).order_by("created_at", "id")
    assert [(m.channel, m.text if m.channel == "note" else "") for m in entries] == [
        ("whatsapp", ""),
        ("note", "WhatsApp nicht zugestellt nach 1 Std. – weiter per SMS."),
        ("note", "SMS nicht gesendet: Der Kunde möchte über SMS keine Nachrichten dieser Art"
                 " – weiter per E-Mail."),
        ("email", ""),
    ]  # fmt: skip
    assert seed_fallback_demo() == 0
    assert OutboundMessage.objects.filter(fallback_of=first).count() == 1
