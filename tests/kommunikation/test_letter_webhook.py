"""Pingen's status callbacks: signed, stored first, idempotent, forward only, never 500."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from conversations.models import Message, WebhookDelivery
from kommunikation.dispatch import dispatch_batch
from kommunikation.letters.models import Letter
from tests.kommunikation.letters_helpers import (
    LETTER_ID,
    ORG,
    _fresh_tokens,  # noqa: F401  (autouse)
    enqueue_letter,
    letter_customer,
    pingen_brand,
    serve_pingen,
    sign,
)

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine("2026-11-25 12:00 +01:00")]


def event(category: str, *, status: str, emitted_at: str, code: str = "", name: str = "",
          letter_id: str = LETTER_ID) -> bytes:  # fmt: skip
    """A webhook body in Pingen's shape (reference/letters.md §2, Webhooks)."""
    return json.dumps({
        "data": {
            "id": f"wh-{category}-{emitted_at}",
            "type": f"webhook_{category}",
            "attributes": {"reason": name, "url": "https://kk.example/webhooks/pingen/laderthuis/",
                           "created_at": emitted_at},
            "relationships": {
                "organisation": {"data": {"id": ORG, "type": "organisations"}},
                "letter": {"data": {"id": letter_id, "type": "letters"}},
                "event": {"data": {"id": f"ev-{category}", "type": "letters_events"}},
            },
        },
        "included": [
            {"id": ORG, "type": "organisations", "attributes": {"name": "LaderThuis"}},
            {"id": letter_id, "type": "letters", "attributes": {"status": status,
                                                                 "tracking_number": "RR123"}},
            {"id": f"ev-{category}", "type": "letters_events", "attributes": {
                "code": code, "name": name, "producer": "Pingen", "location": "",
                "has_image": False, "data": [], "emitted_at": emitted_at}},
        ],
    }).encode()  # fmt: skip


@pytest.fixture
def letter(httpserver, brand_a):
    pingen_brand(brand_a, httpserver)
    serve_pingen(httpserver)
    row = enqueue_letter(letter_customer(brand_a))
    dispatch_batch()
    return Letter.objects.get(outbound=row)


def post(client, body: bytes, *, signature: str | None = None, brand: str = "laderthuis"):
    headers = (
        {}
        if signature == ""
        else {"HTTP_SIGNATURE": sign(body) if signature is None else signature}
    )
    return client.post(
        reverse("pingen_webhook", args=[brand]),
        data=body,
        content_type="application/json",
        **headers,
    )


def timeline(letter: Letter) -> list[tuple[str, str]]:
    message = Message.objects.get(outbound__letter=letter)
    return [(c.status, c.detail) for c in message.status_changes.order_by("at", "id")]


def test_a_sent_and_a_delivered_event_move_the_letter_forward(client, letter):
    sent = event("sent", status="sent", emitted_at="2026-11-26T08:10:00+01:00", code="sent")
    response = post(client, sent)
    assert response.status_code == 200
    letter.refresh_from_db()
    assert letter.status == "sent"
    response = post(
        client, event("delivered", status="sent", emitted_at="2026-11-27T10:00:00+01:00")
    )
    assert response.status_code == 200
    letter.refresh_from_db()
    assert letter.status == "delivered"
    message = Message.objects.get(outbound__letter=letter)
    assert message.status == Message.State.DELIVERED
    assert timeline(letter)[-2:] == [
        ("sent", "Brief: der Post übergeben"),
        ("delivered", "Brief: zugestellt"),
    ]
    delivery = WebhookDelivery.objects.filter(esp="pingen").first()
    assert (delivery.state, delivery.brand, delivery.kind) == ("ok", letter.brand, "tracking")


def test_a_wrong_or_missing_signature_is_refused_and_nothing_is_stored(client, letter):
    body = event("sent", status="sent", emitted_at="2026-11-26T08:10:00+01:00")
    assert post(client, body, signature="0" * 64).status_code == 401
    assert post(client, body, signature="").status_code == 401
    assert post(client, body, signature=sign(body, "other-key")).status_code == 401
    assert post(client, body + b" ", signature=sign(body)).status_code == 401
    assert not WebhookDelivery.objects.filter(esp="pingen").exists()
    letter.refresh_from_db()
    assert letter.status == "submitted"


def test_an_unknown_brand_or_one_without_a_key_is_404(client, letter, brand_b):
    body = event("sent", status="sent", emitted_at="2026-11-26T08:10:00+01:00")
    assert post(client, body, brand="gibt-es-nicht").status_code == 404
    assert post(client, body, brand=brand_b.slug).status_code == 404


def test_a_replay_is_stored_once_and_changes_nothing(client, letter):
    body = event("sent", status="sent", emitted_at="2026-11-26T08:10:00+01:00")
    assert post(client, body).status_code == 200
    before = timeline(letter)
    response = post(client, body)
    assert response.status_code == 200
    assert response.content == b"Already processed."
    delivery = WebhookDelivery.objects.get(esp="pingen")
    assert delivery.attempts == 2
    assert timeline(letter) == before


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "Kein JSON"),
        (b"[]", "kein Objekt"),
        (b'{"data": {"type": "webhook_sent"}}', "relationships"),
        (b'{"data": {"type": "webhook_ping", "relationships": {}}}', "Unbekannter Ereignistyp"),
        (b'{"data": {"type": "webhook_sent", "relationships": {"letter": {"data": {"id": 5}}}}}',
         "Brief-ID"),
    ],
)  # fmt: skip
def test_a_malformed_body_is_400_with_the_reason_and_kept(client, letter, body, reason):
    response = post(client, body)
    assert response.status_code == 400
    assert reason in response.content.decode()
    delivery = WebhookDelivery.objects.get(esp="pingen")
    assert (delivery.state, bytes(delivery.body)) == ("rejected", body)
    assert reason in delivery.reason


def test_statuses_out_of_order_never_move_the_letter_back(client, letter):
    delivered = event("delivered", status="sent", emitted_at="2026-11-27T10:00:00+01:00")
    sent = event("sent", status="sent", emitted_at="2026-11-26T08:10:00+01:00")
    assert post(client, delivered).status_code == 200
    assert post(client, sent).status_code == 200  # late, and older
    letter.refresh_from_db()
    assert letter.status == "delivered"
    message = Message.objects.get(outbound__letter=letter)
    assert message.status == Message.State.DELIVERED
    details = [detail for _status, detail in timeline(letter)]
    # each recorded once, in the order they happened
    assert details[-2:] == ["Brief: der Post übergeben", "Brief: zugestellt"]


def test_an_undeliverable_letter_bounces_in_the_thread(client, letter):
    body = event("undeliverable", status="undeliverable", emitted_at="2026-11-28T09:00:00+01:00",
                 code="undeliverable", name="Empfänger unbekannt")  # fmt: skip
    assert post(client, body).status_code == 200
    letter.refresh_from_db()
    assert letter.status == "undeliverable"
    message = Message.objects.get(outbound__letter=letter)
    assert message.status == Message.State.BOUNCED
    assert timeline(letter)[-1] == ("bounced", "Brief: unzustellbar (Empfänger unbekannt)")


def test_an_issue_pingen_gave_up_on_fails_the_letter(client, letter):
    body = event("issues", status="invalid", emitted_at="2026-11-25T12:05:00+01:00",
                 code="file_too_many_pages", name="Die Datei hat zu viele Seiten")  # fmt: skip
    assert post(client, body).status_code == 200
    letter.refresh_from_db()
    assert letter.status == "failed"
    assert timeline(letter)[-1] == ("failed", "Brief: abgelehnt (Die Datei hat zu viele Seiten)")


def test_an_event_for_an_unknown_letter_is_accepted_and_noted(client, letter):
    body = event("sent", status="sent", emitted_at="2026-11-26T08:10:00+01:00", letter_id="fremd")
    response = post(client, body)
    assert response.status_code == 200
    assert "Unbekannter Brief" in WebhookDelivery.objects.get(esp="pingen").reason


def test_a_get_is_not_allowed(client, letter):
    assert client.get(reverse("pingen_webhook", args=["laderthuis"])).status_code == 405


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "data",
                    "type",
                    "relationships",
                    "letter",
                    "id",
                    "included",
                    "attributes",
                    "status",
                    "emitted_at",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),  # fmt: skip
    max_leaves=20,
)


@given(payload=json_values)
@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_arbitrary_json_never_answers_500(client, letter, payload):
    body = json.dumps(payload).encode()
    assert post(client, body).status_code in (200, 400)
