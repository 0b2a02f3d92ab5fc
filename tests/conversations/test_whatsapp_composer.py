"""Answering a WhatsApp thread: the 24-hour window as a countdown, free text refused
outside it, the approved templates filled from the customer, out through the outbox."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from conversations.ingest import ingest_message
from conversations.models import Message
from kommunikation.dispatch import dispatch_batch
from kommunikation.models import OutboundMessage, WhatsAppNumber
from templates_app.loading import load_library
from tests.conftest import NOW
from tests.factories import ContactPointFactory, CustomerFactory
from tests.whatsapp_payloads import PHONE_NUMBER_ID, sent

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]
HTMX = {"HX-Request": "true", "HX-Target": "detail"}


@pytest.fixture
def number(brand_a, settings, httpserver):
    settings.WHATSAPP_GRAPH_URL = httpserver.url_for("").rstrip("/")
    settings.COMPLIANCE_SEND_WINDOWS = {}
    return WhatsAppNumber.objects.create(
        brand=brand_a, display_number="+31612345679", phone_number_id=PHONE_NUMBER_ID,
        access_token="EAAG-token", app_secret="s", verify_token="v",
    )  # fmt: skip


def thread(brand, hours_ago: float):
    customer = CustomerFactory(brand=brand, first_name="Sheena", last_name="Nelson")
    ContactPointFactory(customer=customer, channel="phone", value="+4915112345678", type="mobile")
    result = ingest_message(
        brand=brand, channel="whatsapp", sender_address="+4915112345678", provider_id="wamid.IN",
        text="Hallo?", occurred_at=timezone.now() - dt.timedelta(hours=hours_ago),
    )  # fmt: skip
    return result.conversation


def test_inside_the_window_the_composer_counts_down(client, agent_a, number, brand_a):
    conversation = thread(brand_a, hours_ago=20.5)
    client.force_login(agent_a)

    page = client.get(f"/konversationen/{conversation.pk}/", headers=HTMX)

    assert page.status_code == 200
    # 24 h - 20 h 30 min - 5 min safety margin
    assert "Fenster offen noch 3 h 25 min" in page.text
    assert 'id="wa-text"' in page.text
    assert "ideal 15 Minuten, höchstens 4 Stunden" in page.text


def test_a_text_inside_the_window_goes_out_through_the_outbox(
    client, agent_a, number, brand_a, httpserver
):
    conversation = thread(brand_a, hours_ago=1)
    httpserver.expect_request(f"/v23.0/{PHONE_NUMBER_ID}/messages").respond_with_json(
        sent("wamid.OUT")
    )
    client.force_login(agent_a)

    response = client.post(
        f"/konversationen/{conversation.pk}/whatsapp/",
        {"text": "Ja, sie ist fertig."},
        headers=HTMX,
    )
    dispatch_batch()

    assert response.status_code == 200
    message = Message.objects.get(direction="out")
    assert (message.channel, message.status, message.provider_id) == (
        "whatsapp",
        "sent",
        "wamid.OUT",
    )
    payload = json.loads(httpserver.log[0][0].data)
    assert payload["text"]["body"] == "Ja, sie ist fertig."
    assert payload["to"] == "+4915112345678"


def test_free_text_outside_the_window_is_refused(client, agent_a, number, brand_a):
    conversation = thread(brand_a, hours_ago=30)
    client.force_login(agent_a)

    page = client.get(f"/konversationen/{conversation.pk}/", headers=HTMX)
    response = client.post(
        f"/konversationen/{conversation.pk}/whatsapp/", {"text": "Hallo"}, headers=HTMX
    )

    assert "Fenster geschlossen" in page.text
    assert 'id="wa-text"' not in page.text
    assert response.status_code == 400
    assert "nur eine freigegebene Vorlage möglich" in response.text
    assert not OutboundMessage.objects.exists()


def test_outside_the_window_the_template_picker_is_open_with_the_customers_values(
    client, agent_a, number, brand_a, httpserver
):
    load_library()
    conversation = thread(brand_a, hours_ago=30)
    httpserver.expect_request(f"/v23.0/{PHONE_NUMBER_ID}/messages").respond_with_json(
        sent("wamid.TPL")
    )
    client.force_login(agent_a)

    page = client.get(f"/konversationen/{conversation.pk}/", headers=HTMX)
    response = client.post(
        f"/konversationen/{conversation.pk}/whatsapp/",
        {"template": "whatsapp_callback"},
        headers=HTMX,
    )
    dispatch_batch()

    assert '<details id="wa-templates" class="wa-templates" open>' in page.text
    assert "Sollen wir Sie unter +49 1511 2345678 zurückrufen?" in page.text
    assert response.status_code == 200
    payload = json.loads(httpserver.log[0][0].data)
    assert payload["template"] == {
        "name": "rueckruf",
        "language": {"code": "de"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "+49 1511 2345678"}]}
        ],
    }
    message = Message.objects.get(direction="out")
    assert message.text == "Sollen wir Sie unter +49 1511 2345678 zurückrufen?"
    assert message.status == "sent"


def test_the_window_counts_the_customers_last_message_to_this_brand_only(
    agent_a, number, brand_a, brand_b
):
    from conversations.whatsapp import window_open

    conversation = thread(brand_a, hours_ago=30)
    other = CustomerFactory(brand=brand_b)
    ingest_message(
        brand=brand_b, channel="whatsapp", sender_address="+4915112345678", provider_id="wamid.B",
        text="an die andere Marke", occurred_at=timezone.now(),
    )  # fmt: skip

    assert other.brand == brand_b
    assert not window_open(conversation)


def test_the_approved_language_code_is_sent_not_our_templates_language(
    client, agent_a, number, brand_a, httpserver
):
    load_library()
    conversation = thread(brand_a, hours_ago=30)
    conversation.customer.language = "en"
    conversation.customer.save(update_fields=["language"])
    httpserver.expect_request(f"/v23.0/{PHONE_NUMBER_ID}/messages").respond_with_json(
        sent("wamid.TPL")
    )
    client.force_login(agent_a)

    client.post(
        f"/konversationen/{conversation.pk}/whatsapp/",
        {"template": "whatsapp_callback"},
        headers=HTMX,
    )
    dispatch_batch()

    payload = json.loads(httpserver.log[0][0].data)
    assert (payload["template"]["name"], payload["template"]["language"]) == (
        "callback",
        {"code": "en_US"},
    )


def test_seed_001s_standard_templates_ship_with_their_approved_names_and_codes():
    from templates_app.models import MessageTemplate

    load_library()

    shipped = {
        (t.key, t.language): (v.whatsapp_name, v.whatsapp_language)
        for t in MessageTemplate.objects.filter(channel="whatsapp", key__startswith="whatsapp_")
        for v in [t.variants.get().active_version]
    }
    assert {key for key, _language in shipped} == {
        "whatsapp_welcome", "whatsapp_confirmation", "whatsapp_follow_up", "whatsapp_callback",
    }  # fmt: skip
    assert shipped[("whatsapp_callback", "de")] == ("rueckruf", "de")
    assert shipped[("whatsapp_callback", "en")][1] == "en_US"
    assert shipped[("whatsapp_confirmation", "nl")] == ("bevestiging", "nl")


def test_a_language_code_meta_does_not_know_is_refused():
    from templates_app.rendering import validate_content

    problems = validate_content(
        {"text": "Hallo", "whatsapp_name": "hallo", "whatsapp_language": "Deutsch"},
        event_type="conversation",
        channel="whatsapp",
    )

    assert "whatsapp_language" in problems
