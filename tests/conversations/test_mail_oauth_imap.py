"""Mailboxes of Microsoft 365 / Google Workspace end to end: tokens from the local login
services, IMAP over XOAUTH2 against a real dovecot (oauth2 passdb asking a local
introspection endpoint), SMTP over XOAUTH2 against aiosmtpd, and the admin's
"Verbindung testen"."""

from __future__ import annotations

import itertools
import json
import re
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from conversations.imap import fetch_mailbox
from conversations.mail_oauth import clear_token_cache
from conversations.models import Conversation, Mailbox, Message, RawEmail
from kommunikation.dispatch import dispatch_batch
from kommunikation.models import OutboundMessage, OutboundStatus
from kommunikation.outbox import enqueue_outbound
from kommunikation.roles import ADMIN
from tests.conftest import NOW
from tests.conversations.imap_server import start_dovecot
from tests.conversations.oauth_servers import (
    CLIENT_ID,
    SECRET,
    TENANT,
    GoogleToken,
    google_service_account,
)
from tests.factories import CustomerFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW)]

USER = "support@laderthuis.nl"
SETUP_TOKEN = "test-setup-token"  # the tests' own access to put mail in place
_folders = itertools.count(1)


class Introspection:
    """Dovecot's oauth2 passdb asks here whether a token is active and whose it is."""

    def __init__(self) -> None:
        self.owner = lambda token: None  # token -> username, set per test
        self.seen: list[str] = []

    def __call__(self, request: Request) -> Response:
        token = parse_qs(request.get_data(as_text=True)).get("token", [""])[0]
        self.seen.append(token)
        user = USER if token == SETUP_TOKEN else self.owner(token)
        body = {"active": True, "username": user} if user else {"active": False}
        return Response(json.dumps(body), content_type="application/json")


@pytest.fixture(scope="session")
def introspection():
    server = HTTPServer(host="127.0.0.1", port=0)
    endpoint = Introspection()
    server.expect_request(re.compile(".*"), method="POST").respond_with_handler(endpoint)
    server.start()
    endpoint.url = server.url_for("/introspect")
    yield endpoint
    server.clear()
    server.stop()


@pytest.fixture(scope="session")
def oauth_imap(introspection):
    for server in start_dovecot(introspection_url=introspection.url):
        server.user, server.token = USER, SETUP_TOKEN
        yield server


@pytest.fixture
def folder(introspection):
    introspection.owner = lambda token: None
    introspection.seen.clear()
    return f"OAuth{next(_folders)}"


def mail(n: int) -> bytes:
    return (
        f"From: Jürgen Müller <kunde{n}@beispiel.de>\r\n"
        f"To: {USER}\r\n"
        f"Subject: Frage zur Wallbox {n}\r\n"
        f"Message-ID: <oauth-{n}@beispiel.de>\r\n"
        "Date: Fri, 20 Nov 2026 10:00:00 +0100\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"Guten Tag, Nachricht Nummer {n}.\r\n"
    ).encode()


def m365_mailbox(brand, server, folder, **kwargs) -> Mailbox:
    fields = {
        "brand": brand, "name": f"Support {folder}", "address": USER,
        "auth_mode": Mailbox.AuthMode.MICROSOFT, "oauth_tenant_id": TENANT,
        "oauth_client_id": CLIENT_ID, "oauth_client_secret": SECRET,
        "imap_host": server.host, "imap_port": server.port, "imap_ssl": False,
        "imap_folder": folder,
    }  # fmt: skip
    fields.update(kwargs)
    return Mailbox.objects.create(**fields)


def test_mail_fetched_through_xoauth2_ends_in_the_inbox(
    oauth_imap, introspection, folder, ms_login, brand_a
):
    introspection.owner = lambda token: USER if token in ms_login.tokens_issued else None
    oauth_imap.append(mail(1), folder)
    oauth_imap.append(mail(2), folder)
    mailbox = m365_mailbox(brand_a, oauth_imap, folder)

    first = fetch_mailbox(mailbox)
    second = fetch_mailbox(mailbox)

    assert (first.new, first.errors) == (2, [])
    assert (second.total, second.errors) == (0, [])
    mailbox.refresh_from_db()
    assert mailbox.last_error == ""
    assert mailbox.last_uid == 2
    # one token for both rounds, and it is what dovecot was shown
    assert len(ms_login.tokens_issued) == 1
    assert introspection.seen.count(ms_login.tokens_issued[0]) == 2
    assert RawEmail.objects.filter(mailbox=mailbox).count() == 2
    assert Conversation.objects.filter(mailbox=mailbox, brand=brand_a).count() == 2
    assert Message.objects.get(message_id="<oauth-2@beispiel.de>").sender_name == "Jürgen Müller"


def test_a_google_workspace_mailbox_is_fetched_as_the_impersonated_user(
    oauth_imap, introspection, folder, httpserver, brand_a
):
    clear_token_cache()
    info, public_key = google_service_account(httpserver.url_for("/token"))
    google = GoogleToken(public_key, users={USER})
    httpserver.expect_request("/token", method="POST").respond_with_handler(google)
    introspection.owner = lambda token: USER if token in google.tokens_issued else None
    oauth_imap.append(mail(3), folder)
    mailbox = Mailbox.objects.create(
        brand=brand_a, name="Google", address=USER, auth_mode=Mailbox.AuthMode.GOOGLE,
        google_service_account=json.dumps(info), imap_host=oauth_imap.host,
        imap_port=oauth_imap.port, imap_ssl=False, imap_folder=folder,
    )  # fmt: skip

    stats = fetch_mailbox(mailbox)

    assert (stats.new, stats.errors) == (1, [])
    assert google.claims[0]["sub"] == USER
    assert introspection.seen[-1] == "ya29.google-1"
    clear_token_cache()


def test_a_token_the_imap_server_refuses_is_explained(
    oauth_imap, introspection, folder, ms_login, brand_a
):
    oauth_imap.append(mail(4), folder)
    mailbox = m365_mailbox(brand_a, oauth_imap, folder)  # introspection knows no token

    stats = fetch_mailbox(mailbox)

    assert stats.new == 0
    mailbox.refresh_from_db()
    assert mailbox.last_error.startswith(
        f"Das Token wurde ausgestellt, aber Exchange Online lehnt die IMAP-Anmeldung als {USER} ab."
    )
    assert "New-ServicePrincipal" in mailbox.last_error
    assert "AUTHENTICATIONFAILED" in mailbox.last_error
    assert stats.errors == [mailbox.last_error]


# --- sending through the same account ---------------------------------------------------


@pytest.fixture
def reply(brand_a, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # the shared server: none
    brand_a.support_email = USER
    brand_a.save()
    customer = CustomerFactory(brand=brand_a, first_name="Anna", email="anna@kunde.example")

    def enqueue(key: str = "reply:1") -> OutboundMessage:
        return enqueue_outbound(
            brand=brand_a, customer=customer, channels="email", category="service",
            idempotency_key=key, source="reply", subject="Re: Frage zur Wallbox",
            text="Guten Tag Frau Anna,\ndie Wallbox kommt morgen.",
        )  # fmt: skip

    return enqueue


def sending_mailbox(brand, smtp, **kwargs) -> Mailbox:
    fields = {
        "brand": brand, "name": "Support M365", "address": USER,
        "auth_mode": Mailbox.AuthMode.MICROSOFT, "oauth_tenant_id": TENANT,
        "oauth_client_id": CLIENT_ID, "oauth_client_secret": SECRET,
        "smtp_send": True, "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
    }  # fmt: skip
    fields.update(kwargs)
    return Mailbox.objects.create(**fields)


def test_a_reply_goes_out_through_the_brands_account_with_its_token(
    ms_login, xoauth2_smtp, reply, brand_a
):
    xoauth2_smtp.accept = lambda user, token: user == USER and token in ms_login.tokens_issued
    sending_mailbox(brand_a, xoauth2_smtp)
    first, second = reply("reply:1"), reply("reply:2")

    dispatch_batch()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (OutboundStatus.SENT,) * 2
    assert len(xoauth2_smtp.messages) == 2
    user, token, rcpt, content = xoauth2_smtp.messages[0]
    assert (user, token, rcpt) == (USER, ms_login.tokens_issued[0], ["anna@kunde.example"])
    assert b"Subject: Re: Frage zur Wallbox" in content
    assert f"From: {brand_a.name} <{USER}>".encode() in content
    # one connection, one sign-in, one token for the batch
    assert len(xoauth2_smtp.attempts) == 1
    assert len(ms_login.tokens_issued) == 1


def test_a_refused_smtp_login_keeps_the_reply_for_later_and_tells_the_admin(
    ms_login, xoauth2_smtp, reply, brand_a
):
    mailbox = sending_mailbox(brand_a, xoauth2_smtp)  # the server accepts no token
    row, other = reply("reply:1"), reply("reply:2")

    dispatch_batch()

    row.refresh_from_db()
    other.refresh_from_db()
    assert (row.status, other.status) == (OutboundStatus.QUEUED,) * 2
    assert "Exchange Online lehnt die SMTP-Anmeldung" in row.last_error
    assert "Exchange Online lehnt die SMTP-Anmeldung" in other.last_error
    assert xoauth2_smtp.messages == []
    assert len(xoauth2_smtp.attempts) == 1  # one sign-in for the batch, not one per mail
    mailbox.refresh_from_db()
    assert "SMTP.SendAsApp" in mailbox.last_error
    assert "535 5.7.3 Authentication unsuccessful" in mailbox.last_error


# --- admin ------------------------------------------------------------------------------


@pytest.fixture
def admin_a(brand_a):
    return UserFactory(username="alex.admin", brands=[brand_a], roles=[ADMIN])


URL = "/admin/conversations/mailbox/"


def test_verbindung_testen_reports_token_and_logins(
    client, admin_a, oauth_imap, introspection, folder, ms_login, xoauth2_smtp, brand_a
):
    introspection.owner = lambda token: USER if token in ms_login.tokens_issued else None
    xoauth2_smtp.accept = lambda user, token: token in ms_login.tokens_issued
    oauth_imap.append(mail(5), folder)
    mailbox = m365_mailbox(
        brand_a, oauth_imap, folder, smtp_send=True, smtp_host="127.0.0.1",
        smtp_port=xoauth2_smtp.port, last_error="alt",
    )  # fmt: skip
    client.force_login(admin_a)

    response = client.post(
        URL, {"action": "test_connection", "_selected_action": [mailbox.pk]}, follow=True
    )

    assert response.status_code == 200
    [message] = [str(m) for m in response.context["messages"]]
    # an hour from now (the clock ticks from NOW: 12:59 or 13:00)
    assert re.search(r"Token: erhalten, gültig bis (12:59|13:00) Uhr\.", message)
    assert f"IMAP: angemeldet als {USER}, Ordner {folder} mit 1 Nachrichten." in message
    assert f"SMTP: angemeldet an 127.0.0.1 als {USER}." in message
    mailbox.refresh_from_db()
    assert mailbox.last_error == ""


def test_verbindung_testen_explains_a_bad_secret(client, admin_a, ms_login, brand_a):
    mailbox = Mailbox.objects.create(
        brand=brand_a, name="M365", address=USER, auth_mode=Mailbox.AuthMode.MICROSOFT,
        oauth_tenant_id=TENANT, oauth_client_id=CLIENT_ID, oauth_client_secret="falsch",
        imap_host="127.0.0.1",
    )  # fmt: skip
    client.force_login(admin_a)

    response = client.post(
        URL, {"action": "test_connection", "_selected_action": [mailbox.pk]}, follow=True
    )

    [message] = list(response.context["messages"])
    assert message.level_tag == "error"
    assert "Token: fehlgeschlagen. Der geheime Clientschlüssel ist falsch." in str(message)
    mailbox.refresh_from_db()
    assert "[AADSTS7000215]" in mailbox.last_error


def test_the_secrets_are_never_shown_again_and_kept_when_left_empty(client, admin_a, brand_a):
    mailbox = Mailbox.objects.create(
        brand=brand_a, name="M365", address=USER, auth_mode=Mailbox.AuthMode.MICROSOFT,
        oauth_tenant_id=TENANT, oauth_client_id=CLIENT_ID, oauth_client_secret=SECRET,
        imap_password="imap-geheim",
    )  # fmt: skip
    client.force_login(admin_a)
    page = client.get(f"{URL}{mailbox.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert SECRET not in html and "imap-geheim" not in html
    assert 'name="oauth_tenant_id"' in html and 'name="google_service_account"' in html

    form = {
        "brand": brand_a.pk, "name": "M365", "address": USER, "active": "on",
        "auth_mode": "microsoft", "imap_user": "", "imap_password": "", "oauth_tenant_id": TENANT,
        "oauth_client_id": CLIENT_ID, "oauth_client_secret": "", "google_service_account": "",
        "imap_host": "outlook.office365.com", "imap_port": 993, "imap_ssl": "on",
        "imap_folder": "INBOX", "smtp_host": "", "smtp_port": 587,
    }  # fmt: skip
    saved = client.post(f"{URL}{mailbox.pk}/change/", form)

    assert saved.status_code == 302
    mailbox.refresh_from_db()
    assert (mailbox.oauth_client_secret, mailbox.imap_password) == (SECRET, "imap-geheim")
    assert mailbox.imap_host == "outlook.office365.com"

    refused = client.post(
        f"{URL}{mailbox.pk}/change/", {**form, "google_service_account": '{"type": "user"}'}
    )
    assert refused.status_code == 200
    assert "Das ist kein Schlüssel eines Dienstkontos" in refused.content.decode()
