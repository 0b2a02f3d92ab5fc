"""Postmark's inbound webhook through anymail: basic auth, routing by recipient, dedupe."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from conversations.models import Attachment, Conversation, Mailbox, Message, RawEmail
from tests.conftest import NOW

pytestmark = pytest.mark.time_machine(NOW)  # the mails carry fixed 2026 dates

URL = "/webhooks/inbound/postmark/"
PDF = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF\n"

PAYLOAD = {
    "FromName": "Jürgen Müller",
    "MessageStream": "inbound",
    "From": "juergen.mueller@kunde-gmbh.de",
    "FromFull": {"Email": "juergen.mueller@kunde-gmbh.de", "Name": "Jürgen Müller"},
    "To": "support@zaptecshop.nl",
    "ToFull": [{"Email": "support@zaptecshop.nl", "Name": "", "MailboxHash": ""}],
    "Cc": "",
    "CcFull": [],
    "OriginalRecipient": "support@zaptecshop.nl",
    "Subject": "Frage zur Größe der Wallbox",
    "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
    "ReplyTo": "",
    "Date": "Fri, 20 Nov 2026 10:15:00 +0100",
    "TextBody": "Guten Tag,\nwie groß ist die Wallbox?\nGrüße",
    "HtmlBody": "<p>Guten Tag,</p><p>wie groß ist die Wallbox?</p><script>alert(1)</script>",
    "StrippedTextReply": "",
    "Tag": "",
    "Headers": [
        {"Name": "Return-Path", "Value": "<juergen.mueller@kunde-gmbh.de>"},
        {"Name": "Message-ID", "Value": "<frage-webhook-1@kunde-gmbh.de>"},
        {"Name": "X-Spam-Status", "Value": "No"},
    ],
    "Attachments": [
        {
            "Name": "Prüfbericht.pdf",
            "Content": base64.b64encode(PDF).decode(),
            "ContentType": "application/pdf",
            "ContentLength": len(PDF),
            "ContentID": "",
        }
    ],
}


def auth(secret: str) -> str:
    return "Basic " + base64.b64encode(secret.encode()).decode()


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "postmark:richtig-geheim"}


def post(client, payload, secret="postmark:richtig-geheim"):
    return client.post(
        URL,
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth(secret),
    )


@pytest.mark.django_db
def test_it_ingests_an_inbound_mail_into_the_brand_of_the_recipient(client, brand_a, brand_b):
    response = post(client, PAYLOAD)

    assert response.status_code == 200
    conversation = Conversation.objects.get()
    assert conversation.brand == brand_b  # by the recipient's domain
    assert conversation.subject == "Frage zur Größe der Wallbox"
    assert conversation.counterpart == "juergen.mueller@kunde-gmbh.de"
    message = conversation.messages.get()
    assert message.message_id == "<frage-webhook-1@kunde-gmbh.de>"
    assert message.sender_name == "Jürgen Müller"
    assert "wie groß ist die Wallbox?" in message.text
    assert "<script" not in message.html and "wie groß" in message.html
    attachment = message.attachments.get()
    assert attachment.filename == "Prüfbericht.pdf"
    with attachment.file.open("rb") as handle:
        assert handle.read() == PDF
    assert RawEmail.objects.get().source == "webhook:Postmark:73e6d360-66eb-11e1-8e72-a8904824019b"


@pytest.mark.django_db
def test_it_routes_by_mailbox_address(client, brand_a, brand_b):
    mailbox = Mailbox.objects.create(
        brand=brand_a, name="Service", address="service@extern.example"
    )
    payload = copy.deepcopy(PAYLOAD)
    payload["ToFull"] = [{"Email": "Service@extern.example", "Name": "Service"}]
    payload["OriginalRecipient"] = "service@extern.example"

    assert post(client, payload).status_code == 200

    conversation = Conversation.objects.get()
    assert (conversation.brand, conversation.mailbox) == (brand_a, mailbox)


@pytest.mark.django_db
def test_the_same_payload_twice_is_one_message(client, brand_b):
    assert post(client, PAYLOAD).status_code == 200
    assert post(client, PAYLOAD).status_code == 200

    assert RawEmail.objects.count() == 1
    assert Message.objects.count() == 1
    assert not Message.objects.get().flagged
    assert Attachment.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("secret", ["postmark:falsch", None])
def test_a_wrong_or_missing_secret_is_refused_and_nothing_stored(client, brand_b, secret):
    if secret is None:
        response = client.post(URL, data=json.dumps(PAYLOAD), content_type="application/json")
    else:
        response = post(client, PAYLOAD, secret=secret)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="webhooks"'
    assert RawEmail.objects.count() == 0
    assert Conversation.objects.count() == 0


@pytest.mark.django_db
def test_without_a_configured_secret_there_are_no_webhooks(client, settings, brand_b):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": None}

    response = post(client, PAYLOAD)

    assert response.status_code == 404
    assert b"not configured" in response.content
    assert RawEmail.objects.count() == 0
