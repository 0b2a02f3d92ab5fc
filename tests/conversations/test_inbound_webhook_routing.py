"""An inbound webhook to an address of no mailbox is routed like a file import: by its
thread, else its envelope recipient, else its headers (conversations.routing)."""

from __future__ import annotations

import base64
import json

import pytest

from conversations.models import Conversation
from tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

URL = "/webhooks/inbound/postmark/"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "postmark:richtig-geheim"}


def post(client, *, to: str, original: str, headers: list[dict]) -> int:
    payload = {
        "From": "jan.devries@gmail.example",
        "FromFull": {"Email": "jan.devries@gmail.example", "Name": "Jan de Vries"},
        "To": to,
        "ToFull": [{"Email": to, "Name": ""}],
        "CcFull": [],
        "OriginalRecipient": original,
        "Subject": "Re: Offerte",
        "MessageID": "pm-1",
        "Date": "Fri, 20 Nov 2026 10:15:00 +0100",
        "TextBody": "Akkoord.",
        "Headers": [{"Name": "Message-ID", "Value": "<antwoord-1@gmail.example>"}, *headers],
        "Attachments": [],
    }
    auth = "Basic " + base64.b64encode(b"postmark:richtig-geheim").decode()
    response = client.post(
        URL, data=json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    return response.status_code


def test_a_reply_follows_its_thread_to_the_other_brand(client, brand_a, brand_b):
    thread = ConversationFactory(brand=brand_a, counterpart="jan.devries@gmail.example")
    MessageFactory(conversation=thread, direction="out", message_id="<offerte-7@laderthuis.nl>")

    status = post(
        client,
        to="support@zaptecshop.nl",
        original="support@zaptecshop.nl",
        headers=[{"Name": "In-Reply-To", "Value": "<offerte-7@laderthuis.nl>"}],
    )

    assert status == 200
    assert Conversation.objects.get() == thread
    assert thread.messages.count() == 2


def test_the_envelope_recipient_ranks_above_the_to_line(client, brand_a, brand_b):
    status = post(client, to="support@laderthuis.nl", original="support@zaptecshop.nl", headers=[])

    assert status == 200
    assert Conversation.objects.get().brand == brand_b
