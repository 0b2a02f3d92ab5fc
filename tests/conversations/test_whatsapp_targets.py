"""'WhatsApp offen' keeps seed 001's response targets in view: every waiting row shows how
long the customer has waited, green within 15 minutes, amber until 4 hours, red beyond."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from conversations.ingest import ingest_message
from conversations.models import Conversation
from tests.conftest import NOW

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]


def waiting(brand, phone: str, minutes: int) -> Conversation:
    return ingest_message(
        brand=brand, channel="whatsapp", sender_address=phone, provider_id=f"wamid.{phone}",
        text="Hallo?", occurred_at=timezone.now() - dt.timedelta(minutes=minutes),
    ).conversation  # fmt: skip


def marker(page: str, conversation: Conversation) -> str:
    row = re.search(rf'<li id="row-{conversation.pk}".*?</li>', page, re.S).group(0)
    found = re.search(r'<span class="wa-target (wa-\w+)"[^>]*>([^<]*)</span>', row)
    return f"{found.group(1)} {found.group(2)}" if found else ""


def test_each_waiting_row_shows_the_wait_against_the_targets(client, agent_a, brand_a):
    fresh = waiting(brand_a, "+4915100000001", 12)
    edge = waiting(brand_a, "+4915100000002", 15)
    late_ideal = waiting(brand_a, "+4915100000003", 16)
    hours = waiting(brand_a, "+4915100000004", 3 * 60 + 59)
    beyond = waiting(brand_a, "+4915100000005", 4 * 60 + 1)
    client.force_login(agent_a)

    page = client.get("/", {"kanal": "whatsapp"}).text

    assert marker(page, fresh) == "wa-ok wartet 12 Min."
    assert marker(page, edge) == "wa-ok wartet 15 Min."
    assert marker(page, late_ideal) == "wa-warn wartet 16 Min."
    assert marker(page, hours) == "wa-warn wartet 3 Std. 59 Min."
    assert marker(page, beyond) == "wa-late wartet 4 Std. 1 Min."
    assert "Reaktionsziel WhatsApp: ideal 15 Minuten, höchstens 4 Stunden." in page


def test_the_marker_follows_the_clock(client, agent_a, brand_a, time_machine):
    conversation = waiting(brand_a, "+4915100000001", 0)
    client.force_login(agent_a)

    assert marker(client.get("/", {"kanal": "whatsapp"}).text, conversation).startswith("wa-ok")
    time_machine.shift(dt.timedelta(minutes=30))
    assert marker(client.get("/", {"kanal": "whatsapp"}).text, conversation).startswith("wa-warn")
    time_machine.shift(dt.timedelta(hours=4))
    assert marker(client.get("/", {"kanal": "whatsapp"}).text, conversation).startswith("wa-late")


def test_an_answered_thread_shows_no_marker(client, agent_a, brand_a):
    answered = waiting(brand_a, "+4915100000001", 30)
    Conversation.objects.filter(pk=answered.pk).update(
        last_message_at=timezone.now(), response_due_at=None
    )
    client.force_login(agent_a)

    page = client.get("/", {"kanal": "whatsapp"}).text

    assert f'id="row-{answered.pk}"' in page
    assert marker(page, answered) == ""
