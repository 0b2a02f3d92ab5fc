"""A brand's push connection in the admin: the key file is checked, stored encrypted and
never shown again; blank keeps it."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from kommunikation.models import PushConnection
from tests.factories import UserFactory
from tests.kommunikation.push_helpers import PROJECT, service_account

pytestmark = pytest.mark.django_db
ADD = "/admin/kommunikation/pushconnection/add/"


@pytest.fixture
def key_file(httpserver):
    return json.dumps(service_account(httpserver))


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def test_the_key_file_is_stored_encrypted_and_never_shown_again(admin_client, brand_a, key_file):
    response = admin_client.post(
        ADD, {"brand": brand_a.pk, "service_account": key_file, "active": "on"}
    )

    assert response.status_code == 302
    saved = PushConnection.objects.get()
    assert saved.effective_project_id == PROJECT
    assert saved.service_account_info()["client_email"].startswith("push@")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM kommunikation_pushconnection WHERE id = %s", [saved.pk])
        row = " ".join(str(value) for value in cursor.fetchone())
    assert "PRIVATE KEY" not in row and "push@demo-proj" not in row
    page = admin_client.get(f"/admin/kommunikation/pushconnection/{saved.pk}/change/")
    assert page.status_code == 200 and "PRIVATE KEY" not in page.text

    admin_client.post(
        f"/admin/kommunikation/pushconnection/{saved.pk}/change/",
        {"brand": brand_a.pk, "service_account": "", "validate_only": "on", "active": "on"},
    )
    saved.refresh_from_db()
    assert saved.validate_only and saved.service_account_info() is not None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{kein json", "Kein gültiges JSON"),
        ('{"type": "authorized_user"}', "keine Schlüsseldatei eines Dienstkontos"),
        ('{"type": "service_account", "client_email": "a@b"}', "fehlt: private_key, token_uri"),
        (
            '{"type": "service_account", "client_email": "a@b", "token_uri": "https://t",'
            ' "private_key": "-----BEGIN PRIVATE KEY-----\\nabc\\n-----END PRIVATE KEY-----\\n"}',
            "nicht lesbar",
        ),
        ("", "Bitte die Schlüsseldatei einfügen."),
    ],
)
def test_a_key_file_that_cannot_sign_is_refused_with_the_reason(
    admin_client, brand_a, text, reason
):
    response = admin_client.post(ADD, {"brand": brand_a.pk, "service_account": text})

    assert response.status_code == 200
    assert reason in response.text
    assert not PushConnection.objects.exists()
