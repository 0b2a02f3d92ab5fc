"""OAuth2 tokens for mailboxes against local token endpoints in Microsoft's and Google's
shapes: fetched, cached, fetched anew before expiry, and refusals said in plain German."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.core.management import call_command

from conversations.mail_oauth import MailAuthError, access_token, clear_token_cache
from conversations.models import Mailbox
from tests.conftest import NOW
from tests.conversations.oauth_servers import (
    CLIENT_ID,
    SECRET,
    TENANT,
    GoogleToken,
    google_service_account,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():  # Google's tokens (ms_login clears for Microsoft)
    clear_token_cache()
    yield
    clear_token_cache()


def microsoft_mailbox(brand, **kwargs) -> Mailbox:
    fields = {
        "brand": brand, "name": "Support M365", "address": "support@laderthuis.nl",
        "auth_mode": Mailbox.AuthMode.MICROSOFT, "oauth_tenant_id": TENANT,
        "oauth_client_id": CLIENT_ID, "oauth_client_secret": SECRET,
        "imap_host": "127.0.0.1", "imap_port": 9, "imap_ssl": False,
    }  # fmt: skip
    fields.update(kwargs)
    return Mailbox.objects.create(**fields)


@pytest.fixture
def google(httpserver):
    info, public_key = google_service_account(httpserver.url_for("/token"))
    endpoint = GoogleToken(public_key, users={"info@laderthuis.nl"})
    httpserver.expect_request("/token", method="POST").respond_with_handler(endpoint)
    endpoint.info = info
    return endpoint


def google_mailbox(brand, info, **kwargs) -> Mailbox:
    fields = {
        "brand": brand, "name": "Info Google", "address": "info@laderthuis.nl",
        "auth_mode": Mailbox.AuthMode.GOOGLE, "google_service_account": json.dumps(info),
        "imap_host": "127.0.0.1", "imap_port": 9, "imap_ssl": False,
    }  # fmt: skip
    fields.update(kwargs)
    return Mailbox.objects.create(**fields)


def test_a_microsoft_token_is_fetched_once_and_fetched_anew_before_it_expires(ms_login, brand_a):
    mailbox = microsoft_mailbox(brand_a)
    with time_machine.travel(NOW, tick=False):
        first = access_token(mailbox)
        again = access_token(mailbox)
    with time_machine.travel(NOW + dt.timedelta(minutes=50), tick=False):
        still = access_token(mailbox)
    # 3599 s lifetime, fetched anew with less than 5 minutes left
    with time_machine.travel(NOW + dt.timedelta(minutes=55), tick=False):
        renewed = access_token(mailbox)

    assert (
        first.access_token == again.access_token == still.access_token == ms_login.tokens_issued[0]
    )
    assert renewed.access_token == ms_login.tokens_issued[1]
    assert len(ms_login.token_requests) == 2
    request = ms_login.token_requests[0]
    assert request["grant_type"] == "client_credentials"
    assert request["scope"] == "https://outlook.office365.com/.default"
    assert (request["client_id"], request["client_secret"]) == (CLIENT_ID, SECRET)
    assert first.expires_at == NOW + dt.timedelta(seconds=3599)


def test_a_new_secret_is_used_at_once_not_the_token_of_the_old_one(ms_login, brand_a):
    mailbox = microsoft_mailbox(brand_a, oauth_client_secret="alt-und-falsch")
    with pytest.raises(MailAuthError):
        access_token(mailbox)
    mailbox.oauth_client_secret = SECRET
    assert access_token(mailbox).access_token == ms_login.tokens_issued[0]


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        (
            {"oauth_client_secret": "falsch"},
            "Der geheime Clientschlüssel ist falsch. In Entra ID unter „Zertifikate & Geheimnisse“",
        ),
        ({"oauth_client_id": "0000-unbekannt"}, "Microsoft kennt die Anwendung (Client-ID)"),
        ({"oauth_tenant_id": "contoso-falsch"}, "Microsoft findet den Mandanten (Tenant-ID) nicht"),
    ],
)
def test_a_refused_microsoft_token_is_explained_in_plain_words(ms_login, brand_a, fields, says):
    mailbox = microsoft_mailbox(brand_a, **fields)
    with pytest.raises(MailAuthError) as refused:
        access_token(mailbox)
    assert says in str(refused.value)
    code = {"oauth_client_secret": 7000215, "oauth_client_id": 700016}.get(
        next(iter(fields)), 90002
    )
    assert str(refused.value).endswith(f"[AADSTS{code}]")
    assert refused.value.code == f"AADSTS{code}"
    assert not refused.value.transient


def test_missing_admin_consent_is_explained(ms_login, brand_a):
    ms_login.consent = False
    with pytest.raises(MailAuthError) as refused:
        access_token(microsoft_mailbox(brand_a))
    assert "Administratorzustimmung fehlt" in str(refused.value)
    assert "IMAP.AccessAsApp und SMTP.SendAsApp" in str(refused.value)


def test_missing_fields_are_named_without_asking_microsoft(ms_login, brand_a):
    mailbox = microsoft_mailbox(brand_a, oauth_client_secret="", oauth_tenant_id="")
    with pytest.raises(MailAuthError, match="Es fehlt: Mandanten-ID, geheimer Clientschlüssel."):
        access_token(mailbox)
    assert ms_login.token_requests == []


def test_the_client_id_and_secret_may_come_from_the_environment(ms_login, brand_a, settings):
    settings.MAIL_OAUTH_MICROSOFT_CLIENT_ID = CLIENT_ID
    settings.MAIL_OAUTH_MICROSOFT_CLIENT_SECRET = SECRET
    mailbox = microsoft_mailbox(brand_a, oauth_client_id="", oauth_client_secret="")
    assert access_token(mailbox).access_token == ms_login.tokens_issued[0]


def test_an_unreachable_login_service_is_transient(brand_a, settings):
    settings.MAIL_OAUTH_MICROSOFT_LOGIN_URL = "https://127.0.0.1:9"
    with pytest.raises(MailAuthError, match="nicht erreichbar") as refused:
        access_token(microsoft_mailbox(brand_a))
    assert refused.value.transient


def test_a_google_token_impersonates_the_mailbox_and_is_cached(google, brand_a):
    mailbox = google_mailbox(brand_a, google.info)
    with time_machine.travel(NOW, tick=False):
        first = access_token(mailbox)
        again = access_token(mailbox)
    with time_machine.travel(NOW + dt.timedelta(minutes=56), tick=False):
        renewed = access_token(mailbox)

    assert first == again
    assert first.access_token == "ya29.google-1"
    assert renewed.access_token == "ya29.google-2"
    claims = google.claims[0]
    assert claims["sub"] == "info@laderthuis.nl"
    assert claims["scope"] == "https://mail.google.com/"
    assert claims["iss"] == "postfach@kundenkommunikation.iam.gserviceaccount.com"
    assert first.expires_at == NOW + dt.timedelta(seconds=3599)


def test_missing_domain_wide_delegation_is_explained(google, brand_a):
    google.delegated = False
    with pytest.raises(MailAuthError) as refused:
        access_token(google_mailbox(brand_a, google.info))
    assert "domänenweite Delegierung fehlt" in str(refused.value)
    assert "Client-ID 104857600000000000001" in str(refused.value)
    assert str(refused.value).endswith("[unauthorized_client]")


def test_an_unknown_google_user_is_explained(google, brand_a):
    mailbox = google_mailbox(brand_a, google.info, imap_user="niemand@laderthuis.nl")
    with pytest.raises(MailAuthError) as refused:
        access_token(mailbox)
    assert "Das Postfach niemand@laderthuis.nl gibt es in diesem Google Workspace nicht" in str(
        refused.value
    )


def test_the_fetch_command_says_why_a_mailbox_cannot_sign_in(ms_login, brand_a, capsys):
    mailbox = microsoft_mailbox(brand_a, oauth_client_secret="abgelaufen")

    call_command("fetch_mail")

    err = capsys.readouterr().err
    assert "Support M365: Fehler: Der geheime Clientschlüssel ist falsch." in err
    mailbox.refresh_from_db()
    assert mailbox.last_error.startswith("Der geheime Clientschlüssel ist falsch.")
    assert mailbox.last_error.endswith("[AADSTS7000215]")
