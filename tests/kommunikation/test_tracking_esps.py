"""Delivery status from every ESP we test against, through the stored-first webhook.

Payload shapes follow anymail's fixtures (tests/test_<esp>_webhooks.py in
anymail/django-anymail): a hard bounce for the marketing mail we just sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings

import pytest
from anymail.exceptions import AnymailNotSupportedWarning

from compliance.models import Suppression
from conversations.models import Message, StatusChange, WebhookDelivery
from kommunikation.dispatch import dispatch_batch
from kommunikation.outbox import enqueue_outbound
from tests.kommunikation.conftest import grant

SECRET = "esp:s3cret-webhook"
MAILGUN_KEY = "mailgun-signing-key"


@pytest.fixture
def sent(smtp_sink, customer, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    warnings.simplefilter("ignore", AnymailNotSupportedWarning)
    grant(customer)
    row = enqueue_outbound(
        brand=customer.brand, customer=customer, channels="email", category="marketing",
        idempotency_key="news:1", source="bulk", subject="Neu im Shop", text="Hallo",
    )  # fmt: skip
    dispatch_batch()
    row.refresh_from_db()
    assert row.message is not None
    return row


def later() -> int:
    return int(time.time()) + 60


def postmark(row):
    return json.dumps({
        "RecordType": "Bounce", "ID": 42, "Type": "HardBounce", "TypeCode": 1,
        "MessageID": "pm-1", "Email": row.recipient,
        "BouncedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(later())),
        "Description": "Unknown user", "Details": "550 5.1.1 user unknown",
        "Metadata": {"outbound_id": str(row.pk)}, "Inactive": True, "Subject": "Neu im Shop",
    })  # fmt: skip


def mailgun(row):
    timestamp, token = str(later()), "651869375b9df3c98fc15c4889b102119add1235c38fc92824"
    signature = hmac.new(MAILGUN_KEY.encode(), (timestamp + token).encode(), hashlib.sha256)
    return json.dumps({
        "signature": {"timestamp": timestamp, "token": token, "signature": signature.hexdigest()},
        "event-data": {
            "event": "failed", "severity": "permanent", "reason": "bounce",
            "recipient": row.recipient, "timestamp": float(timestamp), "log-level": "error",
            "user-variables": {"outbound_id": str(row.pk)},
            "message": {"headers": {"to": row.recipient, "message-id": "mg-1@zaptec.example"}},
            "delivery-status": {"code": 550, "message": "5.1.1 user unknown", "attempt-no": 1},
        },
    })  # fmt: skip


def sendgrid(row):
    return json.dumps([{
        "email": row.recipient, "timestamp": later(), "event": "bounce", "type": "bounce",
        "status": "5.1.1", "reason": "550 5.1.1 user unknown",
        "sg_event_id": "lC0Rc-FuQmKbnxCWxX1jRQ", "sg_message_id": "Lli-03HcQ5.filter0077p1las1",
        "outbound_id": str(row.pk),
    }])  # fmt: skip


def brevo(row):
    return json.dumps({
        "event": "hard_bounce", "email": row.recipient, "ts_epoch": later() * 1000,
        "message-id": "<201803011158.9876543210@smtp-relay.mailin.fr>",
        "reason": " RecipientError: 550 5.5.0 Requested action not taken: mailbox unavailable.",
        "X-Mailin-custom": json.dumps({"outbound_id": str(row.pk)}),
    })  # fmt: skip


BOUNCES = {"postmark": postmark, "mailgun": mailgun, "sendgrid": sendgrid, "brevo": brevo}


def post(client, esp, body):
    auth = base64.b64encode(SECRET.encode()).decode()
    return client.post(
        f"/webhooks/tracking/{esp}/", data=body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )  # fmt: skip


def statuses(row):
    return list(StatusChange.objects.filter(message=row.message).values_list("status", flat=True))


@pytest.mark.parametrize("esp", BOUNCES)
def test_a_hard_bounce_is_stored_and_goes_onto_the_message(client, sent, esp):
    response = post(client, esp, BOUNCES[esp](sent))

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.esp, delivery.kind, delivery.state) == (esp, "tracking", "ok")
    assert delivery.brand == sent.brand
    assert Message.objects.get(pk=sent.message_id).status == "bounced"
    assert Suppression.objects.get(value=sent.recipient).reason == Suppression.Reason.HARD_BOUNCE


@pytest.mark.parametrize("esp", BOUNCES)
def test_the_esps_retry_changes_nothing(client, sent, esp):
    body = BOUNCES[esp](sent)
    assert post(client, esp, body).status_code == 200
    assert post(client, esp, body).status_code == 200

    assert statuses(sent).count("bounced") == 1
    assert WebhookDelivery.objects.get().attempts == 2


def test_an_event_we_cannot_handle_is_400_and_kept_as_failed(client, sent):
    body = json.loads(postmark(sent))
    body["Email"] = 12345  # anymail passes it on; our handler expects an address

    response = post(client, "postmark", json.dumps(body))

    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed"
    assert "Ereignis 1" in delivery.reason
    assert response.content.decode() == delivery.reason
