"""The event API: Standard Webhooks signatures, idempotency by source key, field errors."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from kommunikation.events.models import Event, EventSource
from kommunikation.events.openapi import openapi_document
from kommunikation.events.signatures import SignatureError, sign, verify
from tests.factories import ContactPointFactory, CustomerFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
URL = "/api/v1/events"


@pytest.fixture(autouse=True)
def _clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def shop(brand_a):
    return EventSource.objects.create(brand=brand_a, name="Shop", slug="shop")


def event_body(**overrides):
    return {
        "type": "order.created",
        "source_key": "order-1001",
        "occurred_at": "2026-03-02T08:55:00+01:00",
        "customer": {"number": "K-1"},
        "record": {"kind": "order", "id": 1001, "number": "A-1001", "status": "new"},
        "payload": {"order_number": "A-1001", "order_total": "119.00"},
    } | overrides


def post(client, body, *, source="shop", secret=None, at=None, msg_id="msg_1", url=URL, raw=None):
    """Post as a Standard Webhooks sender would: sign the exact bytes sent."""
    data = raw if raw is not None else json.dumps(body).encode()
    timestamp = int((at or NOW).timestamp())
    headers = {"HTTP_WEBHOOK_ID": msg_id, "HTTP_WEBHOOK_TIMESTAMP": str(timestamp)}
    if secret is None:
        secret = EventSource.objects.get(slug=source).secret
    if secret and not _utf8(data):
        headers["HTTP_WEBHOOK_SIGNATURE"] = "v1,bm90IFVURi04"  # no library signs such bytes
    elif secret:
        headers["HTTP_WEBHOOK_SIGNATURE"] = sign(
            secret=secret, msg_id=msg_id, timestamp=timestamp, body=data
        )
    return client.post(
        url, data=data, content_type="application/json", HTTP_X_EVENT_SOURCE=source, **headers
    )


def _utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


# --- signatures ---------------------------------------------------------------------------

VECTOR = {
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "timestamp": 1614265330,
    "body": b'{"test": 2432232314}',
    "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}


def test_the_standard_webhooks_test_vector_signs_and_verifies(time_machine):
    signature = sign(
        secret=VECTOR["secret"],
        msg_id=VECTOR["id"],
        timestamp=VECTOR["timestamp"],
        body=VECTOR["body"],
    )
    assert signature == VECTOR["signature"]
    time_machine.move_to(dt.datetime.fromtimestamp(VECTOR["timestamp"] + 60, tz=dt.UTC))
    headers = {
        "webhook-id": VECTOR["id"],
        "webhook-timestamp": str(VECTOR["timestamp"]),
        "webhook-signature": f"v1,bm90IGl0 {VECTOR['signature']}",  # the second one matches
    }
    assert verify(VECTOR["body"], headers, [("current", VECTOR["secret"])]) == "current"
    with pytest.raises(SignatureError):
        verify(VECTOR["body"] + b" ", headers, [("current", VECTOR["secret"])])


def test_a_signed_event_is_recorded_for_the_sources_brand(client, shop, brand_a):
    customer = CustomerFactory(brand=brand_a, number="K-1")
    response = post(client, event_body())
    assert response.status_code == 201, response.json()
    answer = response.json()["event"]
    event = Event.objects.get()
    assert answer["id"] == event.pk
    assert (event.brand, event.customer, event.source, event.source_key) == (
        brand_a,
        customer,
        "api:shop",
        "order-1001",
    )
    assert (event.record_id, event.record_number, event.record_status) == ("1001", "A-1001", "new")
    assert event.occurred_at == dt.datetime(2026, 3, 2, 7, 55, tzinfo=dt.UTC)
    assert answer["customer"] == {"id": customer.pk, "number": "K-1"}
    assert answer["warnings"] == []
    shop.refresh_from_db()
    assert shop.last_used_at == NOW


@pytest.mark.parametrize(
    "tamper",
    ["no signature", "wrong secret", "other body", "unknown source", "garbage", "ms timestamp"],
)
def test_it_refuses_what_the_source_did_not_sign(client, shop, tamper):
    body = event_body()
    if tamper == "no signature":
        response = post(client, body, secret="")
    elif tamper == "wrong secret":
        response = post(client, body, secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    elif tamper == "other body":
        data = json.dumps(body).encode()
        signature = sign(secret=shop.secret, msg_id="m", timestamp=int(NOW.timestamp()), body=data)
        response = client.post(
            URL,
            data=data.replace(b"119.00", b"1.19"),
            content_type="application/json",
            HTTP_X_EVENT_SOURCE="shop",
            HTTP_WEBHOOK_ID="m",
            HTTP_WEBHOOK_TIMESTAMP=str(int(NOW.timestamp())),
            HTTP_WEBHOOK_SIGNATURE=signature,
        )
    elif tamper == "unknown source":
        response = post(client, body, source="nobody", secret=shop.secret)
    elif tamper == "garbage":
        response = client.post(
            URL,
            data=b"{}",
            content_type="application/json",
            HTTP_X_EVENT_SOURCE="shop",
            HTTP_WEBHOOK_ID="m",
            HTTP_WEBHOOK_TIMESTAMP=str(int(NOW.timestamp())),
            HTTP_WEBHOOK_SIGNATURE="garbage",
        )
    else:
        response = client.post(
            URL,
            data=b"{}",
            content_type="application/json",
            HTTP_X_EVENT_SOURCE="shop",
            HTTP_WEBHOOK_ID="m",
            HTTP_WEBHOOK_TIMESTAMP=str(int(NOW.timestamp() * 1000)),
            HTTP_WEBHOOK_SIGNATURE=sign(
                secret=shop.secret, msg_id="m", timestamp=int(NOW.timestamp()), body=b"{}"
            ),
        )
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_signature"}
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("age", "status"),
    [
        (dt.timedelta(minutes=4, seconds=59), 201),
        (dt.timedelta(minutes=5, seconds=1), 401),
        (-dt.timedelta(minutes=5, seconds=1), 401),  # from the future
    ],
)
def test_the_replay_window_is_five_minutes(client, shop, age, status):
    response = post(client, event_body(), at=NOW - age)
    assert response.status_code == status


def test_a_replayed_request_within_the_window_is_the_same_event(client, shop, _clock):
    first = post(client, event_body())
    _clock.shift(dt.timedelta(minutes=2))
    again = post(client, event_body(), at=NOW)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["event"]["id"] == first.json()["event"]["id"]
    assert Event.objects.count() == 1


def test_both_secrets_are_accepted_during_a_rotation(client, shop):
    old = shop.secret
    new = shop.rotate()
    assert post(client, event_body(source_key="a"), secret=old).status_code == 201
    assert post(client, event_body(source_key="b"), secret=new).status_code == 201
    shop.refresh_from_db()
    assert shop.last_used_at == NOW and shop.previous_last_used_at == NOW
    shop.revoke_previous()
    assert post(client, event_body(source_key="c"), secret=old).status_code == 401
    assert post(client, event_body(source_key="c"), secret=new).status_code == 201


def test_a_deactivated_source_is_told_to_stop(client, shop):
    EventSource.objects.filter(pk=shop.pk).update(active=False)
    response = post(client, event_body())
    assert response.status_code == 410
    assert not Event.objects.exists()


# --- idempotency --------------------------------------------------------------------------


def test_the_same_source_key_with_the_same_body_answers_200_with_the_same_event(client, shop):
    first = post(client, event_body(), msg_id="msg_1")
    again = post(client, event_body(), msg_id="msg_2")  # a retry by the sender
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["event"] == first.json()["event"]
    assert Event.objects.count() == 1


def test_the_same_source_key_with_another_body_is_a_conflict(client, shop):
    first = post(client, event_body())
    other = post(client, event_body(payload={"order_number": "A-1001", "order_total": "1.00"}))
    assert other.status_code == 409
    assert other.json()["event"]["id"] == first.json()["event"]["id"]
    assert Event.objects.get().payload["order_total"] == "119.00"


# --- field errors and limits ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (event_body(type="order.exploded"), "type"),
        (event_body(type=None), "type"),
        (event_body(source_key=""), "source_key"),
        (event_body(occurred_at="gestern"), "occurred_at"),
        (event_body(occurred_at="2026-03-02T08:55:00"), "occurred_at"),
        (event_body(payload=["x"]), "payload"),
        (event_body(payload={"x": {"y": 1.5e400}}), "payload"),
        (event_body(customer={"email": "keine-adresse"}), "customer.email"),
        (event_body(customer={"id": 1}), "customer.id"),
        (event_body(record={"number": ["A"]}), "record.number"),
        (event_body(record={"number": "A" * 81}), "record.number"),
        (event_body(colour="blue"), "colour"),
        (
            event_body(type="order.status_changed", payload={"order_number": "A", "status": "x"}),
            "payload.status",
        ),
        ([1, 2], "body"),
    ],
)
def test_it_answers_400_with_the_fields_that_are_wrong(client, shop, body, field):
    response = post(client, body)
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "raw", [b"{", b"\xff\xfe\x00", b"NaN", b"[" * 5000 + b"]" * 5000, b"", b'{"a": 1e999}']
)
def test_garbage_gets_a_4xx_never_a_500(client, shop, raw):
    response = post(client, None, raw=raw)
    assert 400 <= response.status_code < 500
    assert not Event.objects.exists()


def test_an_oversize_body_is_refused_with_413(client, shop, settings):
    settings.EVENT_API_MAX_BYTES = 2000
    body = event_body(payload={"order_number": "A", "note": "x" * 2000})
    response = post(client, body)
    assert response.status_code == 413
    assert response.json() == {"error": "too_large", "limit": 2000}


def test_it_refuses_what_is_not_json(client, shop):
    response = client.post(URL, data="type=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_a_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


# --- customers and brands ----------------------------------------------------------------


def test_customers_are_found_by_external_id_number_email_or_phone(client, shop, brand_a):
    by_id = CustomerFactory(brand=brand_a, sevdesk_id="4242")
    by_number = CustomerFactory(brand=brand_a, number="K-7")
    by_email = ContactPointFactory(customer__brand=brand_a, value="Anna@Example.org").customer
    by_phone = ContactPointFactory(
        customer__brand=brand_a, channel="phone", value="+49 30 1234567"
    ).customer
    refs = [
        ({"external_id": "4242"}, by_id),
        ({"external_id": 99, "number": "K-7"}, by_number),
        ({"email": "anna@example.ORG"}, by_email),
        ({"phone": "030 1234567"}, by_phone),
    ]
    for i, (ref, customer) in enumerate(refs):
        response = post(client, event_body(source_key=f"k{i}", customer=ref))
        assert response.status_code == 201
        assert Event.objects.get(source_key=f"k{i}").customer == customer, ref


def test_an_unknown_customer_is_recorded_without_customer_and_said_so(client, shop):
    response = post(client, event_body(customer={"number": "K-404"}))
    assert response.status_code == 201
    assert response.json()["event"]["customer"] is None
    assert response.json()["event"]["warnings"] == ["customer_not_found"]
    event = Event.objects.get()
    assert (event.customer, event.customer_ref) == (None, {"number": "K-404"})


def test_a_source_of_brand_a_cannot_reach_brand_bs_customers(client, shop, brand_b):
    other = CustomerFactory(brand=brand_b, number="K-1", sevdesk_id="1")
    ContactPointFactory(customer=other, value="b@kunde.example")
    ref = {"external_id": "1", "number": "K-1", "email": "b@kunde.example"}
    response = post(client, event_body(customer=ref))
    assert response.status_code == 201
    event = Event.objects.get()
    assert event.brand == shop.brand
    assert event.customer is None


# --- batch --------------------------------------------------------------------------------


def test_a_batch_answers_per_event(client, shop):
    post(client, event_body(source_key="seen"))
    events = [
        event_body(source_key="new"),
        event_body(source_key="seen"),
        event_body(source_key="bad", type="nope"),
        event_body(source_key="seen", payload={"order_number": "changed"}),
    ]
    response = post(client, {"events": events}, url=f"{URL}/batch")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [(0, 201), (1, 200), (2, 400), (3, 409)]
    assert "type" in results[2]["errors"]
    assert set(Event.objects.values_list("source_key", flat=True)) == {"seen", "new"}


def test_a_batch_holds_up_to_500_events(client, shop, django_assert_max_num_queries):
    events = [event_body(source_key=f"imp-{i}", customer={}) for i in range(500)]
    with django_assert_max_num_queries(500 * 4 + 10):
        response = post(client, {"events": events}, url=f"{URL}/batch")
    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {201}
    assert Event.objects.count() == 500
    too_many = post(client, {"events": [*events, event_body()]}, url=f"{URL}/batch")
    assert too_many.status_code == 400 and "events" in too_many.json()["errors"]


# --- the contract ---------------------------------------------------------------------------


def test_the_openapi_document_is_valid_3_1_and_served(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    validate(document)
    assert set(document["paths"]) == {"/events", "/events/batch", "/devices", "/devices/retire"}


def test_the_documented_schema_accepts_what_the_api_accepts_and_refuses_the_rest():
    schemas = openapi_document()["components"]["schemas"]
    resolver_root = {"components": {"schemas": schemas}}

    def valid(instance, name):
        schema = {**schemas[name], "components": resolver_root["components"]}
        return OAS31Validator(schema).is_valid(instance)

    assert valid(event_body(), "EventIn")
    assert valid(event_body(type="custom.shop.cart_abandoned"), "EventIn")
    assert not valid(event_body(type="order.exploded"), "EventIn")
    assert not valid(event_body(colour="blue"), "EventIn")
    assert valid({"events": [event_body()]}, "BatchIn")


def test_the_answers_match_the_documented_schema(client, shop, brand_a):
    schemas = openapi_document()["components"]["schemas"]
    CustomerFactory(brand=brand_a, number="K-1")
    answers = [
        (post(client, event_body()), "EventAnswer"),
        (post(client, event_body(payload={})), "Conflict"),
        (post(client, event_body(type="x")), "FieldErrors"),
    ]
    for response, name in answers:
        schema = {**schemas[name], "components": {"schemas": schemas}}
        OAS31Validator(schema).validate(response.json())


# --- secrets at rest ------------------------------------------------------------------------


def test_secrets_are_stored_encrypted(shop):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM kommunikation_eventsource WHERE id = %s", [shop.pk])
        row = " ".join(str(value) for value in cursor.fetchone())
    assert shop.secret.startswith("whsec_")
    assert shop.secret not in row and shop.secret[6:] not in row


def test_a_rotated_secret_key_still_reads_the_secrets_through_its_fallback(client, shop, settings):
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-key" * 4, [old_key]
    assert post(client, event_body()).status_code == 201


def test_secrets_of_a_secret_key_that_is_gone_are_refused_not_a_500(client, shop, settings):
    secret = shop.secret
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-key" * 4, []
    assert post(client, event_body(), secret=secret).status_code == 401
    assert "nicht lesbar" in EventSource.objects.get().fingerprints()[0]


# --- whatever a signed caller sends, the answer is a 2xx or a 4xx -----------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
FIELD_VALUES = {
    "type": st.sampled_from(["order.created", "order.status_changed", "custom.x", "", "a.b"])
    | JSON_VALUES,
    "source_key": st.text(max_size=210) | JSON_VALUES,
    "occurred_at": st.sampled_from(["2026-03-02T08:55:00+01:00", "2026-03-02", "", "x"])
    | JSON_VALUES,
    "customer": st.dictionaries(
        st.sampled_from(["external_id", "number", "email", "phone", "x"]), JSON_VALUES
    )
    | JSON_VALUES,
    "record": st.dictionaries(st.sampled_from(["kind", "id", "number", "x"]), JSON_VALUES)
    | JSON_VALUES,
    "payload": st.dictionaries(st.sampled_from(["status", "order_number", "a"]), JSON_VALUES)
    | JSON_VALUES,
}
EVENTS = st.fixed_dictionaries({}, optional=FIELD_VALUES) | JSON_VALUES


@hypothesis_settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(item=EVENTS, batch=st.booleans())
def test_any_signed_json_gets_an_answer_never_a_500(client, shop, item, batch):
    if batch:
        response = post(client, {"events": [item, item]}, url=f"{URL}/batch")
        assert response.status_code in (200, 400)
        for result in response.json().get("results", []):
            assert result["status"] in (200, 201, 400, 409)
    else:
        response = post(client, item)
        assert response.status_code in (200, 201, 400, 409), response.json()
