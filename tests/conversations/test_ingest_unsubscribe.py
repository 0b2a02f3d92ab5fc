"""A customer answers our List-Unsubscribe mailto: the token acts, the mail is filed away."""

from __future__ import annotations

import pytest

from compliance.models import ChannelPreference, Consent
from compliance.services import Actor, unsubscribe_token, update_preferences
from conversations.ingest import ingest_raw_email, ingest_raw_emails
from tests.conftest import NOW
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW)]


def unsubscribe_mail(brand, subject: str) -> bytes:
    return (
        f"From: kunde@example.de\r\nTo: {brand.noreply_email}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash(subject))}@example.de>\r\n\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("path", ["single", "batch"])
def test_a_mailto_unsubscribe_withdraws_and_files_the_mail_away(brand_a, path):
    brand_a.noreply_email = "noreply@laderthuis.nl"
    brand_a.save()
    customer = CustomerFactory(brand=brand_a, email="kunde@example.de")
    update_preferences(  # the newsletter consent, given on the phone
        customer=customer,
        wanted={("email", "marketing"): True},
        actor=Actor(label="Telefon"),
        source=Consent.Source.PHONE,
    )
    token = unsubscribe_token(
        customer=customer, channel="email", category="marketing", address="kunde@example.de"
    )
    raw = unsubscribe_mail(brand_a, f"abbestellen {token}")

    if path == "single":
        result = ingest_raw_email(raw, brand=brand_a)
    else:
        [result] = list(ingest_raw_emails([(raw, "test")], brand=brand_a))

    assert result.outcome == "new"
    result.conversation.refresh_from_db()
    assert (result.conversation.status, result.conversation.unread) == ("archived", False)
    preference = ChannelPreference.objects.get(
        customer=customer, channel="email", category="marketing"
    )
    assert preference.allowed is False


def test_a_mail_to_noreply_without_a_valid_token_stays_for_a_person(brand_a):
    brand_a.noreply_email = "noreply@laderthuis.nl"
    brand_a.save()

    result = ingest_raw_email(unsubscribe_mail(brand_a, "abbestellen gefälscht"), brand=brand_a)

    result.conversation.refresh_from_db()
    assert (result.conversation.status, result.conversation.unread) == ("open", True)
