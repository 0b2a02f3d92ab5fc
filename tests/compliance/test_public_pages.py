"""Preference page, one-click unsubscribe and double opt-in: no login, signed links."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client

from compliance import services
from compliance.models import AuditEntry, ChannelPreference, Consent
from compliance.services import Actor, record_consent

STAFF = Actor(label="Test")


def grant(customer, purpose="marketing", channel="email"):
    return record_consent(
        customer=customer, purpose=purpose, channel=channel, state=Consent.State.GRANTED,
        source=Consent.Source.IMPORT, actor=STAFF,
    )  # fmt: skip


def current(customer, purpose="marketing", channel="email"):
    return Consent.objects.current(customer=customer, purpose=purpose, channel=channel)


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def path_of(url: str) -> str:
    return urlsplit(url).path


# --- preference page ---------------------------------------------------------------------


def test_the_preference_page_opens_without_login(client, customer):
    response = client.get(path_of(services.preference_url(customer)))
    assert response.status_code == 200
    assert "Welche Nachrichten möchten Sie erhalten?" in response.content.decode()


def test_a_tampered_preference_token_gets_a_clear_400(client, customer):
    token = services.preference_token(customer)
    response = client.get(f"/praeferenzen/{token[:-2]}xx/")
    assert response.status_code == 400
    assert "ungültig" in response.content.decode()


def test_an_expired_preference_token_gets_a_clear_400(client, customer, settings):
    token = services.preference_token(customer)
    settings.COMPLIANCE_LINK_DAYS = -1
    response = client.get(f"/praeferenzen/{token}/")
    assert response.status_code == 400
    assert "abgelaufen" in response.content.decode()


def test_a_token_for_another_purpose_is_refused(client, customer):
    token = services.unsubscribe_token(
        customer=customer, channel="email", category="marketing", address="a@b.example"
    )
    assert client.get(f"/praeferenzen/{token}/").status_code == 400


def test_saving_preferences_records_consent_preferences_and_audit(client, customer):
    url = path_of(services.preference_url(customer))
    response = client.post(url, {"email__marketing": "on", "email__service": "on"},
                           REMOTE_ADDR="203.0.113.7")  # fmt: skip
    assert response.status_code == 200
    assert "gespeichert" in response.content.decode()
    consent = current(customer)
    assert consent.state == Consent.State.GRANTED
    assert consent.source == Consent.Source.PREFERENCE_PAGE
    assert consent.ip_address == "203.0.113.7"
    assert consent.wording
    assert (
        ChannelPreference.objects.get(customer=customer, channel="sms", category="service").allowed
        is False
    )
    entry = AuditEntry.objects.filter(customer_id=customer.pk, action="consent.granted").get()
    assert entry.actor_label == services.CUSTOMER_SELF


# --- one-click unsubscribe -------------------------------------------------------------


def unsubscribe_path(customer):
    return path_of(services.unsubscribe_url(
        customer=customer, channel="email", category="marketing", address="anna@kunde.example"
    ))  # fmt: skip


def test_one_click_post_unsubscribes_without_login_or_csrf(csrf_client, customer):
    grant(customer)
    response = csrf_client.post(unsubscribe_path(customer), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert current(customer).state == Consent.State.WITHDRAWN
    assert current(customer).source == Consent.Source.UNSUBSCRIBE
    assert (
        ChannelPreference.objects.get(
            customer=customer, channel="email", category="marketing"
        ).allowed
        is False
    )
    assert (
        AuditEntry.objects.filter(customer_id=customer.pk, action="consent.withdrawn").count() == 1
    )


def test_a_second_one_click_post_changes_nothing(csrf_client, customer):
    grant(customer)
    csrf_client.post(unsubscribe_path(customer))
    count = AuditEntry.objects.count()
    assert csrf_client.post(unsubscribe_path(customer)).status_code == 200
    assert AuditEntry.objects.count() == count


def test_get_only_shows_a_button_and_never_unsubscribes(client, customer):
    grant(customer)
    response = client.get(unsubscribe_path(customer))
    assert response.status_code == 200
    assert 'method="post"' in response.content.decode()
    assert current(customer).state == Consent.State.GRANTED


def test_a_tampered_unsubscribe_token_is_400_and_changes_nothing(csrf_client, customer):
    grant(customer)
    response = csrf_client.post(
        unsubscribe_path(customer).replace("/abbestellen/", "/abbestellen/x")
    )
    assert response.status_code == 400
    assert current(customer).state == Consent.State.GRANTED


def test_other_public_pages_still_require_csrf(csrf_client, customer):
    response = csrf_client.post(path_of(services.preference_url(customer)), {})
    assert response.status_code == 403


# --- double opt-in ---------------------------------------------------------------------


def test_double_opt_in_grants_only_after_confirmation(csrf_client, client, customer):
    pending, url = services.request_double_opt_in(
        customer=customer, purpose="marketing", address="anna@kunde.example",
        wording="Ja, ich möchte den Newsletter.", wording_version="2026-01", ip_address="198.51.100.1",
    )  # fmt: skip
    assert current(customer).state == Consent.State.PENDING
    assert client.get(path_of(url)).status_code == 200
    assert current(customer).state == Consent.State.PENDING  # GET does not confirm
    response = client.post(path_of(url), REMOTE_ADDR="198.51.100.2")
    assert response.status_code == 200
    granted = current(customer)
    assert granted.state == Consent.State.GRANTED
    assert granted.source == Consent.Source.DOUBLE_OPT_IN
    assert granted.wording == "Ja, ich möchte den Newsletter."
    assert granted.ip_address == "198.51.100.2"
    client.post(path_of(url))  # twice: nothing new
    assert Consent.objects.filter(customer=customer).count() == 2


def test_an_expired_confirmation_link_is_400(client, customer, settings):
    _pending, url = services.request_double_opt_in(
        customer=customer, purpose="marketing", address="anna@kunde.example",
        wording="x", wording_version="1", ip_address=None,
    )  # fmt: skip
    settings.COMPLIANCE_DOUBLE_OPT_IN_DAYS = -1
    assert client.post(path_of(url)).status_code == 400
    assert current(customer).state == Consent.State.PENDING


def test_a_forged_confirmation_link_is_400(client):
    forged = signing.TimestampSigner(salt="other").sign("1")
    assert client.get(f"/einwilligung/bestaetigen/{forged}/").status_code == 400
