"""SMS callbacks: MessageBird's signed status reports and replies, seven.io's hooks with the
secret in the URL; the timeline forward only, replays once, STOP as an opt-out."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from urllib.parse import urlencode

import jwt
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from compliance.models import Consent
from compliance.services import Actor, record_consent
from conversations.models import Conversation, Message, StatusChange, WebhookDelivery
from kommunikation.dispatch import dispatch_batch
from kommunikation.fallback import fallback_undelivered
from kommunikation.models import OutboundMessage, OutboundStatus
from kommunikation.outbox import enqueue_outbound
from kommunikation.sms_webhook import is_stop
from tests.conftest import NOW
from tests.factories import ContactPointFactory, CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW)]

SIGNING_KEY = "mb-signing-key-of-32-bytes-length!"
MB_URL = "/webhooks/sms/messagebird/laderthuis/"
SEVEN_URL = "/webhooks/sms/sevenio/laderthuis/geheim/"
PHONE = "+4915112345678"


def mb_token(url: str, body: bytes = b"", *, key: str = SIGNING_KEY, **claims) -> str:
    now = int(time.time())
    payload = {
        "iss": "MessageBird", "nbf": now, "exp": now + 60,
        "url_hash": hashlib.sha256(url.encode()).hexdigest(),
    }  # fmt: skip
    if body:
        payload["payload_hash"] = hashlib.sha256(body).hexdigest()
    payload.update(claims)
    return jwt.encode(payload, key, algorithm="HS256")


@pytest.fixture
def brand(brand_a, settings):
    settings.SMS_PROVIDER = "messagebird"
    settings.SMS_API_KEY = "live_mb_key"
    settings.SMS_SIGNING_KEY = SIGNING_KEY
    settings.SMS_WEBHOOK_SECRET = "geheim"
    settings.SITE_URL = "https://kk.example"
    brand_a.sms_sender_id = "LaderThuis"
    brand_a.save()
    return brand_a


@pytest.fixture
def customer(brand):
    customer = CustomerFactory(brand=brand, first_name="Sheena", last_name="Nelson")
    ContactPointFactory(customer=customer, channel="phone", value=PHONE, type="mobile")
    return customer


@pytest.fixture
def sent(brand, customer, settings, httpserver):
    """An SMS that went out through MessageBird (a local server in its shape)."""
    settings.SMS_MESSAGEBIRD_URL = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/messages").respond_with_json({"id": "mb-1"}, status=201)
    row = enqueue_outbound(
        brand=brand, customer=customer, channels="sms", category="reminder",
        idempotency_key="termin:1", source="system", text="Ihr Termin ist morgen um 9 Uhr.",
        trigger=False,
    )  # fmt: skip
    assert dispatch_batch().sent == 1
    row.refresh_from_db()
    return row


@pytest.fixture
def mb_get(client):
    def get(params: dict, *, token: str | None = None, url: str = MB_URL):
        full = f"{url}?{urlencode(params)}"
        headers = {} if token is False else {
            "MessageBird-Signature-JWT": token or mb_token("http://testserver" + full)
        }  # fmt: skip
        return client.get(full, headers=headers)

    return get


@pytest.fixture
def mb_post(client, django_capture_on_commit_callbacks):
    def post(params: dict, *, token: str | None = None):
        body = urlencode(params).encode()
        headers = {} if token is False else {
            "MessageBird-Signature-JWT": token or mb_token("http://testserver" + MB_URL, body)
        }  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                MB_URL, data=body, content_type="application/x-www-form-urlencoded",
                headers=headers,
            )  # fmt: skip

    return post


@pytest.fixture
def seven(client, brand, settings, django_capture_on_commit_callbacks):
    def post(payload=None, *, raw: bytes | None = None, url: str = SEVEN_URL):
        data = raw if raw is not None else json.dumps(payload).encode()
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data=data, content_type="application/json")

    return post


def report(status: str = "delivered", **extra) -> dict:
    return {
        "id": "mb-1", "reference": "", "recipient": "4915112345678", "status": status,
        "statusDatetime": "2026-11-25T11:05:00+00:00", **extra,
    }  # fmt: skip


def timeline(message: Message) -> list[str]:
    return list(message.status_changes.order_by("at", "id").values_list("status", flat=True))


# --- MessageBird status reports ----------------------------------------------------------


def test_a_signed_status_report_moves_the_message_to_delivered(sent, mb_get):
    response = mb_get(report("delivered", reference=str(sent.pk)))

    assert response.status_code == 200
    sent.message.refresh_from_db()
    assert sent.message.status == Message.State.DELIVERED
    assert timeline(sent.message) == ["queued", "sent", "delivered"]
    delivery = WebhookDelivery.objects.get(esp="messagebird")
    assert delivery.state == WebhookDelivery.State.OK
    assert delivery.kind == WebhookDelivery.Kind.TRACKING
    assert b"status=delivered" in bytes(delivery.body)  # the query of the GET, kept


def test_a_replayed_report_is_stored_once_and_recorded_once(sent, mb_get):
    params = report("delivered")
    first = mb_get(params)
    second = mb_get(params)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.content == b"Already received."
    delivery = WebhookDelivery.objects.get(esp="messagebird")
    assert delivery.attempts == 2
    assert StatusChange.objects.filter(message=sent.message, status="delivered").count() == 1


def test_reports_out_of_order_never_move_the_message_back(sent, mb_get):
    mb_get(report("delivered"))
    mb_get(report("buffered", statusDatetime="2026-11-25T11:01:00+00:00"))

    sent.message.refresh_from_db()
    assert sent.message.status == Message.State.DELIVERED


def test_a_failed_delivery_fails_the_message_and_the_outbox_row_with_the_reason(sent, mb_get):
    mb_get(report("delivery_failed", statusReason="unknown subscriber", statusErrorCode="1"))

    sent.message.refresh_from_db()
    sent.refresh_from_db()
    assert sent.message.status == Message.State.FAILED
    assert sent.status == OutboundStatus.FAILED
    assert "nicht zugestellt" in sent.last_error
    assert "unknown subscriber" in sent.last_error
    change = sent.message.status_changes.get(status="failed")
    assert "unknown subscriber" in change.detail


def test_an_expired_sms_says_why(sent, mb_get):
    mb_get(report("expired"))

    sent.refresh_from_db()
    assert "Gültigkeit ist abgelaufen" in sent.last_error


def test_a_report_is_found_by_our_reference_too(sent, mb_get):
    mb_get(report("delivered", id="other-id", reference=str(sent.pk)))

    sent.message.refresh_from_db()
    assert sent.message.status == Message.State.DELIVERED


def test_a_report_for_an_unknown_message_is_kept_with_a_note(brand, mb_get):
    response = mb_get(report("delivered", id="nobody"))

    assert response.status_code == 200
    assert "Unbekannte SMS" in WebhookDelivery.objects.get(esp="messagebird").reason


def test_a_missing_signature_is_401_and_nothing_is_stored(sent, mb_get):
    response = mb_get(report(), token=False)

    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_a_token_signed_with_another_key_is_401(sent, mb_get):
    params = report()
    url = f"http://testserver{MB_URL}?{urlencode(params)}"

    assert (
        mb_get(params, token=mb_token(url, key="not-our-key-but-also-32-bytes-long")).status_code
        == 401
    )
    assert not WebhookDelivery.objects.exists()


def test_a_token_for_another_url_is_401(sent, mb_get):
    token = mb_token(f"http://testserver{MB_URL}?{urlencode(report('delivered'))}")

    # the same signature with the status changed in the query
    assert mb_get(report("delivery_failed"), token=token).status_code == 401


def test_an_expired_token_is_401(sent, mb_get):
    params = report()
    url = f"http://testserver{MB_URL}?{urlencode(params)}"
    token = mb_token(url, nbf=int(time.time()) - 600, exp=int(time.time()) - 300)

    assert mb_get(params, token=token).status_code == 401


def test_a_token_from_another_issuer_is_401(sent, mb_get):
    params = report()
    url = f"http://testserver{MB_URL}?{urlencode(params)}"

    assert mb_get(params, token=mb_token(url, iss="Mallory")).status_code == 401


def test_a_body_that_was_changed_after_signing_is_401(brand, client):
    body = urlencode({"id": "1", "originator": "4915112345678", "body": "Hallo"}).encode()
    token = mb_token("http://testserver" + MB_URL, body)
    changed = body.replace(b"Hallo", b"Hallo!")

    response = client.post(
        MB_URL, data=changed, content_type="application/x-www-form-urlencoded",
        headers={"MessageBird-Signature-JWT": token},
    )  # fmt: skip

    assert response.status_code == 401


def test_the_signature_under_the_public_site_url_counts(sent, mb_get):
    params = report("delivered")
    url = f"https://kk.example{MB_URL}?{urlencode(params)}"  # as MessageBird called it

    assert mb_get(params, token=mb_token(url)).status_code == 200


def test_a_malformed_report_is_400_with_the_reason_and_kept(sent, mb_get):
    response = mb_get({"status": "delivered"})

    assert response.status_code == 400
    assert "id" in response.content.decode()
    delivery = WebhookDelivery.objects.get(esp="messagebird")
    assert delivery.state == WebhookDelivery.State.REJECTED
    assert bytes(delivery.body) == b"status=delivered"


def test_an_unknown_status_is_400(sent, mb_get):
    response = mb_get(report("teleported"))

    assert response.status_code == 400
    assert "teleported" in response.content.decode()


def test_a_brand_without_a_signing_key_has_no_messagebird_webhook(brand, settings, mb_get):
    settings.SMS_SIGNING_KEY = ""

    assert mb_get(report()).status_code == 404


# --- inbound SMS ------------------------------------------------------------------------


def test_an_inbound_sms_joins_the_customers_thread(customer, mb_post):
    response = mb_post({
        "id": "in-1", "originator": "4915112345678", "recipient": "4915799999999",
        "body": "Passt, bis morgen!", "createdDatetime": "2026-11-25T10:58:00+00:00",
    })  # fmt: skip

    assert response.status_code == 200
    message = Message.objects.get(provider_id="in-1")
    assert message.channel == "sms"
    assert message.direction == "in"
    assert message.text == "Passt, bis morgen!"
    conversation = message.conversation
    assert conversation.customer == customer
    assert conversation.channel == "sms"
    assert conversation.counterpart == PHONE
    assert WebhookDelivery.objects.get().kind == WebhookDelivery.Kind.INBOUND


def test_a_reply_lands_in_the_thread_of_the_sms_it_answers(sent, mb_post):
    mb_post({"id": "in-2", "originator": "4915112345678", "body": "Danke!"})

    message = Message.objects.get(provider_id="in-2")
    assert message.conversation == sent.message.conversation
    assert message.conversation.status == "open"


def test_an_unknown_number_opens_a_new_conversation(brand, mb_post):
    mb_post({"id": "in-3", "originator": "491701234567", "body": "Wer ist da?"})

    conversation = Conversation.objects.get()
    assert conversation.customer is None
    assert conversation.counterpart == "+491701234567"


def test_an_inbound_sms_replayed_is_one_message(customer, mb_post):
    params = {"id": "in-4", "originator": "4915112345678", "body": "Hallo"}
    mb_post(params)
    mb_post(params)

    assert Message.objects.filter(provider_id="in-4").count() == 1


@pytest.mark.parametrize(
    "sender", ["4915112345678", "+4915112345678", "004915112345678", "015112345678"]
)
def test_the_sender_is_read_in_each_way_numbers_are_written(customer, mb_post, sender):
    mb_post({"id": f"in-{sender}", "originator": sender, "body": "Hallo"})

    assert Message.objects.get(provider_id=f"in-{sender}").sender_address == PHONE


def test_a_sender_that_is_no_number_is_400(brand, mb_post):
    response = mb_post({"id": "in-5", "originator": "hallo", "body": "x"})

    assert response.status_code == 400
    assert "keine Telefonnummer" in response.content.decode()


# --- STOP -------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["STOP", " stopp ", "Abmelden", "stop."])
def test_stop_words_withdraw_the_sms_marketing_consent_and_are_confirmed(customer, mb_post, word):
    record_consent(
        customer=customer, purpose="marketing", channel="sms", state=Consent.State.GRANTED,
        source=Consent.Source.STAFF, actor=Actor(label="Test"),
    )  # fmt: skip

    response = mb_post({"id": "stop-1", "originator": "4915112345678", "body": word})

    assert response.status_code == 200
    current = Consent.objects.current(customer=customer, purpose="marketing", channel="sms")
    assert current.state == Consent.State.WITHDRAWN
    assert current.source == Consent.Source.SMS_STOP
    confirmation = OutboundMessage.objects.get(idempotency_key__startswith="sms-stop:")
    assert confirmation.channel == "sms"
    assert confirmation.to_address == PHONE
    assert confirmation.category == "transactional"  # it needs no consent
    assert "keine Werbe-SMS mehr" in confirmation.text
    inbound = Message.objects.get(provider_id="stop-1")
    assert confirmation.conversation == inbound.conversation  # answered in the same thread


def test_the_gate_refuses_marketing_sms_after_stop(customer, mb_post):
    from compliance.gate import REFUSE, decide
    from kommunikation.outbox import OutboxHistory

    record_consent(
        customer=customer, purpose="marketing", channel="sms", state=Consent.State.GRANTED,
        source=Consent.Source.STAFF, actor=Actor(label="Test"),
    )  # fmt: skip
    mb_post({"id": "stop-2", "originator": "4915112345678", "body": "Stop"})

    decision = decide(
        customer=customer, address=PHONE, channel="sms", category="marketing",
        template_key="", at=NOW, history=OutboxHistory(),
    )  # fmt: skip
    assert decision.kind == REFUSE


def test_a_replayed_stop_is_confirmed_once(customer, mb_post):
    params = {"id": "stop-3", "originator": "4915112345678", "body": "STOP"}
    mb_post(params)
    mb_post(params)

    assert OutboundMessage.objects.filter(idempotency_key__startswith="sms-stop:").count() == 1


@pytest.mark.parametrize("text", ["Stop bitte nicht mehr anrufen", "stoppen", "Ab melden", ""])
def test_other_texts_are_no_stop(text):
    assert not is_stop(text)


# --- seven.io ---------------------------------------------------------------------------


@pytest.fixture
def seven_sent(brand, customer, settings, httpserver):
    settings.SMS_PROVIDER = "sevenio"
    settings.SMS_SEVENIO_URL = httpserver.url_for("/api").rstrip("/")
    httpserver.expect_request("/api/sms").respond_with_json(
        {"success": "100", "messages": [{"id": "77229318021", "success": True}]}
    )
    row = enqueue_outbound(
        brand=brand, customer=customer, channels="sms", category="reminder",
        idempotency_key="termin:7", source="system", text="Ihr Termin ist morgen.", trigger=False,
    )  # fmt: skip
    assert dispatch_batch().sent == 1
    row.refresh_from_db()
    return row


def dlr(status: str = "DELIVERED", msg_id: str = "77229318021") -> dict:
    return {
        "webhook_event": "dlr", "webhook_timestamp": "2026-11-25 12:05:12",
        "data": {"msg_id": msg_id, "status": status, "timestamp": "2026-11-25 12:05:11"},
    }  # fmt: skip


def test_a_seven_report_moves_the_message_forward(seven_sent, seven):
    response = seven(dlr("DELIVERED"))

    assert response.status_code == 200
    seven_sent.message.refresh_from_db()
    assert seven_sent.message.status == Message.State.DELIVERED


def test_a_seven_rejection_fails_the_message(seven_sent, seven):
    seven(dlr("REJECTED"))

    seven_sent.refresh_from_db()
    assert seven_sent.status == OutboundStatus.FAILED
    assert "abgewiesen" in seven_sent.last_error


def test_a_seven_replay_is_stored_once(seven_sent, seven):
    seven(dlr())
    again = seven(dlr())

    assert again.status_code == 200
    assert WebhookDelivery.objects.get(esp="sevenio").attempts == 2
    assert StatusChange.objects.filter(message=seven_sent.message, status="delivered").count() == 1


def test_a_wrong_secret_in_the_url_is_401_and_nothing_is_stored(seven_sent, seven):
    response = seven(dlr(), url="/webhooks/sms/sevenio/laderthuis/falsch/")

    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_seven_without_a_secret_has_no_webhook(brand, settings, seven):
    settings.SMS_WEBHOOK_SECRET = ""

    assert seven(dlr()).status_code == 404


def test_a_seven_inbound_sms_joins_the_thread(customer, seven):
    response = seven({
        "webhook_event": "sms_mo", "webhook_timestamp": "2026-11-25 12:10:00",
        "data": {"id": "mo-1", "message_type": "SMS", "sender": "4915112345678",
                 "system": "4915799999999", "text": "Ja, passt.", "time": "1795604400"},
    })  # fmt: skip

    assert response.status_code == 200
    message = Message.objects.get(provider_id="mo-1")
    assert message.conversation.customer == customer


def test_a_seven_form_post_is_read_as_well(customer, client, brand):
    body = urlencode({
        "webhook_event": "sms_mo", "data[id]": "mo-2", "data[sender]": "4915112345678",
        "data[text]": "STOPP", "data[system]": "4915799999999",
    }).encode()  # fmt: skip

    response = client.post(SEVEN_URL, data=body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200
    assert Message.objects.filter(provider_id="mo-2").exists()
    assert OutboundMessage.objects.filter(idempotency_key__startswith="sms-stop:").exists()


def test_an_unknown_seven_event_is_kept_and_answered_200(brand, seven):
    response = seven({"webhook_event": "voice_call", "data": {"id": "1"}})

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get(esp="sevenio")
    assert delivery.state == WebhookDelivery.State.OK
    assert "voice_call" in delivery.reason


def test_malformed_seven_json_is_400_and_the_raw_body_is_kept(brand, seven):
    response = seven(raw=b'{"webhook_event": "dlr", ')

    assert response.status_code == 400
    assert "JSON" in response.content.decode()
    delivery = WebhookDelivery.objects.get(esp="sevenio")
    assert delivery.state == WebhookDelivery.State.REJECTED
    assert bytes(delivery.body) == b'{"webhook_event": "dlr", '


def test_a_seven_report_without_msg_id_is_400(brand, seven):
    response = seven({"webhook_event": "dlr", "data": {"status": "DELIVERED"}})

    assert response.status_code == 400
    assert "msg_id" in response.content.decode()


# --- no body answers 500 ------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
ENVELOPES = st.fixed_dictionaries(
    {"webhook_event": st.sampled_from(["dlr", "sms_mo", "tracking", ""]) | st.text(max_size=8)},
    optional={"data": JSON | st.dictionaries(
        st.sampled_from(["msg_id", "status", "timestamp", "id", "sender", "text", "time",
                         "system", "foreign_id"]),
        JSON | st.sampled_from(["DELIVERED", "FAILED", "4915112345678", "STOP", "1795604400",
                                "2026-11-25 12:00:00", "x" * 300]),
        max_size=6,
    )},
)  # fmt: skip


@pytest.mark.filterwarnings("ignore::django.utils.deprecation.RemovedInDjango60Warning")
@hsettings(
    max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(payload=JSON | ENVELOPES)
def test_no_json_body_answers_500_at_seven(brand, client, payload):
    response = client.post(SEVEN_URL, data=json.dumps(payload), content_type="application/json")

    assert response.status_code in (200, 400)


FIELDS = st.dictionaries(
    st.sampled_from(["id", "reference", "recipient", "status", "statusDatetime", "originator",
                     "body", "message", "createdDatetime", "statusReason", "x"]),
    st.text(max_size=30) | st.sampled_from(["delivered", "sent", "4915112345678", "STOP",
                                            "2026-11-25T11:00:00+00:00", "2026-13-45T99:00"]),
    max_size=7,
)  # fmt: skip


@hsettings(
    max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(params=FIELDS, as_post=st.booleans())
def test_no_signed_messagebird_request_answers_500(brand, client, params, as_post):
    if as_post:
        body = urlencode(params).encode()
        token = mb_token("http://testserver" + MB_URL, body)
        response = client.post(
            MB_URL, data=body, content_type="application/x-www-form-urlencoded",
            headers={"MessageBird-Signature-JWT": token},
        )  # fmt: skip
    else:
        full = f"{MB_URL}?{urlencode(params)}" if params else MB_URL
        response = client.get(
            full, headers={"MessageBird-Signature-JWT": mb_token("http://testserver" + full)}
        )

    assert response.status_code in (200, 400)


# --- SMS in a fallback chain (issue 11 §7): MessageBird reports delivery ------------------


@pytest.fixture
def chained(brand, customer, settings, httpserver, time_machine):
    """An SMS of a chain SMS -> email, waiting one hour for MessageBird's "delivered"."""
    time_machine.move_to(NOW, tick=False)
    settings.SMS_MESSAGEBIRD_URL = httpserver.url_for("").rstrip("/")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ContactPointFactory(customer=customer, channel="email", value="sheena@kunde.example")
    httpserver.expect_request("/messages").respond_with_json({"id": "mb-1"}, status=201)
    row = enqueue_outbound(
        brand=brand, customer=customer, channels=["sms", "email"], category="reminder",
        idempotency_key="termin:2", source="system", subject="Ihr Termin",
        text="Ihr Termin ist morgen um 9 Uhr.", fallback_after=dt.timedelta(hours=1),
        trigger=False,
    )  # fmt: skip
    assert dispatch_batch().sent == 1
    row.refresh_from_db()
    return row


def test_an_sms_in_a_chain_waits_for_its_delivery_report(chained, mb_get, time_machine):
    assert chained.fallback_due_at == NOW + dt.timedelta(hours=1)

    mb_get(report("delivered"))

    chained.refresh_from_db()
    assert chained.fallback_due_at is None  # delivered: the chain ends here
    time_machine.shift(dt.timedelta(hours=2))
    assert fallback_undelivered().moved_on == 0
    assert not chained.fallbacks.exists()


def test_an_sms_without_a_report_within_the_wait_goes_on_by_email(chained, time_machine):
    time_machine.shift(dt.timedelta(minutes=61))

    assert fallback_undelivered().moved_on == 1
    email = chained.fallbacks.get()
    assert (email.channel, email.status) == ("email", "queued")
    assert dispatch_batch().sent == 1
    email.refresh_from_db()
    assert email.conversation == chained.conversation


def test_an_sms_reported_undeliverable_goes_on_by_email_at_once(chained, mb_get):
    mb_get(report("delivery_failed", statusReason="unknown subscriber", statusErrorCode="1"))

    email = chained.fallbacks.get()
    assert email.channel == "email"
