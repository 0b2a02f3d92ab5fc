"""Delivery status back onto the message: Postmark's webhook via anymail, our pixel and redirect."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from compliance.models import Consent, Suppression
from conversations.models import Message, StatusChange
from kommunikation.dispatch import dispatch_batch
from kommunikation.outbox import enqueue_outbound
from tests.kommunikation.conftest import grant

SECRET = "postmark:s3cret-webhook"


def soon() -> str:
    """ESP timestamps a moment after the send, so the timeline order is the real one."""
    return (timezone.now() + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def sent(smtp_sink, customer, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    grant(customer)
    row = enqueue_outbound(
        brand=customer.brand, customer=customer, channels="email", category="marketing",
        idempotency_key="news:1", source="bulk", subject="Neu im Shop",
        text="Hallo", html='<p>Hallo <a href="https://shop.example/neu">neu</a></p>',
    )  # fmt: skip
    dispatch_batch()
    row.refresh_from_db()
    assert row.message is not None
    return row


def post(client, payload, secret=SECRET):
    auth = base64.b64encode(secret.encode()).decode()
    return client.post(
        "/webhooks/tracking/postmark/",
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )


def delivery(row):
    return {
        "RecordType": "Delivery", "MessageID": "pm-1", "Recipient": row.recipient,
        "DeliveredAt": soon(), "Details": "250 OK", "Tag": "marketing",
        "ServerID": 1, "Metadata": {"outbound_id": str(row.pk)}, "MessageStream": "outbound",
    }  # fmt: skip


def bounce(row, kind="HardBounce"):
    return {
        "RecordType": "Bounce", "ID": 42, "Type": kind, "TypeCode": 1, "MessageID": "pm-1",
        "Email": row.recipient, "BouncedAt": soon(), "Description": "Unknown user",
        "Details": "550 5.1.1 user unknown", "Metadata": {"outbound_id": str(row.pk)},
        "Inactive": True, "CanActivate": True, "Subject": "Neu im Shop",
    }  # fmt: skip


def timeline(row):
    return list(StatusChange.objects.filter(message=row.message).values_list("status", flat=True))


def test_a_delivery_event_goes_onto_the_timeline(client, sent):
    response = post(client, delivery(sent))
    assert response.status_code == 200
    assert timeline(sent) == ["queued", "sent", "delivered"]
    assert Message.objects.get(pk=sent.message_id).status == "delivered"


def test_the_same_event_twice_is_recorded_once(client, sent):
    post(client, delivery(sent))
    post(client, delivery(sent))
    assert timeline(sent).count("delivered") == 1


def test_a_hard_bounce_marks_the_message_and_suppresses_the_address(client, sent):
    response = post(client, bounce(sent))
    assert response.status_code == 200
    assert timeline(sent)[-1] == "bounced"
    suppression = Suppression.objects.get(value="anna@kunde.example")
    assert suppression.reason == Suppression.Reason.HARD_BOUNCE


def test_a_soft_bounce_does_not_suppress(client, sent):
    post(client, bounce(sent, kind="SoftBounce"))
    assert not Suppression.objects.exists()


def test_a_complaint_suppresses_the_address(client, sent):
    payload = {
        "RecordType": "SpamComplaint", "Type": "SpamComplaint", "MessageID": "pm-1",
        "Email": sent.recipient, "BouncedAt": soon(),
        "Metadata": {"outbound_id": str(sent.pk)},
    }  # fmt: skip
    assert post(client, payload).status_code == 200
    assert Suppression.objects.get().reason == Suppression.Reason.COMPLAINT
    note = StatusChange.objects.filter(message=sent.message).last()
    assert note.detail == "Spam-Beschwerde"


def test_an_esp_unsubscribe_withdraws_consent(client, sent, customer):
    payload = {
        "RecordType": "SubscriptionChange", "MessageID": "pm-1", "Recipient": sent.recipient,
        "SuppressSending": True, "SuppressionReason": "ManualSuppression",
        "ChangedAt": soon(), "Metadata": {"outbound_id": str(sent.pk)},
    }  # fmt: skip
    assert post(client, payload).status_code == 200
    current = Consent.objects.current(customer=customer, purpose="marketing", channel="email")
    assert current.state == Consent.State.WITHDRAWN
    assert StatusChange.objects.filter(message=sent.message, detail="abgemeldet").count() == 1


def test_a_wrong_secret_is_rejected_and_changes_nothing(client, sent):
    response = post(client, bounce(sent), secret="postmark:wrong")
    assert response.status_code == 401
    assert timeline(sent) == ["queued", "sent"]
    assert not Suppression.objects.exists()


def test_the_open_pixel_and_click_redirect_record_status(client, smtp_sink, sent):
    html = smtp_sink.messages[0].get_body(("html",)).get_content()
    pixel = re.search(r'src="https?://[^/]+(/t/o/[^"]+)"', html).group(1)
    link = re.search(r'href="https?://[^/]+(/t/c/[^"]+)"', html).group(1)
    response = client.get(pixel)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    response = client.get(link)
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example/neu"
    assert timeline(sent) == ["queued", "sent", "opened", "clicked"]
    assert Message.objects.get(pk=sent.message_id).status == "clicked"


def test_a_tampered_tracking_link_is_400(client, smtp_sink, sent):
    html = smtp_sink.messages[0].get_body(("html",)).get_content()
    link = re.search(r'href="https?://[^/]+(/t/c/[^"]+)"', html).group(1)
    assert client.get(link.replace("/t/c/", "/t/c/x")).status_code == 400
    assert timeline(sent) == ["queued", "sent"]
