"""A brand's letter settings: the admin never shows a secret again, the environment wins."""

from __future__ import annotations

import pytest

from kommunikation.letters.connection import letter_config
from kommunikation.letters.models import LetterConnection
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FORM = {
    "mode": "pingen", "api_url": "https://api-staging.pingen.com",
    "identity_url": "https://identity-staging.pingen.com", "client_id": "client-1",
    "organisation_id": "org-1", "auto_send": "on", "delivery_product": "cheap",
    "print_mode": "simplex", "print_spectrum": "grayscale", "address_position": "left",
}  # fmt: skip


def test_the_admin_never_shows_the_secrets_again_and_blank_keeps_them(client, brand_a):
    client.force_login(UserFactory(username="root", is_superuser=True))
    response = client.post(
        "/admin/kommunikation/letterconnection/add/",
        {**FORM, "brand": brand_a.pk, "client_secret": "geheim-0123456789",
         "webhook_secret": "signatur-0123456789"},
    )  # fmt: skip
    assert response.status_code == 302
    saved = LetterConnection.objects.get()
    page = client.get(f"/admin/kommunikation/letterconnection/{saved.pk}/change/")
    assert page.status_code == 200
    assert "geheim-0123456789" not in page.text and "signatur-0123456789" not in page.text

    client.post(
        f"/admin/kommunikation/letterconnection/{saved.pk}/change/",
        {**FORM, "brand": brand_a.pk, "client_secret": "", "webhook_secret": "",
         "delivery_product": "fast"},
    )  # fmt: skip
    saved.refresh_from_db()
    assert (saved.client_secret, saved.webhook_secret) == (
        "geheim-0123456789",
        "signatur-0123456789",
    )
    assert saved.delivery_product == "fast"


def test_without_a_connection_the_environment_decides(brand_a, settings):
    settings.LETTER_MODE = "selfprint"
    assert letter_config(brand_a).mode == "selfprint"
    settings.LETTER_MODE = "pingen"
    settings.PINGEN_CLIENT_ID, settings.PINGEN_CLIENT_SECRET = "env-client", "env-secret"
    config = letter_config(brand_a)
    assert (config.mode, config.client_id, config.client_secret) == (
        "pingen", "env-client", "env-secret"
    )  # fmt: skip


def test_environment_credentials_win_over_stored_ones_for_their_brand(brand_a, brand_b, settings):
    for brand in (brand_a, brand_b):
        LetterConnection.objects.create(
            brand=brand, mode="pingen", client_id="stored", client_secret="stored-secret",
            delivery_product="registered",
        )  # fmt: skip
    settings.PINGEN_CLIENT_ID, settings.PINGEN_CLIENT_SECRET = "env-client", "env-secret"
    settings.PINGEN_BRAND = brand_a.slug
    a, b = letter_config(brand_a), letter_config(brand_b)
    assert (a.client_id, a.delivery_product) == ("env-client", "registered")
    assert b.client_id == "stored"
