"""Push devices registered through the signed API (/api/v1/devices), as the app's backend does."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS31Validator

from kommunikation.events.devices import DEVICE_TOKEN
from kommunikation.events.models import EventSource
from kommunikation.events.openapi import openapi_document
from kommunikation.events.signatures import sign
from kommunikation.models import ContactPoint
from tests.conftest import NOW
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/devices"
TOKEN = "dGVzdC1kZXZpY2U:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx_f8"


@pytest.fixture(autouse=True)
def _clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def app_backend(brand_a):
    return EventSource.objects.create(brand=brand_a, name="Kunden-App", slug="app")


@pytest.fixture
def anna(brand_a):
    return CustomerFactory(brand=brand_a, number="K-1")


def post(client, body, *, url=URL, source="app", secret=None, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    timestamp = int(NOW.timestamp())
    secret = secret or EventSource.objects.get(slug=source).secret
    return client.post(
        url,
        data=data,
        content_type="application/json",
        HTTP_X_EVENT_SOURCE=source,
        HTTP_WEBHOOK_ID="msg_dev1",
        HTTP_WEBHOOK_TIMESTAMP=str(timestamp),
        HTTP_WEBHOOK_SIGNATURE=sign(
            secret=secret, msg_id="msg_dev1", timestamp=timestamp, body=data
        ),
    )


def test_a_signed_registration_makes_the_token_a_push_contact_point(client, app_backend, anna):
    response = post(client, {"customer": {"number": "K-1"}, "token": TOKEN})

    assert response.status_code == 201
    device = response.json()["device"]
    assert device["customer"] == {"id": anna.pk, "number": "K-1"} and device["active"]
    point = ContactPoint.objects.get(channel="push")
    assert point.customer == anna and point.value == TOKEN  # case kept: tokens are case-sensitive
    assert point.last_seen_at == NOW


def test_registering_again_refreshes_the_device_and_revives_a_retired_token(
    client, app_backend, anna, time_machine
):
    post(client, {"customer": {"number": "K-1"}, "token": TOKEN})
    ContactPoint.objects.filter(channel="push").update(bouncing=True)

    response = post(client, {"customer": {"number": "K-1"}, "token": TOKEN})

    assert response.status_code == 200
    point = ContactPoint.objects.get(channel="push")
    assert not point.bouncing and point.last_seen_at == NOW


def test_a_token_moves_to_the_customer_who_logged_in_on_that_phone(
    client, app_backend, anna, brand_a
):
    bert = CustomerFactory(brand=brand_a, number="K-2")
    post(client, {"customer": {"number": "K-1"}, "token": TOKEN})

    assert post(client, {"customer": {"number": "K-2"}, "token": TOKEN}).status_code == 201

    assert list(ContactPoint.objects.filter(channel="push").values_list("customer", flat=True)) == [
        bert.pk
    ]


def test_an_unknown_customer_is_refused_with_422(client, app_backend):
    response = post(client, {"customer": {"number": "K-404"}, "token": TOKEN})

    assert response.status_code == 422
    assert response.json() == {"error": "customer_not_found"}
    assert not ContactPoint.objects.filter(channel="push").exists()


def test_a_source_of_brand_a_cannot_register_devices_for_brand_b(client, app_backend, brand_b):
    CustomerFactory(brand=brand_b, number="K-1")

    assert post(client, {"customer": {"number": "K-1"}, "token": TOKEN}).status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer": {"number": "K-1"}}, "token"),
        ({"customer": {"number": "K-1"}, "token": "kurz"}, "token"),
        ({"customer": {"number": "K-1"}, "token": "mit leerzeichen und so weiter"}, "token"),
        ({"token": TOKEN}, "customer"),
        ({"customer": {}, "token": TOKEN}, "customer"),
        ({"customer": {"number": "K-1", "x": 1}, "token": TOKEN}, "customer.x"),
        ({"customer": {"number": "K-1"}, "token": TOKEN, "platform": "ios"}, "platform"),
    ],
)
def test_it_answers_400_with_the_fields_that_are_wrong(client, app_backend, anna, body, field):
    response = post(client, body)

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_an_unsigned_registration_is_refused(client, app_backend, anna):
    response = client.post(
        URL, data=json.dumps({"customer": {"number": "K-1"}, "token": TOKEN}),
        content_type="application/json", HTTP_X_EVENT_SOURCE="app",
    )  # fmt: skip

    assert response.status_code == 401
    assert not ContactPoint.objects.filter(channel="push").exists()


def test_the_app_retires_a_token_at_logout(client, app_backend, anna):
    post(client, {"customer": {"number": "K-1"}, "token": TOKEN})

    response = post(client, {"token": TOKEN}, url=f"{URL}/retire")

    assert response.status_code == 200 and response.json() == {"retired": 1}
    assert ContactPoint.objects.get(channel="push").bouncing
    assert post(client, {"token": TOKEN}, url=f"{URL}/retire").json() == {"retired": 0}


def test_the_answers_match_the_documented_schema(client, app_backend, anna):
    schemas = openapi_document()["components"]["schemas"]

    def check(instance, name):
        OAS31Validator({**schemas[name], "components": {"schemas": schemas}}).validate(instance)

    check({"customer": {"number": "K-1"}, "token": TOKEN}, "DeviceIn")
    check(post(client, {"customer": {"number": "K-1"}, "token": TOKEN}).json(), "DeviceAnswer")
    check(post(client, {"token": TOKEN}, url=f"{URL}/retire").json(), "DeviceRetireAnswer")
    check(post(client, {"token": "x"}, url=f"{URL}/retire").json(), "FieldErrors")
    check(post(client, {"customer": {"number": "K-9"}, "token": TOKEN}).json(), "Error")
    device_in = {**schemas["DeviceIn"], "components": {"schemas": schemas}}
    assert not OAS31Validator(device_in).is_valid({"customer": {"number": "K-1"}, "token": "x"})
    assert not OAS31Validator(device_in).is_valid({"token": TOKEN})


def test_the_documented_token_pattern_is_the_one_checked():
    schema = openapi_document()["components"]["schemas"]["DeviceIn"]["properties"]["token"]
    assert schema["pattern"] == DEVICE_TOKEN.pattern


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=12,
)


@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "customer": st.dictionaries(st.sampled_from(["number", "email", "phone", "x"]), JSON)
            | JSON,
            "token": st.sampled_from([TOKEN, "", "x"]) | JSON,
        },
    )
    | JSON,
    retire=st.booleans(),
)
def test_any_signed_json_gets_an_answer_never_a_500(client, app_backend, anna, body, retire):
    response = post(client, body, url=f"{URL}/retire" if retire else URL)
    assert response.status_code in (200, 201, 400, 422)


def test_the_customer_page_lists_a_device_without_an_edit_form(client, app_backend, anna):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    post(client, {"customer": {"number": "K-1"}, "token": TOKEN})
    point = ContactPoint.objects.get(channel="push")
    client.force_login(get_user_model().objects.create_superuser("chefin", "c@example.org", "x"))

    page = client.get(reverse("customer", args=[anna.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert TOKEN in html
    change = reverse("customer_contact_change", args=[anna.pk, point.pk])
    assert f'action="{change}"' not in html  # removing it stays possible
