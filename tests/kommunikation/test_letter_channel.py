"""The letter channel against a local Pingen (pytest-httpserver): token, upload, creation,
send, each error class, timeouts; and self-print letters held for the print batch."""

from __future__ import annotations

import io
import json
import time
import urllib.parse

import pytest
from pypdf import PdfWriter
from werkzeug import Response

from kommunikation.channels.base import Outgoing, PermanentError, TransientError
from kommunikation.channels.letter import LetterChannel
from kommunikation.letters.models import Letter, LetterConnection
from tests.conftest import NOW
from tests.kommunikation.letters_helpers import (
    LETTER_ID,
    LETTERS_PATH,
    _fresh_tokens,  # noqa: F401  (autouse)
    enqueue_letter,
    json_response,
    letter_customer,
    letter_json,
    pingen_brand,
    requests_to,
    serve_pingen,
    upload_json,
)

pytestmark = pytest.mark.django_db


def blank_pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _n in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def row(brand_a):
    return enqueue_letter(letter_customer(brand_a, number="K-4711"))


def outgoing(row, pdf: bytes | None = None) -> Outgoing:
    return Outgoing(
        outbound_id=row.pk,
        brand=row.brand,
        recipient="Hauptstraße 12, 10115 Berlin",
        category=row.category,
        subject=row.subject,
        document=blank_pdf(2) if pdf is None else pdf,
    )


def send(row, pdf: bytes | None = None):
    channel = LetterChannel()
    try:
        return channel.send(outgoing(row, pdf))
    finally:
        channel.close()


def test_a_letter_goes_to_pingen_token_upload_then_creation(httpserver, brand_a, row):
    pingen_brand(brand_a, httpserver)
    serve_pingen(httpserver)
    pdf = blank_pdf(2)

    result = send(row, pdf)

    assert result.provider_id == LETTER_ID
    (token,) = requests_to(httpserver, "/auth/access-tokens")
    form = urllib.parse.parse_qs(token.get_data(as_text=True))
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == ["client-aa"] and form["client_secret"] == ["secret-aa"]
    assert "letter" in form["scope"][0].split()
    (upload_target,) = requests_to(httpserver, "/file-upload")
    assert upload_target.headers["Authorization"] == "Bearer tok-1"
    (put,) = requests_to(httpserver, "/s3/upload/abc", "PUT")
    assert put.get_data() == pdf
    assert "Authorization" not in put.headers  # the pre-signed URL is the credential
    (create,) = requests_to(httpserver, LETTERS_PATH, "POST")
    assert create.headers["Content-Type"] == "application/vnd.api+json"
    attributes = json.loads(create.get_data())["data"]["attributes"]
    assert attributes["file_url"] == upload_json(httpserver)["data"]["attributes"]["url"]
    assert attributes["file_url_signature"] == "sig-abc"
    assert attributes["file_original_name"] == f"brief-{row.pk}.pdf"
    assert attributes["address_position"] == "left"
    assert attributes["auto_send"] is True
    assert (attributes["delivery_product"], attributes["print_mode"], attributes["print_spectrum"]) == (
        "cheap", "simplex", "grayscale"
    )  # fmt: skip
    assert attributes["meta_data"]["outbound_id"] == str(row.pk)
    assert requests_to(httpserver, f"{LETTERS_PATH}/{LETTER_ID}/send") == []
    letter = Letter.objects.get(outbound=row)
    assert (letter.status, letter.provider_id, letter.pages) == ("submitted", LETTER_ID, 2)
    assert (letter.recipient, letter.customer_number) == ("Anna Müller", "K-4711")


def test_the_token_is_reused_until_it_expires(httpserver, brand_a, row):
    pingen_brand(brand_a, httpserver)
    serve_pingen(httpserver)
    second = enqueue_letter(row.customer, key="letter:RE-1002")
    channel = LetterChannel()
    channel.send(outgoing(row))
    channel.send(outgoing(second))
    channel.close()
    assert len(requests_to(httpserver, "/auth/access-tokens")) == 1


def test_a_token_is_renewed_a_minute_before_it_expires(httpserver, brand_a, row, time_machine):
    time_machine.move_to(NOW, tick=False)
    pingen_brand(brand_a, httpserver)
    serve_pingen(httpserver)  # expires_in 43200 s
    send(row)
    time_machine.shift(43200 - 61)
    send(enqueue_letter(row.customer, key="letter:RE-1002"))
    assert len(requests_to(httpserver, "/auth/access-tokens")) == 1
    time_machine.shift(2)
    send(enqueue_letter(row.customer, key="letter:RE-1003"))
    assert len(requests_to(httpserver, "/auth/access-tokens")) == 2


def test_without_auto_send_the_letter_is_sent_with_a_second_call(httpserver, brand_a, row):
    pingen_brand(brand_a, httpserver, auto_send=False, print_mode="duplex", print_spectrum="color",
                 delivery_product="fast")  # fmt: skip
    serve_pingen(httpserver)
    send(row)
    (create,) = requests_to(httpserver, LETTERS_PATH, "POST")
    attributes = json.loads(create.get_data())["data"]["attributes"]
    assert attributes["auto_send"] is False and "delivery_product" not in attributes
    (send_call,) = requests_to(httpserver, f"{LETTERS_PATH}/{LETTER_ID}/send", "PATCH")
    body = json.loads(send_call.get_data())["data"]
    assert body["id"] == LETTER_ID
    assert body["attributes"] == {
        "delivery_product": "fast", "print_mode": "duplex", "print_spectrum": "color"
    }  # fmt: skip


def test_a_retry_after_a_lost_write_back_does_not_create_the_letter_twice(httpserver, brand_a, row):
    pingen_brand(brand_a, httpserver)
    serve_pingen(httpserver)
    assert send(row).provider_id == LETTER_ID
    assert send(row).provider_id == LETTER_ID
    assert len(requests_to(httpserver, LETTERS_PATH, "POST")) == 1
    assert Letter.objects.count() == 1


def test_a_validation_error_is_permanent_with_pingens_reason(httpserver, brand_a, row):
    pingen_brand(brand_a, httpserver)
    httpserver.expect_request(LETTERS_PATH, method="POST").respond_with_response(
        json_response(
            {"errors": [{
                "code": "validation", "title": "Unprocessable Entity",
                "detail": "The selected delivery product is invalid.",
                "source": {"pointer": "/data/attributes/delivery_product"},
            }]},
            422,
        )
    )  # fmt: skip
    serve_pingen(httpserver)
    with pytest.raises(PermanentError) as error:
        send(row)
    assert "The selected delivery product is invalid. (delivery_product)" in str(error.value)
    assert not Letter.objects.exists()


def test_wrong_credentials_are_permanent_in_plain_words(httpserver, brand_a, row):
    pingen_brand(brand_a, httpserver)
    httpserver.expect_request("/auth/access-tokens").respond_with_json(
        {"error": "invalid_client", "error_description": "Client authentication failed"},
        status=401,
    )
    with pytest.raises(PermanentError) as error:
        send(row)
    assert "Client-ID oder Client-Secret" in str(error.value)
    assert "Client authentication failed" in str(error.value)


def test_an_api_refusing_a_fresh_token_is_permanent(httpserver, brand_a, row):
    pingen_brand(brand_a, httpserver)
    httpserver.expect_request("/file-upload").respond_with_json({"errors": []}, status=401)
    serve_pingen(httpserver)
    with pytest.raises(PermanentError) as error:
        send(row)
    assert "Pingen lehnt den Zugang ab (HTTP 401)" in str(error.value)
    # the cached token was dropped and a new one tried once before giving up
    assert len(requests_to(httpserver, "/auth/access-tokens")) == 2
    assert len(requests_to(httpserver, "/file-upload")) == 2


def test_missing_credentials_are_permanent(httpserver, brand_a, row):
    pingen_brand(brand_a, httpserver)
    LetterConnection.objects.update(client_secret="")
    with pytest.raises(PermanentError, match="keine Zugangsdaten"):
        send(row)


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [(429, {"Retry-After": "120"}, 120.0), (503, {}, None), (500, {}, None)],
)
def test_rate_limits_and_server_errors_are_transient(
    httpserver, brand_a, row, status, headers, retry_after
):
    pingen_brand(brand_a, httpserver)
    httpserver.expect_request(LETTERS_PATH, method="POST").respond_with_response(
        json_response({"errors": [{"title": "Too Many Requests"}]}, status, headers)
    )
    serve_pingen(httpserver)
    with pytest.raises(TransientError) as error:
        send(row)
    assert f"HTTP {status}" in str(error.value)
    assert error.value.retry_after == retry_after
    assert not Letter.objects.exists()  # nothing kept: the retry creates it


def test_a_failed_upload_is_transient(httpserver, brand_a, row):
    pingen_brand(brand_a, httpserver)
    httpserver.expect_request("/s3/upload/abc", method="PUT").respond_with_data("expired", 403)
    serve_pingen(httpserver)
    with pytest.raises(TransientError, match="Hochladen"):
        send(row)
    assert requests_to(httpserver, LETTERS_PATH, "POST") == []


def test_a_timeout_is_transient(httpserver, brand_a, row, settings):
    settings.PINGEN_TIMEOUT = 0.3
    pingen_brand(brand_a, httpserver)

    def slow(request):
        time.sleep(1)
        return Response(json.dumps(letter_json()), status=201)

    httpserver.expect_request(LETTERS_PATH, method="POST").respond_with_handler(slow)
    serve_pingen(httpserver)
    with pytest.raises(TransientError, match="nicht rechtzeitig"):
        send(row)


def test_an_unreachable_pingen_is_transient(brand_a, row):
    LetterConnection.objects.create(
        brand=brand_a, mode="pingen", api_url="http://127.0.0.1:9", identity_url="http://127.0.0.1:9",
        client_id="c", client_secret="s", organisation_id="o",
    )  # fmt: skip
    with pytest.raises(TransientError, match="nicht erreichbar"):
        send(row)


def test_a_self_printing_brand_keeps_the_letter_ready_for_the_batch(brand_a, row, settings):
    settings.LETTER_MODE = "selfprint"
    result = send(row)
    letter = Letter.objects.get(outbound=row)
    assert result.provider_id == f"druck-{letter.pk}"
    assert (letter.mode, letter.status, letter.pages) == ("selfprint", "ready", 2)
    assert letter.pdf.read().startswith(b"%PDF")


def test_a_letter_without_a_pdf_is_refused(brand_a, row):
    with pytest.raises(PermanentError, match="Kein Brief-PDF"):
        send(row, pdf=b"")
