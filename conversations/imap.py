"""Fetching mail over IMAP (imap-tools) into the one ingestion service.

The server is only read: the folder is selected read-only and bodies are fetched
with BODY.PEEK, so nothing is deleted, moved or marked \\Seen. UIDVALIDITY and the
last UID are remembered per mailbox; if the server's UIDVALIDITY changes, every
message is fetched again and the dedupe in ``ingest_raw_emails`` drops the ones we
already have.
"""

from __future__ import annotations

import email
import email.message
import imaplib
import ipaddress
import logging
import ssl
from functools import cached_property

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from imap_tools import BaseMailBox, MailBox, MailBoxUnencrypted, MailMessage

from conversations.ingest import IngestContext, IngestStats, batched, ingest_raw_emails
from conversations.mail_oauth import MailAuthError, access_token, xoauth2_string
from conversations.models import Mailbox

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30
BATCH_SIZE = 20  # messages fetched per IMAP command


class RawMailMessage(MailMessage):
    """imap-tools keeps only a parsed copy; we need the bytes exactly as the server has
    them (and parse them ourselves, so imap-tools' own parse only happens on demand)."""

    def __init__(self, fetch_data: list) -> None:
        self.raw, self._raw_uid_data, self._raw_flag_data = self._get_message_data_parts(fetch_data)

    @cached_property
    def obj(self) -> email.message.Message:
        return email.message_from_bytes(self.raw)


class _XOAuth2:
    def xoauth2(self, username: str, access_token: str, initial_folder: str | None = "INBOX"):
        """imap-tools' xoauth2, but answering a failure challenge with an empty line.

        A server that refuses the token first sends a continuation with a JSON error
        (Google's spec, Dovecot); the client must answer it empty to get the final NO.
        imap-tools repeats the credentials instead."""
        auth = xoauth2_string(username, access_token)
        self.login_result = self.client.authenticate(
            "XOAUTH2", lambda challenge: "" if challenge else auth
        )
        if initial_folder is not None:
            self.folder.set(initial_folder)
        return self


class _SSLMailBox(_XOAuth2, MailBox):
    email_message_class = RawMailMessage


class _PlainMailBox(_XOAuth2, MailBoxUnencrypted):
    email_message_class = RawMailMessage


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def connect(mailbox: Mailbox) -> BaseMailBox:
    """Implicit TLS when ``imap_ssl``; otherwise STARTTLS whenever the server offers it.

    An OAuth2 token is fetched first: when the provider refuses it, no connection is made."""
    token = access_token(mailbox) if mailbox.uses_oauth else None
    if mailbox.imap_ssl:
        client: BaseMailBox = _SSLMailBox(
            mailbox.imap_host,
            mailbox.imap_port,
            timeout=TIMEOUT_SECONDS,
            ssl_context=ssl.create_default_context(),
        )
    else:
        client = _PlainMailBox(mailbox.imap_host, mailbox.imap_port, timeout=TIMEOUT_SECONDS)
        if "STARTTLS" in client.client.capabilities:
            client.client.starttls(ssl.create_default_context())
        elif mailbox.uses_oauth and not is_loopback(mailbox.imap_host):
            client.client.shutdown()
            raise MailAuthError(
                _("Der IMAP-Server bietet kein TLS an; ein Token geht nur verschlüsselt hinaus.")
            )
    if token is None:
        return client.login(mailbox.imap_user, mailbox.imap_password, initial_folder=None)
    try:
        return client.xoauth2(mailbox.login_user, token.access_token, initial_folder=None)
    except imaplib.IMAP4.error as exc:  # NO / BAD to AUTHENTICATE
        client.client.shutdown()
        raise MailAuthError(imap_refusal(mailbox, exc)) from exc


def imap_refusal(mailbox: Mailbox, exc: Exception) -> str:
    """Token issued, login refused: what is missing on the provider's side."""
    if mailbox.auth_mode == Mailbox.AuthMode.MICROSOFT:
        text = _(
            "Das Token wurde ausgestellt, aber Exchange Online lehnt die IMAP-Anmeldung als "
            "%(user)s ab. Meist fehlt einer dieser Schritte: die Anwendungsberechtigung "
            "IMAP.AccessAsApp mit Administratorzustimmung; der Dienstprinzipal in Exchange "
            "(New-ServicePrincipal mit der Objekt-ID der Unternehmensanwendung, nicht der "
            "App-Registrierung); Vollzugriff auf das Postfach (Add-MailboxPermission)."
        )
    else:
        text = _(
            "Das Token wurde ausgestellt, aber Gmail lehnt die IMAP-Anmeldung als %(user)s ab. "
            "Ist IMAP für dieses Postfach in der Admin-Konsole erlaubt?"
        )
    return f"{text % {'user': mailbox.login_user}} [{exc}]"


def fetch_mailbox(mailbox: Mailbox, *, context: IngestContext | None = None) -> IngestStats:
    """Ingest every message above the remembered UID. Never raises for server or network
    trouble: the error lands in ``mailbox.last_error`` (and ``stats.errors``)."""
    context = context or IngestContext()
    stats = IngestStats()
    try:
        with connect(mailbox) as client:
            client.folder.set(mailbox.imap_folder, readonly=True)
            _typ, data = client.client.response("UIDVALIDITY")
            uidvalidity = int(data[0]) if data and data[0] else None
            if uidvalidity != mailbox.uidvalidity:
                # new UIDs for everything: start over, the dedupe catches what we have
                mailbox.uidvalidity = uidvalidity
                mailbox.last_uid = 0
                mailbox.save(update_fields=["uidvalidity", "last_uid"])
            # "UID n:*" always matches the highest message, even below n: filter again
            uids = sorted(
                uid
                for uid in map(int, client.uids(f"UID {mailbox.last_uid + 1}:*", charset=None))
                if uid > mailbox.last_uid
            )
            if uids:
                messages = client.fetch(
                    uid_list=[str(uid) for uid in uids], mark_seen=False, bulk=BATCH_SIZE
                )
                for batch in batched(messages, size_of=lambda m: len(m.raw)):
                    items = [
                        (m.raw, f"imap:{mailbox.imap_folder}:{uidvalidity}:{m.uid}") for m in batch
                    ]
                    for result in ingest_raw_emails(
                        items, brand=mailbox.brand, mailbox=mailbox, context=context
                    ):
                        stats.add(result)
                    # after each batch, so a crash resumes with the next one
                    mailbox.last_uid = max(mailbox.last_uid, *(int(m.uid) for m in batch))
                    mailbox.save(update_fields=["last_uid"])
    except MailAuthError as exc:  # token or XOAUTH2 login: the admin must act, say what
        log.warning("IMAP login for mailbox %s failed: %s", mailbox.pk, exc)
        mailbox.last_error = str(exc)[:2000]
        mailbox.save(update_fields=["last_error"])
        stats.errors.append(mailbox.last_error)
        return stats
    except Exception as exc:  # network, TLS, login, server errors: report, don't stop others
        log.warning("IMAP fetch for mailbox %s failed: %s", mailbox.pk, exc)
        mailbox.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        mailbox.save(update_fields=["last_error"])
        stats.errors.append(mailbox.last_error)
        return stats
    mailbox.last_error = ""
    mailbox.last_fetched_at = timezone.now()
    mailbox.save(update_fields=["last_error", "last_fetched_at"])
    return stats


def fetch_all_mailboxes() -> list[tuple[Mailbox, IngestStats]]:
    """Every active mailbox with IMAP settings, one after the other."""
    context = IngestContext()
    mailboxes = (
        Mailbox.objects.filter(active=True)
        .exclude(imap_host="")
        # OAuth2 signs in as the address when no IMAP user is given
        .exclude(Q(imap_user=""), Q(auth_mode=Mailbox.AuthMode.PASSWORD) | Q(address=""))
        .select_related("brand")
        .order_by("pk")
    )
    return [(mailbox, fetch_mailbox(mailbox, context=context)) for mailbox in mailboxes]
