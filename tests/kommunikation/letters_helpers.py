"""A local Pingen (pytest-httpserver) answering in the shapes of Pingen v2's SDKs
(reference/letters.md §2), and a brand that sends its letters through it."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from werkzeug import Response

from kommunikation.letters.models import LetterConnection
from kommunikation.letters.pingen import forget_tokens
from kommunikation.outbox import enqueue_outbound
from tests.factories import CustomerFactory

ORG = "a3f1c2d4-0000-4000-8000-000000000001"
LETTER_ID = "7c6e9a1b-1111-4222-8333-944455556666"
WEBHOOK_SECRET = "pingen-signing-key-aa"
LETTERS_PATH = f"/organisations/{ORG}/deliveries/letters"


def token_json(token: str = "tok-1", expires_in: int = 43200) -> dict:
    return {"token_type": "Bearer", "expires_in": expires_in, "access_token": token}


def upload_json(server) -> dict:
    return {
        "data": {
            "id": "0b5c4b2e-upload",
            "type": "file_uploads",
            "attributes": {
                "url": server.url_for("/s3/upload/abc"),
                "url_signature": "sig-abc",
                "expires_at": "2026-11-25T12:30:00+01:00",
            },
        }
    }


def letter_json(letter_id: str = LETTER_ID, status: str = "validating") -> dict:
    return {
        "data": {
            "id": letter_id,
            "type": "letters",
            "attributes": {
                "status": status,
                "file_original_name": "brief.pdf",
                "file_pages": None,
                "address": None,
                "address_position": "left",
                "country": None,
                "delivery_product": "cheap",
                "print_mode": "simplex",
                "print_spectrum": "grayscale",
                "price_currency": None,
                "price_value": None,
                "paper_types": None,
                "fonts": None,
                "source": "api",
                "tracking_number": None,
                "submitted_at": None,
                "created_at": "2026-11-25T12:00:01+01:00",
                "updated_at": "2026-11-25T12:00:01+01:00",
            },
            "relationships": {
                "organisation": {"data": {"id": ORG, "type": "organisations"}},
                "events": {"links": {"related": {"href": "..."}}},
            },
            "links": {"self": f"https://api.pingen.com{LETTERS_PATH}/{letter_id}"},
        }
    }


def serve_pingen(server, *, letter_id: str = LETTER_ID) -> None:
    """The happy path: token, upload target, upload, letter creation, send."""
    server.expect_request("/auth/access-tokens", method="POST").respond_with_json(token_json())
    server.expect_request("/file-upload", method="GET").respond_with_json(upload_json(server))
    server.expect_request("/s3/upload/abc", method="PUT").respond_with_data("")
    server.expect_request(LETTERS_PATH, method="POST").respond_with_json(
        letter_json(letter_id), status=201
    )
    server.expect_request(f"{LETTERS_PATH}/{letter_id}/send", method="PATCH").respond_with_json(
        letter_json(letter_id, status="submitted")
    )


def requests_to(server, path: str, method: str | None = None):
    return [
        request
        for request, _response in server.log
        if request.path == path and (method is None or request.method == method)
    ]


def json_response(payload: dict, status: int, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(payload), status=status, headers=headers, content_type="application/vnd.api+json"
    )


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture(autouse=True)
def _fresh_tokens():
    forget_tokens()
    yield
    forget_tokens()


def pingen_brand(brand, server, **fields) -> LetterConnection:
    return LetterConnection.objects.create(
        brand=brand,
        mode="pingen",
        api_url=server.url_for("/").rstrip("/"),
        identity_url=server.url_for("/").rstrip("/"),
        client_id="client-aa",
        client_secret="secret-aa",
        organisation_id=ORG,
        webhook_secret=WEBHOOK_SECRET,
        **fields,
    )


def letter_customer(brand, **kwargs):
    defaults = {
        "brand": brand, "first_name": "Anna", "last_name": "Müller", "street": "Hauptstraße 12",
        "postal_code": "10115", "city": "Berlin",
    }  # fmt: skip
    defaults.update(kwargs)
    return CustomerFactory(**defaults)


def enqueue_letter(customer, key: str = "letter:RE-1001", **kwargs):
    defaults = {
        "brand": customer.brand, "customer": customer, "channels": "letter",
        "category": "transactional", "idempotency_key": key, "source": "rule",
        "subject": "1. Mahnung zur Rechnung RE-1001",
        "text": "Sehr geehrte Frau Müller,\n\nbitte begleichen Sie die offene Rechnung.",
        "trigger": False,
    }  # fmt: skip
    defaults.update(kwargs)
    return enqueue_outbound(**defaults)
