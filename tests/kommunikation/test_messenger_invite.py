"""Messenger invites (seed 003): an email or SMS with a tracked WhatsApp click-to-chat link."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from django.core import mail

from conversations.models import Message, StatusChange
from kommunikation.dispatch import dispatch_batch
from kommunikation.events.catalogue import build_context
from kommunikation.models import OutboundMessage
from kommunikation.outbox import enqueue_outbound
from kommunikation.tracking import invite_link
from templates_app.invites import click_to_chat_url
from templates_app.loading import LIBRARY_DIR, load_library
from templates_app.models import MessageTemplate
from templates_app.plain import customer_data
from templates_app.rendering import render_message
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
ORDER = {"order_number": "A-1001", "status": "quote_sent"}
TRACKED = re.compile(r"http://testserver/t/w/[^\s\"'<>]+/")


@pytest.fixture
def brand(brand_a):
    brand_a.whatsapp_number = "+31612345679"
    brand_a.save(update_fields=["whatsapp_number"])
    return brand_a


@pytest.fixture
def anna(brand):
    return CustomerFactory(brand=brand, number="K-10001", email="anna@kunde.example")


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "http://testserver"
    load_library([LIBRARY_DIR / "invites.yaml"])


def test_the_click_to_chat_address_has_digits_only_and_an_encoded_text():
    url = click_to_chat_url("+31 6-1234 5679", "Hallo LaderThuis, Frage zu A-1 & mehr?")

    assert url == (
        "https://wa.me/31612345679?text=Hallo%20LaderThuis%2C%20Frage%20zu%20A-1%20%26%20mehr%3F"
    )
    assert click_to_chat_url("+31612345679") == "https://wa.me/31612345679"
    assert click_to_chat_url("") == ""


def test_the_invite_ships_in_three_languages_for_email_and_sms():
    rows = MessageTemplate.objects.filter(key="whatsapp_invite", brand=None)
    assert {(t.channel, t.language) for t in rows} == {
        (c, lang) for c in ("email", "sms") for lang in ("de", "en", "nl")
    }
    assert {t.description for t in rows if t.channel == "email"} == {"Einladung WhatsApp"}


def queue(brand, customer, channel="email"):
    return enqueue_outbound(
        brand=brand, customer=customer, channels=channel, category="service",
        idempotency_key=f"invite:{channel}", source="rule", template_key="whatsapp_invite",
        context=build_context("order.status_changed", ORDER), trigger=False,
    )  # fmt: skip


def test_the_invite_email_carries_a_tracked_link_to_the_brand_s_whatsapp(client, brand, anna):
    queue(brand, anna)

    assert dispatch_batch().sent == 1

    [sent] = mail.outbox
    assert sent.subject == "Auftrag A-1001: schreiben Sie uns auf WhatsApp"
    link = TRACKED.search(sent.body).group(0)
    html = sent.alternatives[0][0]
    assert f'href="{link}"' in html  # the button links the same tracked address
    assert "wa.me" not in sent.body  # the customer's click passes through us first

    response = client.get(link.removeprefix("http://testserver"))

    assert response.status_code == 302
    target = response["Location"]
    assert target.startswith("https://wa.me/31612345679?text=")
    assert unquote(target.split("?text=")[1]) == (
        "Hallo LaderThuis, ich möchte Ihnen gern über WhatsApp schreiben. (Referenz: K-10001)"
    )
    assert " " not in target and "ö" not in target
    row = OutboundMessage.objects.get()
    message = Message.objects.get(pk=row.message_id)
    assert message.status == "clicked"
    assert StatusChange.objects.filter(message=message, status="clicked").count() == 1


def test_the_invite_sms_text_carries_the_same_tracked_link(brand, anna):
    row = queue(brand, anna, channel="sms")

    rendered = render_message(
        key="whatsapp_invite", channel="sms", customer=customer_data(anna), brand=brand,
        language="de", context=row.context, links={"whatsapp": invite_link(row)},
    )  # fmt: skip

    assert rendered.sms_text == (
        f"LaderThuis: Fragen zu Auftrag A-1001? Schreiben Sie uns auf WhatsApp: {invite_link(row)}"
    )
    assert len(invite_link(row)) < 90  # short enough for an SMS


def test_a_preview_shows_the_click_to_chat_address_itself(brand, anna):
    rendered = render_message(
        key="whatsapp_invite", channel="email", customer=customer_data(anna), brand=brand,
        language="en", context=build_context("order.status_changed", ORDER),
    )  # fmt: skip

    assert "https://wa.me/31612345679?text=Hello%20LaderThuis%2C%20" in rendered.html


def test_a_brand_without_whatsapp_number_does_not_send_an_empty_invite(brand_b):
    customer = CustomerFactory(brand=brand_b, email="bert@kunde.example")
    queue(brand_b, customer)

    assert dispatch_batch().failed == 1

    assert "whatsapp_link" in OutboundMessage.objects.get().last_error
    assert not mail.outbox


def test_a_forged_or_stale_invite_is_refused(client, brand, anna):
    row = queue(brand, anna)
    link = invite_link(row).removeprefix("http://testserver")

    assert client.get(link.replace("/t/w/", "/t/w/x")).status_code == 400
    brand.whatsapp_number = ""
    brand.save(update_fields=["whatsapp_number"])
    assert client.get(link).status_code == 410
