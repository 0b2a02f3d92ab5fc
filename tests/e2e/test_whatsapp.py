"""A WhatsApp thread in the browser: the window's countdown, free text inside it, and
outside it only the template picker, filled from the customer."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conversations.ingest import ingest_message
from kommunikation.models import OutboundMessage, WhatsAppNumber
from templates_app.loading import LIBRARY_DIR, load_library
from tests.conftest import login
from tests.factories import ContactPointFactory, CustomerFactory
from tests.whatsapp_payloads import PHONE_NUMBER_ID, sent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def whatsapp(brand_a, settings, httpserver):
    settings.WHATSAPP_GRAPH_URL = httpserver.url_for("").rstrip("/")
    settings.COMPLIANCE_SEND_WINDOWS = {}  # any hour of the test run
    load_library([LIBRARY_DIR / "whatsapp.yaml"])
    WhatsAppNumber.objects.create(
        brand=brand_a, display_number="+31612345679", phone_number_id=PHONE_NUMBER_ID,
        access_token="EAAG-token", app_secret="s", verify_token="v",
    )  # fmt: skip
    httpserver.expect_request(f"/v23.0/{PHONE_NUMBER_ID}/messages").respond_with_json(
        sent("wamid.E2E")
    )
    return httpserver


def chat(brand, *, hours_ago: float):
    customer = CustomerFactory(brand=brand, first_name="Sheena", last_name="Nelson")
    ContactPointFactory(customer=customer, channel="phone", value="+4915112345678", type="mobile")
    return ingest_message(
        brand=brand, channel="whatsapp", sender_address="+4915112345678", provider_id="wamid.IN",
        text="Ist meine Wallbox fertig?", sender_name="Sheena Nelson",
        occurred_at=timezone.now() - dt.timedelta(hours=hours_ago),
    ).conversation  # fmt: skip


def test_inside_the_window_the_countdown_shows_and_r_answers_with_free_text(
    page, agent_a, brand_a, whatsapp
):
    conversation = chat(brand_a, hours_ago=20.5)
    login(page, agent_a)
    page.goto(f"/konversationen/{conversation.pk}/")

    page.locator("body").click(position={"x": 5, "y": 60})
    page.keyboard.press("r")

    expect(page.locator("#wa-window")).to_have_text(re.compile(r"Fenster offen noch 3 h 2\d min"))
    expect(page.locator("#wa-text")).to_be_focused()
    page.keyboard.type("Ja, sie ist fertig.")
    page.locator("#wa-text-form").get_by_role("button", name="Senden").click()

    expect(page.locator(".msg-out .delivery")).to_contain_text("gesendet")
    assert json.loads(whatsapp.log[0][0].data)["text"]["body"] == "Ja, sie ist fertig."


def test_outside_the_window_free_text_is_refused_and_the_template_picker_opens(
    page, agent_a, brand_a, whatsapp
):
    conversation = chat(brand_a, hours_ago=30)
    login(page, agent_a)
    page.goto(f"/konversationen/{conversation.pk}/")

    page.locator("body").click(position={"x": 5, "y": 60})
    page.keyboard.press("r")

    expect(page.locator("#wa-window")).to_contain_text("Fenster geschlossen")
    expect(page.locator("#wa-text")).to_have_count(0)
    picker = page.locator("#wa-templates")
    expect(picker).to_have_attribute("open", "")
    callback = picker.get_by_text("Sollen wir Sie unter +49 1511 2345678 zurückrufen?")
    expect(callback).to_be_visible()
    picker.get_by_label(re.compile("Rückruf")).check()
    picker.get_by_role("button", name="Vorlage senden").click()

    expect(page.locator(".msg-out .delivery")).to_contain_text("gesendet")
    row = OutboundMessage.objects.get(conversation=conversation)
    assert (row.template_key, row.status) == ("whatsapp_callback", "sent")
    assert json.loads(whatsapp.log[0][0].data)["template"]["name"] == "rueckruf"
