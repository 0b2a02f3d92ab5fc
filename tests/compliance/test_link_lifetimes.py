"""How long signed links work: unsubscribe for as long as the mail exists, preferences a year."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from compliance import services
from compliance.models import AuditEntry, ChannelPreference, Consent
from compliance.services import Actor, record_consent

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=BERLIN)
THREE_YEARS_AGO = NOW - dt.timedelta(days=3 * 365 + 1)


def path_of(url: str) -> str:
    return urlsplit(url).path


def current(customer):
    return Consent.objects.current(customer=customer, purpose="marketing", channel="email")


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def old_mail_link(customer, clock):
    """The unsubscribe link of a marketing mail sent three years ago, consent granted then."""
    clock.move_to(THREE_YEARS_AGO)
    record_consent(
        customer=customer, purpose="marketing", channel="email", state=Consent.State.GRANTED,
        source=Consent.Source.IMPORT, actor=Actor(label="Test"),
    )  # fmt: skip
    url = services.unsubscribe_url(
        customer=customer, channel="email", category="marketing", address="anna@kunde.example"
    )
    clock.move_to(NOW)
    return path_of(url)


def test_a_three_year_old_unsubscribe_link_still_shows_its_page(client, customer, old_mail_link):
    response = client.get(old_mail_link)

    assert response.status_code == 200
    assert 'method="post"' in response.content.decode()
    assert current(customer).state == Consent.State.GRANTED  # a GET never unsubscribes


def test_a_three_year_old_one_click_post_unsubscribes_and_is_recorded(customer, old_mail_link):
    client = Client(enforce_csrf_checks=True)  # mailbox providers send no cookies

    response = client.post(old_mail_link, {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    consent = current(customer)
    assert consent.state == Consent.State.WITHDRAWN
    assert consent.source == Consent.Source.UNSUBSCRIBE
    assert consent.recorded_at == NOW
    preference = ChannelPreference.objects.get(
        customer=customer, channel="email", category="marketing"
    )
    assert preference.allowed is False
    entry = AuditEntry.objects.get(customer_id=customer.pk, action="consent.withdrawn")
    assert entry.actor_label == services.CUSTOMER_SELF


def test_a_three_year_old_mailto_unsubscribe_still_works(customer, old_mail_link, clock):
    clock.move_to(THREE_YEARS_AGO)
    mailto = services.unsubscribe_mailto(
        mailbox="abmelden@laderthuis.nl", customer=customer, channel="email",
        category="marketing", address="anna@kunde.example",
    )  # fmt: skip
    clock.move_to(NOW)
    subject = mailto.split("subject=", 1)[1].replace("%20", " ")

    assert services.unsubscribe_by_mail(subject) is True
    assert current(customer).state == Consent.State.WITHDRAWN


@pytest.mark.parametrize("tamper", [
    lambda token: token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
    lambda token: "x" + token,
    lambda token: token.split(":")[0],
])  # fmt: skip
def test_a_tampered_unsubscribe_token_is_400_with_a_reason(customer, old_mail_link, tamper):
    token = old_mail_link.rstrip("/").rsplit("/", 1)[1]
    client = Client(enforce_csrf_checks=True)

    response = client.post(f"/abbestellen/{tamper(token)}/", {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 400
    assert "ungültig" in response.content.decode()
    assert current(customer).state == Consent.State.GRANTED


def test_a_preference_link_older_than_its_max_age_is_refused_in_german(
    client, customer, clock, settings
):
    settings.COMPLIANCE_LINK_DAYS = 365
    clock.move_to(NOW - dt.timedelta(days=366))
    url = path_of(services.preference_url(customer))
    clock.move_to(NOW)

    response = client.get(url)
    saved = client.post(url, {"email__marketing": "on"})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Dieser Link zu Ihren Einstellungen ist abgelaufen: er gilt 365 Tage." in page
    assert "neueren Nachricht" in page
    assert saved.status_code == 400
    assert not ChannelPreference.objects.filter(customer=customer).exists()


def test_a_preference_link_within_its_max_age_still_opens(client, customer, clock, settings):
    settings.COMPLIANCE_LINK_DAYS = 365
    clock.move_to(NOW - dt.timedelta(days=364))
    url = path_of(services.preference_url(customer))
    clock.move_to(NOW)

    assert client.get(url).status_code == 200
