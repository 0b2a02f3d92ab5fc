"""Answering with a template from the keyboard: r, Shift+Tab to the picker, an arrow, send."""

from __future__ import annotations

import pytest
from django.core import mail
from playwright.sync_api import expect

from kommunikation.models import ContactPoint, OutboundMessage
from templates_app.loading import LIBRARY_DIR, load_library
from tests.conftest import login
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def conversation(brand_a):
    load_library([LIBRARY_DIR / "replies.yaml"])
    anna = CustomerFactory(brand=brand_a, first_name="Anna", last_name="Schwarzkopf", gender="f")
    ContactPoint.objects.create(customer=anna, channel="email", value="anna@kopf.example")
    conv = ConversationFactory(
        brand=brand_a, customer=anna, counterpart="anna@kopf.example", subject="Wallbox"
    )
    MessageFactory(conversation=conv, text="Die Wallbox blinkt rot.")
    return conv


def test_a_reply_template_is_picked_and_sent_from_the_keyboard(
    page, agent_a, conversation, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    login(page, agent_a)
    page.goto(f"/konversationen/{conversation.pk}/")

    page.locator("body").click(position={"x": 5, "y": 60})
    page.keyboard.press("r")
    picker = page.get_by_label("Vorlage einfügen")
    expect(picker).to_be_visible()  # loaded when the reply box opened
    expect(page.locator("#reply-text")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(picker).to_be_focused()
    page.keyboard.press("ArrowDown")  # the first template: "Abschluss / erledigt"
    page.keyboard.press("ArrowDown")  # the second replaces it: "Eingangsbestätigung"
    area = page.locator("#reply-text")
    expect(area).to_have_value(
        "Sehr geehrte Frau Schwarzkopf,\n\nvielen Dank für Ihre Nachricht! Wir melden uns in "
        "Kürze bei Ihnen.\n\nMit freundlichen Grüßen\nIhr Team von LaderThuis"
    )
    page.keyboard.press("Tab")
    expect(area).to_be_focused()
    page.get_by_role("button", name="Senden", exact=True).click()

    expect(page.locator(".msg-out .delivery")).to_contain_text("gesendet")
    row = OutboundMessage.objects.get(conversation=conversation)
    assert (row.status, row.source, row.recipient) == ("sent", "reply", "anna@kopf.example")
    [sent] = mail.outbox
    assert sent.body.startswith("Sehr geehrte Frau Schwarzkopf,\n\nvielen Dank")
