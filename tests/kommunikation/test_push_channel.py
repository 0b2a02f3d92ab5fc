"""Push through FCM HTTP v1 against a local server for both the token and the send endpoint."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from werkzeug import Response

from conversations.models import Message
from kommunikation.channels import CHANNELS
from kommunikation.channels.base import Outgoing, PermanentError, TransientError
from kommunikation.channels.push import PushChannel, forget_credentials
from kommunikation.dispatch import dispatch_batch
from kommunikation.models import ContactPoint, OutboundMessage, OutboundStatus, PushConnection
from kommunikation.outbox import enqueue_outbound
from tests.conftest import NOW
from tests.factories import CustomerFactory
from tests.kommunikation.push_helpers import (
    DEVICE,
    PROJECT,
    SCOPE,
    SEND_PATH,
    TOKEN_PATH,
    fcm_error,
    sent,
    service_account,
    token_handler,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    forget_credentials()
    yield time_machine
    forget_credentials()


@pytest.fixture
def firebase(brand_a, settings, httpserver):
    settings.FCM_BASE_URL = httpserver.url_for("").rstrip("/")
    settings.FCM_TIMEOUT = 1
    connection = PushConnection(brand=brand_a)
    connection.set_service_account(json.dumps(service_account(httpserver)))
    connection.save()
    return connection


@pytest.fixture
def customer(brand_a):
    customer = CustomerFactory(brand=brand_a)
    ContactPoint.objects.create(customer=customer, channel="push", value=DEVICE, type="other")
    return customer


def tokens(httpserver, *names, seen=None):
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(
        token_handler(list(names), seen)
    )


def outgoing(brand, *, outbound_id: int = 1, recipient: str = DEVICE, **kwargs) -> Outgoing:
    return Outgoing(
        outbound_id=outbound_id, brand=brand, recipient=recipient, category="service",
        subject="Ihre Wallbox ist unterwegs", text="Sendung 00340434 kommt morgen.", **kwargs,
    )  # fmt: skip


def send(brand, **kwargs):
    adapter = PushChannel()
    adapter.open()
    try:
        return adapter.send(outgoing(brand, **kwargs))
    finally:
        adapter.close()


def test_it_is_registered_as_the_push_channel():
    assert CHANNELS["push"] is PushChannel


def test_a_push_goes_out_with_a_token_minted_from_the_service_account(
    firebase, brand_a, httpserver
):
    seen: list[dict] = []
    tokens(httpserver, "ya29.first", seen=seen)
    httpserver.expect_request(
        SEND_PATH, method="POST", headers={"Authorization": "Bearer ya29.first"}
    ).respond_with_json(sent())

    result = send(brand_a, template_key="order_shipped")

    assert result.provider_id.startswith(f"projects/{PROJECT}/messages/0:")
    (grant,) = seen
    assert grant["header"] == {"alg": "RS256", "typ": "JWT", "kid": "key-1"}
    claims = grant["claims"]
    assert claims["iss"] == "push@demo-proj.iam.gserviceaccount.com"
    assert claims["scope"] == SCOPE
    assert claims["aud"] == "https://oauth2.googleapis.com/token"  # google-auth's, as Google's
    assert claims["iat"] == int(NOW.timestamp()) and claims["exp"] == claims["iat"] + 3600
    body = json.loads(httpserver.log[1][0].data)
    assert body == {
        "validate_only": False,
        "message": {
            "token": DEVICE,
            "notification": {
                "title": "Ihre Wallbox ist unterwegs",
                "body": "Sendung 00340434 kommt morgen.",
            },
            "data": {"outbound_id": "1", "brand": "laderthuis", "template": "order_shipped"},
            "fcm_options": {"analytics_label": "order_shipped"},
        },
    }


def test_the_token_is_reused_until_shortly_before_it_expires(firebase, brand_a, httpserver, _clock):
    tokens(httpserver, "ya29.first", "ya29.second")
    httpserver.expect_request(SEND_PATH, method="POST").respond_with_json(sent())

    send(brand_a)
    _clock.shift(dt.timedelta(minutes=55))  # 4 min left of 60: still good
    send(brand_a)
    _clock.shift(dt.timedelta(minutes=1, seconds=30))  # under google-auth's 3 min 45 s
    send(brand_a)

    paths = [request.path for request, _response in httpserver.log]
    assert paths == [TOKEN_PATH, SEND_PATH, SEND_PATH, TOKEN_PATH, SEND_PATH]
    assert httpserver.log[4][0].headers["Authorization"] == "Bearer ya29.second"


def test_a_refused_access_token_is_renewed_once_and_the_push_sent_again(
    firebase, brand_a, httpserver
):
    tokens(httpserver, "ya29.revoked", "ya29.fresh")

    def fcm(request):
        if request.headers["Authorization"] == "Bearer ya29.revoked":
            body = fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication.")
            return Response(json.dumps(body), status=401, content_type="application/json")
        return Response(json.dumps(sent("projects/demo-proj/messages/0:2")),
                        content_type="application/json")  # fmt: skip

    httpserver.expect_request(SEND_PATH).respond_with_handler(fcm)

    assert send(brand_a).provider_id == "projects/demo-proj/messages/0:2"
    assert [r.path for r, _ in httpserver.log] == [TOKEN_PATH, SEND_PATH, TOKEN_PATH, SEND_PATH]


@pytest.mark.parametrize(
    ("code", "http", "status", "message"),
    [
        ("UNREGISTERED", 404, "NOT_FOUND", "Requested entity was not found."),
        ("SENDER_ID_MISMATCH", 403, "PERMISSION_DENIED", "SenderId mismatch"),
        (
            "INVALID_ARGUMENT",
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
        ),
    ],
)
def test_a_dead_device_token_is_retired_and_the_push_fails(
    firebase, brand_a, customer, httpserver, code, http, status, message
):
    tokens(httpserver, "ya29.t")
    httpserver.expect_request(SEND_PATH).respond_with_json(
        fcm_error(http, status, message, code), status=http
    )
    row = enqueue_outbound(
        brand=brand_a, channels="push", category="service", idempotency_key=f"p-{code}",
        source="system", customer=customer, subject="Hallo", text="Neu", trigger=False,
    )  # fmt: skip

    with pytest.raises(PermanentError, match="abgemeldet"):
        send(brand_a, outbound_id=row.pk)

    point = ContactPoint.objects.get(channel="push")
    assert point.bouncing


def test_a_payload_fcm_refuses_fails_without_retiring_the_token(
    firebase, brand_a, customer, httpserver
):
    tokens(httpserver, "ya29.t")
    violation = {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": "message.data[0].value", "description": "TYPE_STRING"}],
    }
    httpserver.expect_request(SEND_PATH).respond_with_json(
        fcm_error(400, "INVALID_ARGUMENT", "Invalid value at 'message.data[0].value'",
                  "INVALID_ARGUMENT", [violation]),
        status=400,
    )  # fmt: skip

    with pytest.raises(PermanentError, match="lehnt die Nachricht ab"):
        send(brand_a)

    assert not ContactPoint.objects.get(channel="push").bouncing


@pytest.mark.parametrize(
    ("code", "http", "status"),
    [
        ("QUOTA_EXCEEDED", 429, "RESOURCE_EXHAUSTED"),
        ("UNAVAILABLE", 503, "UNAVAILABLE"),
        ("INTERNAL", 500, "INTERNAL"),
    ],
)
def test_overload_and_outages_are_tried_again_after_retry_after(
    firebase, brand_a, httpserver, code, http, status
):
    tokens(httpserver, "ya29.t")
    httpserver.expect_request(SEND_PATH).respond_with_json(
        fcm_error(http, status, "try later", code), status=http, headers={"Retry-After": "7"}
    )

    with pytest.raises(TransientError) as caught:
        send(brand_a)

    assert caught.value.retry_after == 7.0


def test_a_missing_apns_key_is_a_permanent_error_for_the_admin(firebase, brand_a, httpserver):
    tokens(httpserver, "ya29.t")
    httpserver.expect_request(SEND_PATH).respond_with_json(
        fcm_error(401, "UNAUTHENTICATED", "Auth error from APNS", "THIRD_PARTY_AUTH_ERROR"),
        status=401,
    )

    with pytest.raises(PermanentError, match="APNs"):
        send(brand_a)
    assert [r.path for r, _ in httpserver.log].count(SEND_PATH) == 1  # no token renewal for it


def test_a_send_that_times_out_is_tried_again(firebase, brand_a, httpserver):
    tokens(httpserver, "ya29.t")

    def slow(request):
        time.sleep(1.5)
        return Response(json.dumps(sent()), content_type="application/json")

    httpserver.expect_request(SEND_PATH).respond_with_handler(slow)

    with pytest.raises(TransientError, match="Zeitüberschreitung"):
        send(brand_a)


def test_a_token_endpoint_that_times_out_is_tried_again(firebase, brand_a, httpserver):
    def slow(request):
        time.sleep(1.5)
        return Response("{}", content_type="application/json")

    httpserver.expect_request(TOKEN_PATH).respond_with_handler(slow)

    with pytest.raises(TransientError, match="Google-Anmeldung"):
        send(brand_a)


def test_a_revoked_key_is_explained_to_the_admin(firebase, brand_a, httpserver):
    httpserver.expect_request(TOKEN_PATH).respond_with_json(
        {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, status=400
    )

    with pytest.raises(PermanentError, match="Push-Verbindungen"):
        send(brand_a)
    assert not [r for r, _ in httpserver.log if r.path == SEND_PATH]


def test_a_brand_without_push_cannot_send(brand_b):
    with pytest.raises(PermanentError, match="kein Push"):
        send(brand_b)


def test_the_environment_s_service_account_serves_its_brand(brand_a, settings, httpserver):
    settings.FCM_BASE_URL = httpserver.url_for("").rstrip("/")
    settings.FCM_SERVICE_ACCOUNTS = {"laderthuis": json.dumps(service_account(httpserver))}
    tokens(httpserver, "ya29.env")
    httpserver.expect_request(
        SEND_PATH, headers={"Authorization": "Bearer ya29.env"}
    ).respond_with_json(sent())

    assert send(brand_a).provider_id


# --- through the outbox -----------------------------------------------------------------


def queue(brand, customer, key="push-1"):
    return enqueue_outbound(
        brand=brand, channels="push", category="service", idempotency_key=key,
        source="system", customer=customer, subject="Ihre Wallbox ist unterwegs",
        text="Sendung 00340434 kommt morgen.", trigger=False,
    )  # fmt: skip


def test_the_outbox_sends_to_the_latest_device_and_threads_the_push(
    firebase, brand_a, customer, httpserver
):
    newer = ContactPoint.objects.create(
        customer=customer, channel="push", value="newer-device-token-bbbb", type="other",
        last_seen_at=NOW,
    )  # fmt: skip
    tokens(httpserver, "ya29.t")
    httpserver.expect_request(SEND_PATH).respond_with_json(sent("projects/demo-proj/messages/0:9"))
    row = queue(brand_a, customer)

    assert dispatch_batch().sent == 1

    row.refresh_from_db()
    assert row.status == OutboundStatus.SENT
    assert row.recipient == newer.value
    assert row.provider_id == "projects/demo-proj/messages/0:9"
    message = Message.objects.get(pk=row.message_id)
    assert message.channel == "push" and message.conversation.customer == customer
    assert json.loads(httpserver.log[1][0].data)["message"]["token"] == newer.value


def test_a_retired_device_hands_the_push_to_the_customer_s_other_device(
    firebase, brand_a, customer, httpserver, _clock
):
    ContactPoint.objects.create(
        customer=customer, channel="push", value="dead-device-token-cccc", type="other",
        last_seen_at=NOW,
    )  # fmt: skip
    tokens(httpserver, "ya29.t")

    def fcm(request):
        if json.loads(request.data)["message"]["token"] == "dead-device-token-cccc":
            body = fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
            return Response(json.dumps(body), status=404, content_type="application/json")
        return Response(json.dumps(sent()), content_type="application/json")

    httpserver.expect_request(SEND_PATH).respond_with_handler(fcm)
    row = queue(brand_a, customer)

    assert dispatch_batch().retried == 1
    _clock.shift(dt.timedelta(seconds=5))
    assert dispatch_batch().sent == 1

    row.refresh_from_db()
    assert row.recipient == DEVICE
    assert ContactPoint.objects.get(value="dead-device-token-cccc").bouncing
    bodies = [json.loads(r.data) for r, _ in httpserver.log if r.path == SEND_PATH]
    assert [b["message"]["token"] for b in bodies] == ["dead-device-token-cccc", DEVICE]


def test_a_push_to_the_last_retired_device_fails_on_its_row(
    firebase, brand_a, customer, httpserver
):
    tokens(httpserver, "ya29.t")
    httpserver.expect_request(SEND_PATH).respond_with_json(
        fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"), status=404
    )
    row = queue(brand_a, customer)

    assert dispatch_batch().failed == 1

    row.refresh_from_db()
    assert row.status == OutboundStatus.FAILED and "abgemeldet" in row.last_error
    # nothing left to send to: the next push for this customer has no address
    queue(brand_a, customer, key="push-2")
    assert dispatch_batch().failed == 1
    assert "Keine Adresse" in OutboundMessage.objects.get(idempotency_key="push-2").last_error
