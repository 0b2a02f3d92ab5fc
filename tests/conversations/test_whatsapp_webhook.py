"""Meta's WhatsApp webhook: verification, signatures, store first, every message type,
statuses out of order, and the inbox's WhatsApp composer with the 24-hour window."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from conversations.models import Conversation, Message, StatusChange, WebhookDelivery
from kommunikation.models import OutboundMessage, WhatsAppNumber
from tests.conftest import NOW
from tests.factories import ContactPointFactory, CustomerFactory
from tests.whatsapp_payloads import (
    CUSTOMER_WA,
    PHONE_NUMBER_ID,
    SECRET,
    body,
    envelope,
    inbound,
    sign,
    status,
)

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW)]
URL = "/webhooks/whatsapp/laderthuis/"


@pytest.fixture
def number(brand_a, settings, httpserver):
    settings.WHATSAPP_GRAPH_URL = httpserver.url_for("").rstrip("/")
    brand_a.whatsapp_number = "+31612345679"
    brand_a.save()
    return WhatsAppNumber.objects.create(
        brand=brand_a, display_number="+31612345679", phone_number_id=PHONE_NUMBER_ID,
        access_token="EAAG-token", app_secret=SECRET, verify_token="mein-verify-token",
    )  # fmt: skip


@pytest.fixture
def post(client, number, django_capture_on_commit_callbacks):
    def post(payload, *, signature=None, raw: bytes | None = None):
        data = raw if raw is not None else body(payload)
        headers = {} if signature is False else {"X-Hub-Signature-256": signature or sign(data)}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, data=data, content_type="application/json", headers=headers)

    return post


@pytest.fixture
def customer(brand_a):
    customer = CustomerFactory(brand=brand_a, first_name="Sheena", last_name="Nelson")
    ContactPointFactory(customer=customer, channel="phone", value="+" + CUSTOMER_WA, type="mobile")
    return customer


# --- verification and authentication ---------------------------------------------------


def test_the_verification_handshake_echoes_the_challenge(client, number):
    response = client.get(
        URL,
        {
            "hub.mode": "subscribe",
            "hub.verify_token": "mein-verify-token",
            "hub.challenge": "1158201444",
        },
    )

    assert response.status_code == 200
    assert response.content == b"1158201444"


def test_a_wrong_verify_token_is_refused(client, number):
    response = client.get(
        URL, {"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1"}
    )

    assert response.status_code == 403


def test_an_unknown_brand_is_not_found(client, number):
    assert (
        client.post(
            "/webhooks/whatsapp/niemand/", data=b"{}", content_type="application/json"
        ).status_code
        == 404
    )


@pytest.mark.parametrize("signature", [False, "sha256=" + "0" * 64, "sha1=abc"])
def test_a_missing_or_wrong_signature_is_401_and_nothing_is_stored(post, signature):
    response = post(
        envelope(inbound({"id": "wamid.A", "type": "text", "text": {"body": "Hallo"}})),
        signature=signature,
    )

    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()
    assert not Message.objects.exists()


def test_a_signature_with_another_secret_is_refused(post):
    payload = envelope(inbound({"id": "wamid.A", "type": "text", "text": {"body": "Hallo"}}))

    response = post(payload, signature=sign(body(payload), "anderes-geheimnis"))

    assert response.status_code == 401


def test_a_rotated_app_secret_counts_from_the_next_webhook(post, number):
    payload = envelope(inbound({"id": "wamid.S1", "type": "text", "text": {"body": "Hallo"}}))
    assert post(payload).status_code == 200  # the number is now kept by the webhook

    number.app_secret = "neues-geheimnis"
    number.save()
    again = envelope(inbound({"id": "wamid.S2", "type": "text", "text": {"body": "Hallo"}}))

    assert post(again).status_code == 401  # signed with the old secret
    assert post(again, signature=sign(body(again), "neues-geheimnis")).status_code == 200


def test_a_deactivated_number_or_renamed_brand_is_not_found_from_the_next_webhook(
    post, number, brand_a, client
):
    payload = envelope(inbound({"id": "wamid.D1", "type": "text", "text": {"body": "Hallo"}}))
    assert post(payload).status_code == 200

    number.active = False
    number.save()
    assert post(payload).status_code == 404
    number.active = True
    number.save()
    brand_a.slug = "laderthuis-neu"
    brand_a.save()

    assert post(payload).status_code == 404
    data = body(payload)
    response = client.post(
        "/webhooks/whatsapp/laderthuis-neu/", data=data, content_type="application/json",
        headers={"X-Hub-Signature-256": sign(data)},
    )  # fmt: skip
    assert response.status_code == 200


def test_a_number_changed_by_another_process_counts_after_the_cache_time(post, number):
    from conversations import whatsapp

    payload = envelope(inbound({"id": "wamid.P1", "type": "text", "text": {"body": "Hallo"}}))
    assert post(payload).status_code == 200
    # another process saves: no signal reaches this one
    WhatsAppNumber.objects.filter(pk=number.pk).update(app_secret="neues-geheimnis")
    again = envelope(inbound({"id": "wamid.P2", "type": "text", "text": {"body": "Hallo"}}))
    signed = sign(body(again), "neues-geheimnis")
    assert post(again, signature=signed).status_code == 401  # still the kept secret

    # the kept number is as old as the cache time allows
    slug, (seen, kept) = next(iter(whatsapp._accounts.items()))
    whatsapp._accounts[slug] = (seen - whatsapp.ACCOUNT_SECONDS, kept)

    assert post(again, signature=signed).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_brand_deleted_by_another_process_is_not_found_not_an_error(client):
    from conversations import whatsapp
    from kommunikation.models import BusinessEntity

    # what another process's cache may still hold: the number of a brand deleted since
    gone = WhatsAppNumber(brand=BusinessEntity(pk=987654, slug="weg"), app_secret=SECRET)
    whatsapp._accounts["weg"] = (whatsapp.time.monotonic(), gone)
    data = body(envelope(inbound({"id": "wamid.W1", "type": "text", "text": {"body": "Hi"}})))

    response = client.post(
        "/webhooks/whatsapp/weg/", data=data, content_type="application/json",
        headers={"X-Hub-Signature-256": sign(data)},
    )  # fmt: skip

    assert response.status_code == 404
    assert not WebhookDelivery.objects.exists()
    assert "weg" not in whatsapp._accounts


# --- storing and processing ----------------------------------------------------------------


def test_a_text_message_lands_in_the_customers_thread(post, customer, brand_a):
    response = post(
        envelope(
            inbound(
                {"id": "wamid.T1", "type": "text", "text": {"body": "Ist meine Wallbox fertig?"}}
            )
        )
    )

    assert response.status_code == 200
    conversation = Conversation.objects.get()
    assert (conversation.brand, conversation.customer, conversation.channel) == (
        brand_a,
        customer,
        "whatsapp",
    )
    assert conversation.counterpart == "+4915112345678"
    assert conversation.classification == "customer"
    assert conversation.last_inbound_at == dt.datetime.fromtimestamp(1795604400, tz=dt.UTC)
    message = conversation.messages.get()
    assert (message.text, message.provider_id, message.sender_name) == (
        "Ist meine Wallbox fertig?", "wamid.T1", "Sheena Nelson"
    )  # fmt: skip
    delivery = WebhookDelivery.objects.get()
    assert (delivery.esp, delivery.state, delivery.brand, delivery.events) == (
        "whatsapp",
        "ok",
        brand_a,
        1,
    )


def test_a_replay_of_the_same_body_is_stored_once_and_processed_once(post):
    payload = envelope(inbound({"id": "wamid.R1", "type": "text", "text": {"body": "Hallo"}}))

    first, second = post(payload), post(payload)

    assert (first.status_code, second.status_code) == (200, 200)
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 2
    assert Message.objects.count() == 1


def test_the_same_message_in_another_body_is_a_duplicate(post):
    post(envelope(inbound({"id": "wamid.D1", "type": "text", "text": {"body": "Hallo"}})))
    post(
        envelope(
            inbound(
                {
                    "id": "wamid.D1",
                    "type": "text",
                    "text": {"body": "Hallo"},
                    "timestamp": "1795604401",
                }
            )
        )
    )

    assert WebhookDelivery.objects.count() == 2
    assert Message.objects.count() == 1


@pytest.mark.parametrize("raw,reason", [
    (b"{nicht json", "Kein gültiges JSON"),
    (b"[1, 2]", "Kein JSON-Objekt"),
    (b'{"object": "page", "entry": []}', "whatsapp_business_account"),
    (b'{"object": "whatsapp_business_account"}', "entry"),
])  # fmt: skip
def test_a_malformed_body_is_400_with_the_reason_and_kept(post, raw, reason):
    response = post(None, raw=raw)

    assert response.status_code == 400
    assert reason in response.text
    delivery = WebhookDelivery.objects.get()
    assert (bytes(delivery.body), delivery.state) == (raw, "rejected")
    assert reason in delivery.reason


def test_a_replayed_malformed_body_is_stored_once_and_refused_with_its_reason_again(post):
    first, second = post(None, raw=b"{nicht json"), post(None, raw=b"{nicht json")

    assert (first.status_code, second.status_code) == (400, 400)
    assert "Kein gültiges JSON" in second.text
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.state) == (2, "rejected")


def test_a_malformed_body_with_a_wrong_signature_is_401_and_not_stored(post):
    response = post(None, raw=b"{nicht json", signature="sha256=" + "0" * 64)

    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_several_entries_and_changes_in_one_post(post):
    payload = envelope(
        inbound({"id": "wamid.M1", "type": "text", "text": {"body": "eins"}}),
        inbound(
            {"id": "wamid.M2", "type": "text", "text": {"body": "zwei"}},
            wa_id="4917612345678",
            name="Max",
        ),
    )
    payload["entry"].append(
        envelope(inbound({"id": "wamid.M3", "type": "text", "text": {"body": "drei"}}))["entry"][0]
    )

    post(payload)

    assert sorted(Message.objects.values_list("text", flat=True)) == ["drei", "eins", "zwei"]
    assert Conversation.objects.count() == 2


def test_a_sender_known_only_by_business_scoped_user_id(post):
    value = inbound(
        {
            "id": "wamid.U1",
            "type": "text",
            "text": {"body": "Hallo"},
            "from": "",
            "from_user_id": "US.13491208655302741918",
        },
        wa_id="",
    )
    value["contacts"] = [
        {"profile": {"name": "anna.k"}, "wa_id": "", "user_id": "US.13491208655302741918"}
    ]
    post(envelope(value))
    second = inbound(
        {
            "id": "wamid.U2",
            "type": "text",
            "text": {"body": "Noch da?"},
            "from": "",
            "from_user_id": "US.13491208655302741918",
        },
        wa_id="",
    )
    post(envelope(second))

    conversation = Conversation.objects.get()
    assert conversation.counterpart == "US.13491208655302741918"
    assert conversation.counterpart_name == "anna.k"
    assert conversation.messages.count() == 2


def test_a_number_and_a_user_id_are_one_thread(post):
    post(
        envelope(
            inbound(
                {"id": "wamid.B1", "type": "text", "text": {"body": "eins"}, "from_user_id": "US.1"}
            )
        )
    )
    post(
        envelope(
            inbound(
                {
                    "id": "wamid.B2",
                    "type": "text",
                    "text": {"body": "zwei"},
                    "from": "",
                    "from_user_id": "US.1",
                },
                wa_id="",
            )
        )
    )

    conversation = Conversation.objects.get()
    assert conversation.counterpart == "+4915112345678"
    assert conversation.messages.count() == 2


# --- message types (Meta's documented sample payloads) ------------------------------------


def _media(httpserver, media_id: str, data: bytes, mime: str):
    httpserver.expect_request(f"/v23.0/{media_id}", headers={"Authorization": "Bearer EAAG-token"}).respond_with_json({
        "messaging_product": "whatsapp", "url": httpserver.url_for(f"/download/{media_id}"),
        "mime_type": mime, "sha256": "x", "file_size": len(data), "id": media_id,
    })  # fmt: skip
    httpserver.expect_request(
        f"/download/{media_id}", headers={"Authorization": "Bearer EAAG-token"}
    ).respond_with_data(data, content_type=mime)


@pytest.mark.parametrize("kind,content,mime,filename,text", [
    ("image", {"caption": "Das Typenschild", "mime_type": "image/jpeg"}, "image/jpeg", "image-{id}.jpg", "Das Typenschild"),
    ("document", {"caption": "Rechnung", "filename": "RE-1000.pdf", "mime_type": "application/pdf"}, "application/pdf", "RE-1000.pdf", "Rechnung"),
    ("audio", {"mime_type": "audio/ogg; codecs=opus", "voice": True}, "audio/ogg", None, "[Sprachnachricht]"),
    ("video", {"mime_type": "video/mp4"}, "video/mp4", "video-{id}.mp4", "[Video]"),
    ("sticker", {"mime_type": "image/webp", "animated": False}, "image/webp", "sticker-{id}.webp", "[Sticker]"),
])  # fmt: skip
def test_media_is_downloaded_into_attachments(
    post, httpserver, kind, content, mime, filename, text
):
    media_id = f"{kind}1234567890"
    _media(httpserver, media_id, b"DATEI-" + kind.encode(), mime)

    post(
        envelope(
            inbound(
                {
                    "id": f"wamid.{kind}",
                    "type": kind,
                    kind: {"id": media_id, "sha256": "x", **content},
                }
            )
        )
    )

    message = Message.objects.get()
    assert message.text == text
    attachment = message.attachments.get()
    assert attachment.file.read() == b"DATEI-" + kind.encode()
    assert attachment.content_type.startswith(mime)
    if filename:
        assert attachment.filename == filename.format(id=media_id)


def test_media_that_cannot_be_downloaded_keeps_the_message_with_a_note(post, httpserver):
    httpserver.expect_request("/v23.0/404404").respond_with_json(
        {"error": {"code": 100, "message": "no"}}, status=400
    )

    post(
        envelope(
            inbound(
                {
                    "id": "wamid.X",
                    "type": "image",
                    "image": {"id": "404404", "mime_type": "image/jpeg"},
                }
            )
        )
    )

    assert "Datei nicht geladen" in Message.objects.get().text


@pytest.mark.parametrize("message,expected", [
    ({"type": "location", "location": {"latitude": 52.37, "longitude": 4.89, "name": "Werkstatt", "address": "Damrak 1, Amsterdam"}},
     "Standort: Werkstatt, Damrak 1, Amsterdam (52.37, 4.89)"),
    ({"type": "contacts", "contacts": [{"name": {"formatted_name": "Jan de Vries", "first_name": "Jan"}, "phones": [{"phone": "+31 6 1234 5678", "type": "CELL"}]}]},
     "Kontakt geteilt:\nJan de Vries +31 6 1234 5678"),
    ({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "termin_ok", "title": "Termin passt"}}}, "Termin passt"),
    ({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "slot_2", "title": "Dienstag", "description": "10-12 Uhr"}}}, "Dienstag – 10-12 Uhr"),
    ({"type": "button", "button": {"payload": "PAID_RE-1000", "text": "Schon bezahlt"}}, "Schon bezahlt"),
    ({"type": "order", "order": {"catalog_id": "1", "product_items": []}}, "vom Typ „order“ – nicht unterstützt"),
    ({"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]}, "nicht unterstützt"),
])  # fmt: skip
def test_every_message_type_is_shown(post, message, expected):
    post(envelope(inbound({"id": "wamid.K", **message})))

    assert expected in Message.objects.get().text


def test_a_reply_with_context_joins_the_thread_of_the_message_replied_to(post, brand_a):
    post(envelope(inbound({"id": "wamid.FIRST", "type": "text", "text": {"body": "eins"}})))
    first = Conversation.objects.get()
    Conversation.objects.update(channel="whatsapp")
    # the customer now writes from another number (a second phone), quoting our thread
    post(envelope(inbound({"id": "wamid.REPLY", "type": "text", "text": {"body": "zu eins"},
                           "context": {"from": "31612345679", "id": "wamid.FIRST"}}, wa_id="4917699999999")))  # fmt: skip

    reply = Message.objects.get(provider_id="wamid.REPLY")
    assert reply.conversation == first
    assert reply.in_reply_to == "wamid.FIRST"


def test_reactions_edits_and_revokes_are_threaded_to_their_message(post):
    post(envelope(inbound({"id": "wamid.O", "type": "text", "text": {"body": "Original"}})))
    post(
        envelope(
            inbound(
                {
                    "id": "wamid.RE",
                    "type": "reaction",
                    "reaction": {"message_id": "wamid.O", "emoji": "👍"},
                }
            )
        )
    )
    post(envelope(inbound({"id": "wamid.ED", "type": "edit", "edit": {"original_message_id": "wamid.O",
         "message": {"type": "text", "text": {"body": "Original, korrigiert"}}}})))  # fmt: skip
    post(
        envelope(
            inbound(
                {"id": "wamid.RV", "type": "revoke", "revoke": {"original_message_id": "wamid.O"}}
            )
        )
    )

    texts = dict(Message.objects.values_list("provider_id", "text"))
    assert texts["wamid.RE"] == "Reaktion: 👍"
    assert texts["wamid.ED"] == "Bearbeitet: Original, korrigiert"
    assert texts["wamid.RV"] == "Der Absender hat eine Nachricht gelöscht."
    assert set(
        Message.objects.exclude(provider_id="wamid.O").values_list("in_reply_to", flat=True)
    ) == {"wamid.O"}
    assert Conversation.objects.count() == 1


# --- statuses ---------------------------------------------------------------------------------


@pytest.fixture
def sent_reply(number, customer, agent_a, brand_a):
    from conversations.ingest import ingest_message

    result = ingest_message(
        brand=brand_a, channel="whatsapp", sender_address="+" + CUSTOMER_WA,
        provider_id="wamid.IN", text="Hallo", occurred_at=timezone.now() - dt.timedelta(hours=1),
    )  # fmt: skip
    from conversations.whatsapp import queue_whatsapp_reply

    message = queue_whatsapp_reply(conversation=result.conversation, author=agent_a, text="Gern!")
    row = OutboundMessage.objects.get(message=message)
    OutboundMessage.objects.filter(pk=row.pk).update(status="sent", provider_id="wamid.OUT")
    Message.objects.filter(pk=message.pk).update(status="sent", provider_id="wamid.OUT")
    return message


def test_statuses_out_of_order_and_twice_only_move_forward_and_record_once(post, sent_reply):
    post(envelope(status("wamid.OUT", "read", timestamp="1795604600")))
    post(envelope(status("wamid.OUT", "delivered", timestamp="1795604500")))
    post(
        envelope(
            status("wamid.OUT", "read", timestamp="1795604600"),
            status("wamid.OUT", "delivered", timestamp="1795604501"),
        )
    )

    sent_reply.refresh_from_db()
    assert sent_reply.status == "read"
    changes = list(StatusChange.objects.filter(message=sent_reply).values_list("status", flat=True))
    assert sorted(changes) == ["delivered", "queued", "read"]


def test_a_failed_status_shows_the_german_reason_in_the_thread(post, client, agent_a, sent_reply):
    post(envelope(status("wamid.OUT", "failed", errors=[{
        "code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
        "error_data": {"details": "Message failed to send because more than 24 hours have passed."}}])))  # fmt: skip

    sent_reply.refresh_from_db()
    assert sent_reply.status == "failed"
    row = OutboundMessage.objects.get(message=sent_reply)
    assert row.status == "failed"
    client.force_login(agent_a)
    page = client.get(
        f"/konversationen/{sent_reply.conversation_id}/",
        headers={"HX-Request": "true", "HX-Target": "detail"},
    )
    assert "Außerhalb des 24-Stunden-Fensters: nur eine freigegebene Vorlage möglich" in page.text


# --- never a 500 ---------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
KEYS = st.sampled_from(
    [
        "object",
        "entry",
        "changes",
        "value",
        "messages",
        "statuses",
        "id",
        "type",
        "from",
        "text",
        "context",
        "timestamp",
        "errors",
        "metadata",
    ]
)
SHAPED = st.recursive(
    st.none()
    | st.integers()
    | st.text(max_size=10)
    | st.just("whatsapp_business_account")
    | st.just("text"),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=30,
)


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=JSON
    | SHAPED
    | SHAPED.map(
        lambda v: {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": v}]}]}
    )
)
def test_arbitrary_json_never_answers_500(post, payload):
    response = post(payload)

    assert response.status_code in (200, 400)
    # and the task after the commit finished too (a crash would leave it "received")
    assert not WebhookDelivery.objects.filter(state="received").exists()


def test_a_read_receipt_shows_as_read_in_the_thread(post, client, agent_a, sent_reply):
    post(envelope(status("wamid.OUT", "delivered", timestamp="1795604500")))
    post(envelope(status("wamid.OUT", "read", timestamp="1795604600")))
    post(envelope(status("wamid.OUT", "sent", timestamp="1795604400")))  # late: no way back

    sent_reply.refresh_from_db()
    assert sent_reply.status == "read"
    client.force_login(agent_a)
    url = f"/konversationen/{sent_reply.conversation_id}/"
    page = client.get(url, headers={"HX-Request": "true", "HX-Target": "detail"})
    assert '<span class="msg-status st-read">gelesen</span>' in page.text
    page = client.get(
        url, headers={"HX-Request": "true", "HX-Target": "detail", "Accept-Language": "nl"}
    )
    assert '<span class="msg-status st-read">gelezen</span>' in page.text
