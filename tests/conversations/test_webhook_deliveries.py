"""Every ESP webhook body is stored before it is parsed; broken ones answer 4xx, never 500.

Payload shapes follow anymail's own test fixtures (tests/test_<esp>_inbound.py in
anymail/django-anymail), addressed to ZaptecShop's support address.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import warnings

import anymail.urls
import pytest
from anymail.exceptions import AnymailNotSupportedWarning

from conversations.models import Attachment, Conversation, Message, RawEmail, WebhookDelivery
from tests.conversations.test_inbound_webhook import PAYLOAD as POSTMARK_INBOUND
from tests.conversations.test_inbound_webhook import PDF

SECRET = "esp:richtig-geheim"
MAILGUN_KEY = "mailgun-signing-key"
TO = "support@zaptecshop.nl"


def auth(secret: str = SECRET) -> str:
    return "Basic " + base64.b64encode(secret.encode()).decode()


@pytest.fixture(autouse=True)
def esp_settings(settings):
    # the ESPs that need settings of their own for webhooks get them; the others
    # (Amazon SES, Resend, Postal, ...) stay unconfigured
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY,
        "BREVO_API_KEY": "brevo-test-key",
    }
    # SendGrid's views warn that anymail no longer tests SendGrid; they still work
    warnings.simplefilter("ignore", AnymailNotSupportedWarning)


def mailgun_signed(data: dict) -> dict:
    """Mailgun's legacy (form) signature: HMAC-SHA256 of timestamp + token."""
    data.setdefault("timestamp", "1461261330")
    data.setdefault("token", "06c96bafc3f42a66b9edd546347a2fe18dc23461fe80dc52f0")
    data["signature"] = hmac.new(
        MAILGUN_KEY.encode(), (data["timestamp"] + data["token"]).encode(), hashlib.sha256
    ).hexdigest()
    return data


def postmark_inbound():
    return json.dumps(POSTMARK_INBOUND), "application/json"


def mailgun_inbound():
    return mailgun_signed({
        "recipient": TO,
        "sender": "juergen.mueller@kunde-gmbh.de",
        "message-headers": json.dumps([
            ["X-Mailgun-Spf", "Pass"],
            ["Received", "from mail.kunde-gmbh.de by mxa.mailgun.org ..."],
            ["Mime-Version", "1.0"],
            ["From", '"Jürgen Müller" <juergen.mueller@kunde-gmbh.de>'],
            ["Date", "Fri, 20 Nov 2026 10:15:00 +0100"],
            ["Message-Id", "<frage-mailgun-1@kunde-gmbh.de>"],
            ["Subject", "Frage zur Wallbox"],
            ["To", f'"ZaptecShop" <{TO}>'],
        ]),
        "body-plain": "Guten Tag,\nwie groß ist die Wallbox?",
        "body-html": "<div>Guten Tag, wie groß ist die Wallbox?</div>",
        "stripped-text": "Guten Tag",
    }), None  # fmt: skip


def sendgrid_inbound():
    return {
        "headers": (
            "Received: by mx987654321.sendgrid.net ...\n"
            "MIME-Version: 1.0\n"
            'From: "Jürgen Müller" <juergen.mueller@kunde-gmbh.de>\n'
            "Date: Fri, 20 Nov 2026 10:15:00 +0100\n"
            "Message-ID: <frage-sendgrid-1@kunde-gmbh.de>\n"
            "Subject: Frage zur Wallbox\n"
            f"To: {TO}\n"
        ),
        "from": "Jürgen Müller <juergen.mueller@kunde-gmbh.de>",
        "to": TO,
        "subject": "Frage zur Wallbox",
        "text": "Guten Tag,\nwie groß ist die Wallbox?",
        "html": "<div>Guten Tag, wie groß ist die Wallbox?</div>",
        "attachments": "0",
        "charsets": '{"to":"UTF-8","html":"UTF-8","subject":"UTF-8","from":"UTF-8","text":"UTF-8"}',
        "envelope": json.dumps({"to": [TO], "from": "juergen.mueller@kunde-gmbh.de"}),
        "sender_ip": "10.10.1.71",
        "SPF": "pass",
        "spam_score": "0.1",
    }, None


def brevo_inbound():
    item = {
        "Uuid": ["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"],
        "MessageId": "<frage-brevo-1@kunde-gmbh.de>",
        "InReplyTo": None,
        "From": {"Name": "Jürgen Müller", "Address": "juergen.mueller@kunde-gmbh.de"},
        "To": [{"Name": None, "Address": TO}],
        "Cc": [],
        "ReplyTo": None,
        "SentAtDate": "Fri, 20 Nov 2026 10:15:00 +0100",
        "Subject": "Frage zur Wallbox",
        "Attachments": [],
        "Headers": {
            "MIME-Version": "1.0",
            "From": "Jürgen Müller <juergen.mueller@kunde-gmbh.de>",
            "Date": "Fri, 20 Nov 2026 10:15:00 +0100",
            "Message-ID": "<frage-brevo-1@kunde-gmbh.de>",
            "Subject": "Frage zur Wallbox",
            "To": TO,
        },
        "SpamScore": 0.1,
        "RawHtmlBody": "<div>Guten Tag, wie groß ist die Wallbox?</div>",
        "RawTextBody": "Guten Tag,\r\nwie groß ist die Wallbox?\r\n",
    }
    return json.dumps({"items": [item]}), "application/json"


INBOUND = {
    "postmark": postmark_inbound,
    "mailgun": mailgun_inbound,
    "sendgrid": sendgrid_inbound,
    "brevo": brevo_inbound,
}


def post(client, url, data, content_type=None, secret=SECRET):
    kwargs = {"HTTP_AUTHORIZATION": auth(secret)}
    if content_type is not None:
        kwargs["content_type"] = content_type
    return client.post(url, data=data, **kwargs)


# --- real payloads of every ESP we test against ----------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("esp", INBOUND)
def test_an_inbound_mail_is_stored_raw_and_then_ingested(client, brand_b, esp):
    data, content_type = INBOUND[esp]()

    response = post(client, f"/webhooks/inbound/{esp}/", data, content_type)

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.esp, delivery.kind, delivery.state) == (esp, "inbound", "ok")
    assert delivery.brand == brand_b
    assert delivery.events == 1
    assert b"wie gro" in bytes(delivery.body) or "wie groß" in delivery.body_text()
    assert "Authorization" not in delivery.headers
    message = Message.objects.get()
    assert message.conversation.brand == brand_b
    assert "wie groß ist die Wallbox?" in message.text
    assert message.sender_address == "juergen.mueller@kunde-gmbh.de"


@pytest.mark.django_db
@pytest.mark.parametrize("esp", INBOUND)
def test_an_esps_retry_is_one_delivery_and_one_message(client, brand_b, esp):
    data, content_type = INBOUND[esp]()

    first = post(client, f"/webhooks/inbound/{esp}/", data, content_type)
    second = post(client, f"/webhooks/inbound/{esp}/", data, content_type)

    assert (first.status_code, second.status_code) == (200, 200)
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 2
    assert Message.objects.count() == 1
    assert RawEmail.objects.count() == 1


# --- what cannot be parsed ------------------------------------------------------------

BROKEN = {
    "malformed JSON": '{"From": "a@b.example", ',
    "a JSON list": "[]",
    "a JSON string": '"Hallo"',
    "an empty body": "",
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["inbound", "tracking"])
@pytest.mark.parametrize("body", BROKEN.values(), ids=BROKEN.keys())
def test_a_postmark_body_that_cannot_be_parsed_is_400_with_the_reason_and_kept(
    client, brand_b, kind, body
):
    response = post(client, f"/webhooks/{kind}/postmark/", body, "application/json")

    assert response.status_code == 400
    assert "nicht lesbar" in response.content.decode()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.esp, delivery.kind, delivery.state) == ("postmark", kind, "rejected")
    assert bytes(delivery.body) == body.encode()
    assert delivery.reason == response.content.decode()
    assert delivery.brand is None
    assert Conversation.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["inbound", "tracking"])
def test_an_empty_object_is_no_conversation_and_no_event(client, brand_b, kind):
    response = post(client, f"/webhooks/{kind}/postmark/", "{}", "application/json")

    assert response.status_code == 400
    assert "weder" in response.content.decode()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "rejected"
    assert "weder" in delivery.reason
    assert Conversation.objects.count() == 0
    assert RawEmail.objects.count() == 0


@pytest.mark.django_db
def test_a_rejected_body_sent_again_is_rejected_again_and_counted(client, brand_b):
    post(client, "/webhooks/inbound/postmark/", "[]", "application/json")
    response = post(client, "/webhooks/inbound/postmark/", "[]", "application/json")

    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("rejected", 2)


def broken_attachment_payload():
    payload = copy.deepcopy(POSTMARK_INBOUND)
    payload["Attachments"].append({
        "Name": "kaputt.pdf", "Content": "kein base64", "ContentType": "application/pdf",
        "ContentLength": 11, "ContentID": "",
    })  # fmt: skip
    return json.dumps(payload)


@pytest.mark.django_db
def test_a_mail_with_a_broken_base64_attachment_lands_flagged_with_the_attachment_raw(
    client, brand_b
):
    response = post(client, "/webhooks/inbound/postmark/", broken_attachment_payload(),
                    "application/json")  # fmt: skip

    assert response.status_code == 200
    message = Message.objects.get()
    assert message.conversation.brand == brand_b
    assert "wie groß ist die Wallbox?" in message.text
    assert message.flagged
    assert "kaputt.pdf" in message.flag_reason and "Base64" in message.flag_reason
    attachments = {a.filename: a for a in message.attachments.all()}
    assert set(attachments) == {"Prüfbericht.pdf", "kaputt.pdf"}
    with attachments["Prüfbericht.pdf"].file.open("rb") as handle:
        assert handle.read() == PDF
    with attachments["kaputt.pdf"].file.open("rb") as handle:
        assert handle.read() == b"kein base64"  # as it came, nothing guessed
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.brand) == ("ok", brand_b)
    assert "kaputt.pdf" in delivery.reason


@pytest.mark.django_db
def test_a_retry_of_the_mail_with_the_broken_attachment_duplicates_nothing(client, brand_b):
    body = broken_attachment_payload()
    for _ in range(3):
        assert (
            post(client, "/webhooks/inbound/postmark/", body, "application/json").status_code == 200
        )

    assert Message.objects.count() == 1
    assert Attachment.objects.count() == 2
    assert WebhookDelivery.objects.get().attempts == 3


@pytest.mark.django_db
def test_a_mailgun_body_with_a_wrong_signature_is_rejected_and_kept(client, brand_b):
    data, _content_type = mailgun_inbound()
    data["signature"] = "0" * 64

    response = post(client, "/webhooks/inbound/mailgun/", data)

    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "rejected"
    assert "signature" in delivery.reason
    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_a_mail_above_djangos_form_limit_is_still_received(client, settings, brand_b):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000  # far below the payload
    data, content_type = postmark_inbound()
    assert len(data) > 1000

    response = post(client, "/webhooks/inbound/postmark/", data, content_type)

    assert response.status_code == 200
    assert WebhookDelivery.objects.get().state == "ok"
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_a_body_above_the_webhook_limit_is_413_and_the_attempt_shows(client, settings, brand_b):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    data, content_type = postmark_inbound()

    response = post(client, "/webhooks/inbound/postmark/", data, content_type)

    assert response.status_code == 413
    assert "WEBHOOK_MAX_BODY_BYTES" in response.content.decode()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.reason) == ("rejected", response.content.decode())


# --- configuration and credentials --------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/webhooks/inbound/mailgun/", "/webhooks/tracking/mailgun/",
                                 "/webhooks/tracking/mandrill/"])  # fmt: skip
def test_an_esp_without_its_own_settings_is_404_and_the_body_kept(client, settings, url):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}  # no Mailgun signing key, no Mandrill key

    response = post(client, url, '{"event": "delivered"}', "application/json")

    assert response.status_code == 404
    assert "not configured" in response.content.decode()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "rejected"
    assert "not configured" in delivery.reason


@pytest.mark.django_db
def test_the_esps_url_check_with_head_and_other_methods(client, settings):
    head = client.head("/webhooks/tracking/postmark/", HTTP_AUTHORIZATION=auth())
    get = client.get("/webhooks/tracking/postmark/", HTTP_AUTHORIZATION=auth())
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    unconfigured = client.head("/webhooks/tracking/mailgun/", HTTP_AUTHORIZATION=auth())

    assert (head.status_code, get.status_code, unconfigured.status_code) == (200, 405, 404)
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.django_db
def test_a_wrong_secret_stores_nothing(client, brand_b):
    data, content_type = postmark_inbound()

    response = post(client, "/webhooks/inbound/postmark/", data, content_type, secret="esp:falsch")

    assert response.status_code == 401
    assert WebhookDelivery.objects.count() == 0


# --- the sweep: every ESP URL, every broken body -------------------------------------

GARBAGE = {
    **BROKEN,
    "an empty object": "{}",
    "an object of nonsense": '{"Attachments": "x", "Headers": 5, "event-data": []}',
    "a list of nonsense": '[1, "x", null, {"event": 5}]',
    "not UTF-8": b"\xff\xfe\x00garbage",
}


def webhook_urls() -> list[str]:
    urls = []
    for pattern in anymail.urls.urlpatterns:
        for kind in ("inbound", "tracking"):
            name = pattern.name or ""
            if name.endswith(f"_{kind}_webhook"):
                urls.append(f"/webhooks/{kind}/{name.removesuffix(f'_{kind}_webhook')}/")
    return urls


@pytest.mark.django_db
@pytest.mark.parametrize("url", webhook_urls())
@pytest.mark.parametrize("body", GARBAGE.values(), ids=GARBAGE.keys())
@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_no_webhook_answers_500_to_garbage(client, brand_b, url, body, content_type):
    client.raise_request_exception = False

    response = post(client, url, body, content_type)

    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400 and response.status_code != 404:
        delivery = WebhookDelivery.objects.get()
        assert delivery.state in ("rejected", "failed")
        assert delivery.reason
    assert Conversation.objects.count() == 0
