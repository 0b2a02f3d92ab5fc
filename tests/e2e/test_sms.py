"""An SMS thread in the browser: `r` opens the SMS composer, characters and segments are
counted while typing (GSM-7, UCS-2), a text above the brand's limit cannot be sent, and
the answer goes out to the provider and shows as sent in the thread."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conversations.ingest import ingest_message
from tests.conftest import login
from tests.factories import ContactPointFactory, CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def messagebird(brand_a, settings, httpserver):
    settings.SMS_PROVIDER = "messagebird"
    settings.SMS_API_KEY = "live_mb_key"
    settings.SMS_MESSAGEBIRD_URL = httpserver.url_for("").rstrip("/")
    brand_a.sms_sender_id = "LaderThuis"
    brand_a.sms_max_segments = 2
    brand_a.save()
    httpserver.expect_request("/messages").respond_with_json({"id": "mb-e2e"}, status=201)
    return httpserver


def sms_thread(brand):
    customer = CustomerFactory(brand=brand, first_name="Sheena", last_name="Nelson")
    ContactPointFactory(customer=customer, channel="phone", value="+4915112345678", type="mobile")
    return ingest_message(
        brand=brand, channel="sms", sender_address="+4915112345678", provider_id="mb-in",
        text="Kommt der Monteur heute noch?", occurred_at=timezone.now(),
    ).conversation  # fmt: skip


def test_r_opens_the_sms_composer_which_counts_segments_and_sends(
    page, agent_a, brand_a, messagebird
):
    conversation = sms_thread(brand_a)
    login(page, agent_a)
    page.goto(f"/konversationen/{conversation.pk}/")

    page.locator("body").click(position={"x": 5, "y": 60})
    page.keyboard.press("r")

    area = page.locator("#sms-text")
    count = page.locator("#sms-count")
    send = page.locator("#sms-send")
    expect(area).to_be_focused()
    page.keyboard.type("Ja, gegen 15 Uhr.")
    expect(count).to_contain_text("17 Zeichen · GSM-7 · 1 von höchstens 2 Teilen")

    area.fill("ü" * 307)  # umlauts are GSM-7: 307 septets need 3 parts of 153
    area.dispatch_event("input")
    expect(count).to_contain_text("Zu lang: 3 Teile, höchstens 2 erlaubt.")
    expect(send).to_be_disabled()

    area.fill("Danke „für“ Ihre Nachricht")
    area.dispatch_event("input")
    expect(count).to_contain_text("UCS-2")
    expect(send).to_be_enabled()

    area.fill("Ja, gegen 15 Uhr.")
    area.dispatch_event("input")
    send.click()

    expect(page.locator(".msg-out .delivery")).to_contain_text("gesendet")
    payload = json.loads(messagebird.log[0][0].data)
    assert payload["body"] == "Ja, gegen 15 Uhr."
    assert payload["originator"] == "LaderThuis"
    assert payload["recipients"] == ["4915112345678"]
