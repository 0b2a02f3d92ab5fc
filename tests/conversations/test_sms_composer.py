"""Answering an SMS thread from the inbox: the composer with the brand's limit, the answer
out through the outbox to the provider, refused above the limit; quiet hours hold
automated SMS but not a staff answer."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from conversations.ingest import ingest_message
from conversations.models import Message
from kommunikation.dispatch import dispatch_batch
from kommunikation.models import OutboundMessage, OutboundStatus
from kommunikation.outbox import enqueue_outbound
from tests.conftest import NOW
from tests.factories import ContactPointFactory, CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]
HTMX = {"HX-Request": "true", "HX-Target": "detail"}
PHONE = "+4915112345678"
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def brand(brand_a, settings, httpserver):
    settings.SMS_PROVIDER = "messagebird"
    settings.SMS_API_KEY = "live_mb_key"
    settings.SMS_MESSAGEBIRD_URL = httpserver.url_for("").rstrip("/")
    brand_a.sms_sender_id = "LaderThuis"
    brand_a.sms_max_segments = 2
    brand_a.save()
    return brand_a


@pytest.fixture
def customer(brand):
    customer = CustomerFactory(brand=brand, first_name="Sheena", last_name="Nelson")
    ContactPointFactory(customer=customer, channel="phone", value=PHONE, type="mobile")
    return customer


def thread(brand, at=None):
    result = ingest_message(
        brand=brand, channel="sms", sender_address=PHONE, provider_id="mb-in-1",
        text="Kommt der Monteur heute noch?", occurred_at=at or timezone.now(),
    )  # fmt: skip
    return result.conversation


def test_the_composer_shows_sender_and_the_brands_segment_limit(client, agent_a, customer, brand):
    conversation = thread(brand)
    client.force_login(agent_a)

    page = client.get(f"/konversationen/{conversation.pk}/", headers=HTMX)

    assert page.status_code == 200
    assert 'id="reply-box"' in page.text  # `r` opens it, as in email threads
    assert "Per SMS antworten" in page.text
    assert 'data-max-segments="2"' in page.text
    assert "Absender LaderThuis" in page.text
    assert "0 von höchstens 2 Teilen" in page.text


def test_an_answer_goes_out_through_the_outbox_into_the_thread(
    client, agent_a, customer, brand, httpserver
):
    conversation = thread(brand)
    httpserver.expect_request("/messages").respond_with_json({"id": "mb-out-1"}, status=201)
    client.force_login(agent_a)

    response = client.post(
        f"/konversationen/{conversation.pk}/sms/", {"text": "Ja, gegen 15 Uhr."}, headers=HTMX
    )
    dispatch_batch()

    assert response.status_code == 200
    message = Message.objects.get(direction="out")
    assert message.conversation == conversation
    assert (message.channel, message.status, message.provider_id) == ("sms", "sent", "mb-out-1")
    assert message.author == agent_a
    row = OutboundMessage.objects.get(message=message)
    assert (row.channel, row.category, row.source, row.recipient) == (
        "sms", "service", "reply", PHONE,
    )  # fmt: skip
    conversation.refresh_from_db()
    assert conversation.response_due_at is None


def test_an_answer_above_the_brands_limit_is_refused(client, agent_a, customer, brand):
    conversation = thread(brand)
    client.force_login(agent_a)

    response = client.post(
        f"/konversationen/{conversation.pk}/sms/", {"text": "x" * 307}, headers=HTMX
    )

    assert response.status_code == 422
    assert "3 Teile" in response.text
    assert not Message.objects.filter(direction="out").exists()
    assert not OutboundMessage.objects.exists()


def test_umlauts_stay_gsm7_but_a_typographic_quote_halves_the_room(
    client, agent_a, customer, brand
):
    conversation = thread(brand)
    client.force_login(agent_a)

    fits = client.post(f"/konversationen/{conversation.pk}/sms/", {"text": "ü" * 306}, headers=HTMX)
    too_long = client.post(
        f"/konversationen/{conversation.pk}/sms/", {"text": "„" + "a" * 134}, headers=HTMX
    )

    assert fits.status_code == 200
    assert too_long.status_code == 422
    assert "UCS-2" in too_long.text


def test_an_agent_of_another_brand_cannot_answer(client, agent_b, customer, brand):
    conversation = thread(brand)
    client.force_login(agent_b)

    response = client.post(f"/konversationen/{conversation.pk}/sms/", {"text": "x"}, headers=HTMX)

    assert response.status_code == 404
    assert not OutboundMessage.objects.exists()


def test_an_email_conversation_has_no_sms_answer(client, agent_a, brand):
    from tests.factories import ConversationFactory

    conversation = ConversationFactory(brand=brand, counterpart="kunde@example.org")
    client.force_login(agent_a)

    response = client.post(f"/konversationen/{conversation.pk}/sms/", {"text": "x"}, headers=HTMX)

    assert response.status_code == 422
    assert "Keine SMS-Konversation" in response.text


LATE = dt.datetime(2026, 11, 25, 22, 30, tzinfo=BERLIN)


def test_at_2230_an_automated_sms_waits_for_the_morning_and_a_staff_answer_goes(
    client, agent_a, customer, brand, httpserver
):
    httpserver.expect_request("/messages").respond_with_json({"id": "mb-late"}, status=201)
    with time_machine.travel(LATE, tick=False):
        conversation = thread(brand, at=timezone.now())
        reminder = enqueue_outbound(
            brand=brand, customer=customer, channels="sms", category="reminder",
            idempotency_key="termin:late", source="system", text="Ihr Termin ist morgen.",
            trigger=False,
        )  # fmt: skip
        client.force_login(agent_a)
        client.post(f"/konversationen/{conversation.pk}/sms/", {"text": "Ja!"}, headers=HTMX)
        result = dispatch_batch()

    reminder.refresh_from_db()
    answer = OutboundMessage.objects.get(source="reply")
    assert result.deferred == 1
    assert reminder.status == OutboundStatus.QUEUED
    assert "Ruhezeit" in reminder.decision_reason
    assert reminder.next_attempt_at == dt.datetime(2026, 11, 26, 8, 0, tzinfo=BERLIN)
    assert answer.status == OutboundStatus.SENT
    assert answer.provider_id == "mb-late"
