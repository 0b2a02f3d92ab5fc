"""The WhatsApp Cloud API adapter against a local server answering in Meta's shapes."""

from __future__ import annotations

import json
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from werkzeug import Response

from kommunikation.channels import CHANNELS
from kommunikation.channels.base import Outgoing, PermanentError, TransientError
from kommunikation.channels.whatsapp import WhatsAppChannel
from kommunikation.models import WhatsAppNumber
from tests.whatsapp_payloads import PHONE_NUMBER_ID, graph_error, sent

pytestmark = pytest.mark.django_db
MESSAGES = f"/v23.0/{PHONE_NUMBER_ID}/messages"


@pytest.fixture
def number(brand_a, settings, httpserver):
    settings.WHATSAPP_GRAPH_URL = httpserver.url_for("").rstrip("/")
    settings.WHATSAPP_API_VERSION = "v23.0"
    settings.WHATSAPP_TIMEOUT = 1
    return WhatsAppNumber.objects.create(
        brand=brand_a, display_number="+31612345679", phone_number_id=PHONE_NUMBER_ID,
        access_token="EAAG-token", app_secret="s", verify_token="v",
    )  # fmt: skip


def outgoing(brand, **kwargs) -> Outgoing:
    return Outgoing(
        outbound_id=1, brand=brand, recipient="+4915112345678", category="service", **kwargs
    )


def send(brand, **kwargs):
    adapter = WhatsAppChannel()
    adapter.open()
    try:
        return adapter.send(outgoing(brand, **kwargs))
    finally:
        adapter.close()


def test_it_is_registered_as_the_whatsapp_channel():
    assert CHANNELS["whatsapp"] is WhatsAppChannel


def test_a_text_goes_out_as_a_session_message_with_the_token(number, brand_a, httpserver):
    httpserver.expect_request(
        MESSAGES, method="POST", headers={"Authorization": "Bearer EAAG-token"},
        json={"messaging_product": "whatsapp", "recipient_type": "individual",
              "to": "+4915112345678", "type": "text",
              "text": {"preview_url": False, "body": "Ihre Wallbox ist unterwegs."}},
    ).respond_with_json(sent("wamid.TEXT1"))  # fmt: skip

    result = send(brand_a, text="Ihre Wallbox ist unterwegs.")

    assert result.provider_id == "wamid.TEXT1"
    httpserver.check_assertions()


def test_a_template_goes_out_by_name_language_and_parameters_in_order(number, brand_a, httpserver):
    httpserver.expect_request(MESSAGES, method="POST").respond_with_json(sent("wamid.TPL"))

    result = send(brand_a, text="Ihr Termin", template=("bestaetigung", "de", ["03.12.", "10:00"]))

    assert result.provider_id == "wamid.TPL"
    payload = json.loads(httpserver.log[0][0].data)
    assert payload["type"] == "template"
    assert payload["template"] == {
        "name": "bestaetigung",
        "language": {"code": "de"},
        "components": [
            {"type": "body", "parameters": [
                {"type": "text", "text": "03.12."}, {"type": "text", "text": "10:00"}]}
        ],
    }  # fmt: skip


def test_an_invoice_pdf_is_uploaded_first_and_sent_as_a_document(number, brand_a, httpserver):
    path = default_storage.save("outbox/RE-1000.pdf", ContentFile(b"%PDF-1.7 Rechnung"))
    httpserver.expect_request(f"/v23.0/{PHONE_NUMBER_ID}/media", method="POST").respond_with_json(
        {"id": "1037543291543636"}
    )
    httpserver.expect_request(MESSAGES, method="POST").respond_with_json(sent("wamid.DOC"))

    result = send(
        brand_a, text="Ihre Rechnung",
        attachments=[{"path": path, "filename": "RE-1000.pdf", "content_type": "application/pdf"}],
    )  # fmt: skip

    assert result.provider_id == "wamid.DOC"
    upload = httpserver.log[0][0]
    assert b"%PDF-1.7 Rechnung" in upload.data
    assert upload.form["messaging_product"] == "whatsapp"
    assert upload.form["type"] == "application/pdf"
    payload = json.loads(httpserver.log[1][0].data)
    assert payload["type"] == "document"
    assert payload["document"] == {
        "id": "1037543291543636", "filename": "RE-1000.pdf", "caption": "Ihre Rechnung"
    }  # fmt: skip


def test_an_image_is_sent_as_an_image(number, brand_a, httpserver):
    path = default_storage.save("outbox/foto.jpg", ContentFile(b"\xff\xd8\xff"))
    httpserver.expect_request(f"/v23.0/{PHONE_NUMBER_ID}/media").respond_with_json({"id": "77"})
    httpserver.expect_request(MESSAGES).respond_with_json(sent("wamid.IMG"))

    send(
        brand_a, attachments=[{"path": path, "filename": "foto.jpg", "content_type": "image/jpeg"}]
    )

    assert json.loads(httpserver.log[1][0].data)["image"] == {"id": "77"}


def _answer(httpserver, status: int, payload: dict, headers=None):
    httpserver.expect_request(MESSAGES).respond_with_json(payload, status=status, headers=headers)


def test_re_engagement_outside_the_window_is_permanent_with_the_reason(number, brand_a, httpserver):
    _answer(httpserver, 400, graph_error(131047, "Re-engagement message"))

    with pytest.raises(PermanentError) as error:
        send(brand_a, text="Hallo")

    assert str(error.value) == (
        "Außerhalb des 24-Stunden-Fensters: nur eine freigegebene Vorlage möglich"
    )


def test_an_undeliverable_message_is_permanent(number, brand_a, httpserver):
    _answer(httpserver, 400, graph_error(131026, "Message Undeliverable"))

    with pytest.raises(PermanentError, match="nicht zustellbar"):
        send(brand_a, text="Hallo")


@pytest.mark.parametrize("code", [130429, 131056])
def test_rate_limits_are_retried_later(number, brand_a, httpserver, code):
    _answer(httpserver, 400, graph_error(code, "Rate limit hit"))

    with pytest.raises(TransientError) as error:
        send(brand_a, text="Hallo")

    assert error.value.retry_after == 60.0


def test_an_unsupported_message_type_is_permanent(number, brand_a, httpserver):
    _answer(httpserver, 400, graph_error(131051, "Unsupported message type"))

    with pytest.raises(PermanentError, match="nicht unterstützt"):
        send(brand_a, text="Hallo")


@pytest.mark.parametrize("status,payload", [
    (401, graph_error(190, "Error validating access token: Session has expired")),
    (401, {"error": {"message": "Invalid OAuth access token", "type": "OAuthException"}}),
])  # fmt: skip
def test_an_expired_token_is_permanent_and_explained(number, brand_a, httpserver, status, payload):
    _answer(httpserver, status, payload)

    with pytest.raises(PermanentError, match="Zugriffstoken ist abgelaufen oder ungültig"):
        send(brand_a, text="Hallo")


def test_a_server_error_is_transient(number, brand_a, httpserver):
    httpserver.expect_request(MESSAGES).respond_with_data("Bad Gateway", status=502)

    with pytest.raises(TransientError):
        send(brand_a, text="Hallo")


def test_a_timeout_is_transient(number, brand_a, httpserver):
    def slow(request):
        time.sleep(1.5)
        return Response(json.dumps(sent()), content_type="application/json")

    httpserver.expect_request(MESSAGES).respond_with_handler(slow)

    with pytest.raises(TransientError, match="Zeitüberschreitung"):
        send(brand_a, text="Hallo")


def test_a_brand_without_a_number_cannot_send(brand_b):
    with pytest.raises(PermanentError, match="keine WhatsApp-Nummer"):
        send(brand_b, text="Hallo")
