"""The SMS adapter against a local server answering in MessageBird's and seven.io's shapes
(shared/reference/sms-providers.md): success, each documented error class, timeouts."""

from __future__ import annotations

import json
import time

import pytest
from django.core.exceptions import ValidationError
from werkzeug import Response

from kommunikation.channels import CHANNELS
from kommunikation.channels.base import Outgoing, PermanentError, TransientError
from kommunikation.channels.sms import SmsChannel, sender_id_problem

pytestmark = pytest.mark.django_db


def mb_sent(message_id: str = "e8077d803532c0b5937c639b60216938") -> dict:
    return {
        "id": message_id, "href": f"https://rest.messagebird.com/messages/{message_id}",
        "direction": "mt", "type": "sms", "originator": "LaderThuis", "body": "…",
        "reference": "1", "datacoding": "plain", "createdDatetime": "2026-11-25T11:00:00+00:00",
        "recipients": {"totalCount": 1, "totalSentCount": 1, "totalDeliveredCount": 0,
                       "totalDeliveryFailedCount": 0, "items": [
                           {"recipient": 4915112345678, "status": "sent",
                            "statusDatetime": "2026-11-25T11:00:00+00:00"}]},
    }  # fmt: skip


def mb_error(code: int, description: str, parameter: str | None = None) -> dict:
    return {"errors": [{"code": code, "description": description, "parameter": parameter}]}


def seven_sent(message_id: str = "77229318021", **message) -> dict:
    return {
        "success": "100", "total_price": 0.075, "balance": 12.34, "debug": "false",
        "sms_type": "direct",
        "messages": [{"id": message_id, "sender": "LaderThuis", "recipient": "4915112345678",
                      "text": "…", "encoding": "gsm", "label": None, "parts": 1, "price": 0.075,
                      "success": True, "error": None, "error_text": None, "is_binary": False,
                      "udh": None, **message}],
    }  # fmt: skip


@pytest.fixture
def brand(brand_a):
    brand_a.sms_sender_id = "LaderThuis"
    brand_a.save()
    return brand_a


@pytest.fixture
def messagebird(settings, httpserver):
    settings.SMS_PROVIDER = "messagebird"
    settings.SMS_API_KEY = "live_mb_key"
    settings.SMS_MESSAGEBIRD_URL = httpserver.url_for("").rstrip("/")
    settings.SMS_TIMEOUT = 1
    settings.SITE_URL = "https://kk.example"
    return httpserver


@pytest.fixture
def seven(settings, httpserver):
    settings.SMS_PROVIDER = "sevenio"
    settings.SMS_API_KEY = "seven-key"
    settings.SMS_WEBHOOK_SECRET = "geheim"
    settings.SMS_SEVENIO_URL = httpserver.url_for("/api").rstrip("/")
    settings.SMS_TIMEOUT = 1
    return httpserver


def send(brand, text: str = "Ihr Monteur kommt morgen um 9 Uhr.", **kwargs):
    adapter = SmsChannel()
    adapter.open()
    out = Outgoing(
        outbound_id=4711, brand=brand, recipient=kwargs.pop("recipient", "0151 12345678"),
        category="service", text=text, **kwargs,
    )  # fmt: skip
    try:
        return adapter.send(out)
    finally:
        adapter.close()


def requests_with(server, needle: bytes) -> list:
    """The requests the server got that carry ``needle`` (the server outlives a test: a late
    answer of an earlier test's timeout may still show up in its log)."""
    return [request for request, _response in server.log if needle in request.get_data()]


def test_it_is_registered_as_the_sms_channel():
    assert CHANNELS["sms"] is SmsChannel


# --- MessageBird --------------------------------------------------------------------------


def test_messagebird_gets_originator_e164_recipient_reference_and_report_url(brand, messagebird):
    messagebird.expect_request(
        "/messages", method="POST", headers={"Authorization": "AccessKey live_mb_key"}
    ).respond_with_json(mb_sent(), status=201)

    result = send(brand)

    assert result.provider_id == "e8077d803532c0b5937c639b60216938"
    payload = json.loads(messagebird.log[0][0].data)
    assert payload == {
        "originator": "LaderThuis",
        "recipients": ["4915112345678"],
        "body": "Ihr Monteur kommt morgen um 9 Uhr.",
        "reference": "4711",
        "reportUrl": "https://kk.example/webhooks/sms/messagebird/laderthuis/",
        "datacoding": "plain",
    }


def test_a_text_outside_gsm7_goes_as_unicode(brand, messagebird):
    messagebird.expect_request("/messages").respond_with_json(mb_sent(), status=201)

    send(brand, text="Danke „für“ Ihre Nachricht 👍")

    assert json.loads(messagebird.log[0][0].data)["datacoding"] == "unicode"


def test_a_numeric_sender_goes_without_the_plus(brand, messagebird):
    brand.sms_sender_id = "+4930123456"
    brand.save()
    messagebird.expect_request("/messages").respond_with_json(mb_sent(), status=201)

    send(brand)

    assert json.loads(messagebird.log[0][0].data)["originator"] == "4930123456"


@pytest.mark.parametrize(
    ("code", "parameter", "status", "kind", "words"),
    [
        (2, None, 401, PermanentError, "API-Schlüssel"),
        (9, "recipients", 422, PermanentError, "vermisst eine Angabe: recipients"),
        (10, "recipients", 422, PermanentError, "Empfängernummer"),
        (10, "originator", 422, PermanentError, "Absenderkennung"),
        (20, None, 404, PermanentError, "kennt die angefragte Ressource nicht"),
        (21, None, 400, PermanentError, "versteht die Anfrage nicht"),
        (25, None, 402, TransientError, "Guthaben"),
        (98, None, 404, PermanentError, "SMS_MESSAGEBIRD_URL"),
        (99, None, 500, TransientError, "internen Fehler"),
    ],
)
def test_each_documented_messagebird_error_has_its_class_and_reason(
    brand, messagebird, code, parameter, status, kind, words
):
    messagebird.expect_request("/messages").respond_with_json(
        mb_error(code, "described by MessageBird", parameter), status=status
    )

    with pytest.raises(kind) as caught:
        send(brand)

    assert words in str(caught.value)


def test_the_balance_is_retried_after_a_quarter_hour(brand, messagebird):
    messagebird.expect_request("/messages").respond_with_json(
        mb_error(25, "Not enough balance"), status=402
    )

    with pytest.raises(TransientError) as caught:
        send(brand)

    assert caught.value.retry_after == 900


def test_a_429_is_retried_after_what_retry_after_says(brand, messagebird):
    messagebird.expect_request("/messages").respond_with_response(
        Response("Too Many Requests", status=429, headers={"Retry-After": "30"})
    )

    with pytest.raises(TransientError) as caught:
        send(brand)

    assert caught.value.retry_after == 30
    assert "zu viele Anfragen" in str(caught.value)


def test_a_5xx_without_a_body_is_transient(brand, messagebird):
    messagebird.expect_request("/messages").respond_with_data("Bad Gateway", status=502)

    with pytest.raises(TransientError, match="HTTP 502"):
        send(brand)


def test_a_timeout_is_transient(brand, messagebird):
    def slow(request):
        time.sleep(1.5)
        return Response("late", status=201)

    messagebird.expect_request("/messages").respond_with_handler(slow)

    with pytest.raises(TransientError, match="Zeitüberschreitung"):
        send(brand)


def test_a_refused_connection_is_transient(brand, settings, messagebird):
    settings.SMS_MESSAGEBIRD_URL = "http://127.0.0.1:9"

    with pytest.raises(TransientError, match="nicht erreichbar"):
        send(brand)


# --- seven.io -------------------------------------------------------------------------------


def test_seven_gets_the_form_with_api_key_and_foreign_id(brand, seven):
    forms = []

    def answer(request):
        forms.append(dict(request.form))
        return Response(json.dumps(seven_sent()), content_type="application/json")

    seven.expect_request(
        "/api/sms", method="POST", headers={"X-Api-Key": "seven-key", "Accept": "application/json"}
    ).respond_with_handler(answer)

    result = send(brand)

    assert result.provider_id == "77229318021"
    form = forms[0]
    assert form["to"] == "4915112345678"
    assert form["from"] == "LaderThuis"
    assert form["text"] == "Ihr Monteur kommt morgen um 9 Uhr."
    assert form["foreign_id"] == "4711"


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        ("201", PermanentError, "Absenderkennung oder die Ländervorwahl"),
        ("202", PermanentError, "Empfängernummer"),
        ("300", PermanentError, "API-Schlüssel"),
        ("301", PermanentError, "vermisst den Empfänger"),
        ("305", PermanentError, "vermisst den Text"),
        ("306", PermanentError, "lehnt die Absenderkennung ab"),
        ("401", PermanentError, "zu lang"),
        ("402", PermanentError, "Doppelversand"),
        ("403", TransientError, "Tageslimit"),
        ("500", TransientError, "Guthaben"),
        ("600", TransientError, "Netzbetreiber"),
        ("700", TransientError, "unbekannten Fehler"),
        ("900", PermanentError, "API-Schlüssel"),
        ("902", PermanentError, "deaktiviert"),
        ("903", PermanentError, "IP"),
    ],
)
def test_each_documented_seven_code_has_its_class_and_reason(brand, seven, code, kind, words):
    # seven.io answers HTTP 200 for nearly every error: the code is what counts
    seven.expect_request("/api/sms").respond_with_json({"success": code, "messages": []})

    with pytest.raises(kind) as caught:
        send(brand)

    assert words in str(caught.value)


def test_a_plain_text_return_code_is_read_as_well(brand, seven):
    seven.expect_request("/api/sms").respond_with_data("900", content_type="text/plain")

    with pytest.raises(PermanentError, match="API-Schlüssel"):
        send(brand)


def test_a_recipient_the_batch_refused_is_permanent_with_its_text(brand, seven):
    seven.expect_request("/api/sms").respond_with_json(
        seven_sent(success=False, error="202", error_text="Invalid recipient")
    )

    with pytest.raises(PermanentError, match="Invalid recipient"):
        send(brand)


def test_seven_429_and_5xx_and_timeouts_are_transient(brand, seven):
    seven.expect_ordered_request("/api/sms").respond_with_response(
        Response("", status=429, headers={"Retry-After": "12"})
    )
    seven.expect_ordered_request("/api/sms").respond_with_data("oops", status=503)

    with pytest.raises(TransientError) as first:
        send(brand)
    with pytest.raises(TransientError, match="HTTP 503"):
        send(brand)

    assert first.value.retry_after == 12


def test_a_seven_timeout_is_transient(brand, seven):
    seven.expect_request("/api/sms").respond_with_handler(
        lambda request: (time.sleep(1.5), Response("{}"))[1]
    )

    with pytest.raises(TransientError, match="Zeitüberschreitung"):
        send(brand)


# --- what is checked before anything is sent ---------------------------------------------


def test_a_text_above_the_brands_segment_limit_is_refused_unsent(brand, messagebird):
    brand.sms_max_segments = 1
    brand.save()

    with pytest.raises(PermanentError, match="2 Teile"):
        send(brand, text="x" * 161)

    assert not requests_with(messagebird, b"x" * 161)


def test_the_default_limit_holds_without_one_of_the_brand(brand, settings, messagebird):
    settings.SMS_MAX_SEGMENTS = 2
    messagebird.expect_request("/messages").respond_with_json(mb_sent(), status=201)

    send(brand, text="ü" * 306)  # GSM-7: 2 segments of 153
    with pytest.raises(PermanentError, match="3 Teile"):
        send(brand, text="ü" * 307)


def test_an_invalid_recipient_is_refused_unsent(brand, messagebird):
    with pytest.raises(PermanentError, match="keine Mobilnummer"):
        send(brand, recipient="kunde@example.org", text="Nur für Kunde K-77")

    assert not requests_with(messagebird, b"K-77")


def test_without_a_sender_id_nothing_is_sent(brand, messagebird):
    brand.sms_sender_id = ""
    brand.save()

    with pytest.raises(PermanentError, match="keine SMS-Absenderkennung"):
        send(brand)


def test_without_a_provider_nothing_is_sent(brand, settings):
    settings.SMS_PROVIDER = ""

    with pytest.raises(PermanentError, match="kein SMS-Anbieter"):
        send(brand)


def test_a_brand_can_have_its_own_provider_and_key(brand, settings, seven):
    settings.SMS_PROVIDER = "messagebird"
    settings.SMS_BRANDS = {"laderthuis": {"provider": "sevenio", "api_key": "brand-key"}}
    seven.expect_request("/api/sms", headers={"X-Api-Key": "brand-key"}).respond_with_json(
        seven_sent("1")
    )

    assert send(brand).provider_id == "1"


@pytest.mark.parametrize("value", ["LaderThuis", "Optik Meier", "+4915112345678", "4930123456"])
def test_valid_sender_ids(value):
    assert sender_id_problem(value) == ""


@pytest.mark.parametrize("value", ["LaderThuis24", "Müller", "Lader-Thuis", "12", "+49 30 1234"])
def test_invalid_sender_ids(value):
    assert sender_id_problem(value)


def test_the_brand_admin_refuses_an_invalid_sender_id(brand):
    brand.sms_sender_id = "Bäckerei Meier"

    with pytest.raises(ValidationError) as caught:
        brand.full_clean()

    assert "sms_sender_id" in caught.value.message_dict
