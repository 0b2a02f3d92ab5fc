"""Sending through a brand's own mailbox account: SMTP with XOAUTH2 (Microsoft 365,
Google Workspace) or the mailbox's password, and the admin's "Verbindung testen".

``MailboxSMTPBackend`` is Django's SMTP backend with its own login: Django only knows
``login()``, so it connects without credentials and then signs in here. smtplib's
``auth()`` does not send EHLO itself and counts a ``503 send EHLO first`` as success, so
EHLO comes first and only 235 counts.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _

from conversations.imap import connect, is_loopback
from conversations.mail_oauth import MailAuthError, access_token, xoauth2_string
from conversations.models import Mailbox


class MailboxSMTPBackend(EmailBackend):
    def __init__(self, mailbox: Mailbox, **kwargs) -> None:
        self.mailbox = mailbox
        super().__init__(
            host=mailbox.effective_smtp_host,
            port=mailbox.smtp_port,
            username="",  # no login() by Django: open() signs in
            password="",
            use_tls=False,
            use_ssl=mailbox.smtp_port == 465,
            fail_silently=False,
            **kwargs,
        )

    def open(self) -> bool | None:
        if self.connection:
            return False
        opened = super().open()
        try:
            self._sign_in(self.connection)
        except BaseException:
            self.close()
            raise
        return opened

    def _sign_in(self, conn: smtplib.SMTP) -> None:
        mailbox = self.mailbox
        conn.ehlo()
        if not self.use_ssl:
            if conn.has_extn("starttls"):
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            elif not is_loopback(self.host):
                raise MailAuthError(
                    _("Der SMTP-Server bietet kein TLS an; Zugangsdaten gehen nur verschlüsselt.")
                )
        try:
            if not mailbox.uses_oauth:
                if mailbox.imap_password:
                    conn.login(mailbox.login_user, mailbox.imap_password)
                return
            auth = xoauth2_string(mailbox.login_user, access_token(mailbox).access_token)
            # a refusing server sends a 334 challenge with a JSON error: answer it empty
            code, reply = conn.auth(
                "XOAUTH2", lambda challenge=None: auth if challenge is None else ""
            )
        except smtplib.SMTPAuthenticationError as exc:
            raise MailAuthError(smtp_refusal(mailbox, exc.smtp_code, exc.smtp_error)) from exc
        if code != 235:
            raise MailAuthError(smtp_refusal(mailbox, code, reply))


def smtp_refusal(mailbox: Mailbox, code: int, reply) -> str:
    reply = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    if mailbox.auth_mode == Mailbox.AuthMode.MICROSOFT:
        text = _(
            "Exchange Online lehnt die SMTP-Anmeldung als %(user)s ab. Meist fehlt die "
            "Anwendungsberechtigung SMTP.SendAsApp mit Administratorzustimmung, SMTP AUTH ist "
            "für das Postfach abgeschaltet (Set-CASMailbox -SmtpClientAuthenticationDisabled "
            "$false) oder der Dienstprinzipal hat keine Rechte am Postfach."
        )
    elif mailbox.auth_mode == Mailbox.AuthMode.GOOGLE:
        text = _(
            "Gmail lehnt die SMTP-Anmeldung als %(user)s ab. Ist die domänenweite Delegierung "
            "mit dem Bereich https://mail.google.com/ eingetragen?"
        )
    else:
        text = _("Der SMTP-Server lehnt Benutzer %(user)s oder das Passwort ab.")
    return f"{text % {'user': mailbox.login_user}} [{code} {reply}]"


def sending_mailboxes() -> dict[int, list[Mailbox]]:
    """The mailboxes that send for their brand, by brand id (one query per batch)."""
    by_brand: dict[int, list[Mailbox]] = {}
    for mailbox in Mailbox.objects.filter(active=True, smtp_send=True).order_by("name", "pk"):
        by_brand.setdefault(mailbox.brand_id, []).append(mailbox)
    return by_brand


def mailbox_for(mailboxes: list[Mailbox], from_email: str) -> Mailbox | None:
    """The brand's sending mailbox with this From address, else its first one."""
    from_email = from_email.strip().lower()
    return next((m for m in mailboxes if m.address == from_email), None) or (
        mailboxes[0] if mailboxes else None
    )


# mailbox id -> (monotonic deadline, credentials fingerprint, reason): a mailbox that
# refused to sign in is not asked again for a minute, so a batch of 200 replies makes one
# token request and one SMTP login, not 200 (the dispatch worker drops the adapter after
# each transient error, so this cannot live on the adapter)
_refusals: dict[int, tuple[float, str, str]] = {}
REFUSAL_PAUSE_SECONDS = 60


def _credentials(mailbox: Mailbox) -> str:
    parts = (
        mailbox.auth_mode, mailbox.oauth_tenant_id, mailbox.oauth_client_id,
        mailbox.oauth_client_secret, mailbox.google_service_account, mailbox.imap_password,
        mailbox.login_user, mailbox.effective_smtp_host, str(mailbox.smtp_port),
    )  # fmt: skip
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def recent_refusal(mailbox: Mailbox) -> str:
    """Why the mailbox refused within the last minute (with these credentials), else ""."""
    deadline, credentials, reason = _refusals.get(mailbox.pk, (0.0, "", ""))
    if time.monotonic() < deadline and credentials == _credentials(mailbox):
        return reason
    return ""


def forget_refusals() -> None:
    _refusals.clear()


def record_send_error(mailbox: Mailbox, error: str) -> None:
    """Sending failed to sign in: the admin sees why on the mailbox."""
    _refusals[mailbox.pk] = (
        time.monotonic() + REFUSAL_PAUSE_SECONDS,
        _credentials(mailbox),
        error,
    )
    Mailbox.objects.filter(pk=mailbox.pk).update(last_error=error[:2000])


@dataclass
class CheckResult:
    steps: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(ok for ok, _line in self.steps)

    @property
    def lines(self) -> list[str]:
        return [line for _ok, line in self.steps]

    def add(self, ok: bool, line: str) -> None:
        self.steps.append((ok, line))


def check_connection(mailbox: Mailbox) -> CheckResult:
    """Token, IMAP login and (if the mailbox sends) SMTP login, each said in plain words.

    The outcome is kept in ``last_error`` (cleared when all went well)."""
    result = CheckResult()
    if mailbox.uses_oauth:
        try:
            token = access_token(mailbox)
        except MailAuthError as exc:
            result.add(False, _("Token: fehlgeschlagen. %(error)s") % {"error": exc})
            _keep(mailbox, result)
            return result
        expires = time_format(timezone.localtime(token.expires_at), "H:i")
        result.add(True, _("Token: erhalten, gültig bis %(time)s Uhr.") % {"time": expires})
    if mailbox.imap_host:
        try:
            with connect(mailbox) as client:
                count = client.folder.status(mailbox.imap_folder, ["MESSAGES"])["MESSAGES"]
            result.add(
                True,
                _("IMAP: angemeldet als %(user)s, Ordner %(folder)s mit %(count)s Nachrichten.")
                % {"user": mailbox.login_user, "folder": mailbox.imap_folder, "count": count},
            )
        except MailAuthError as exc:
            result.add(False, _("IMAP: fehlgeschlagen. %(error)s") % {"error": exc})
        except Exception as exc:  # network, TLS, folder: say it as it is
            result.add(False, _("IMAP: fehlgeschlagen. %(error)s") % {"error": f"{exc}"})
    if mailbox.smtp_send:
        backend = MailboxSMTPBackend(mailbox, timeout=settings.EMAIL_TIMEOUT)
        try:
            backend.open()
            result.add(
                True,
                _("SMTP: angemeldet an %(host)s als %(user)s.")
                % {"host": backend.host, "user": mailbox.login_user},
            )
        except MailAuthError as exc:
            result.add(False, _("SMTP: fehlgeschlagen. %(error)s") % {"error": exc})
        except (OSError, smtplib.SMTPException) as exc:
            result.add(False, _("SMTP: fehlgeschlagen. %(error)s") % {"error": f"{exc}"})
        finally:
            backend.close()
    if not result.lines:
        result.add(False, _("Weder IMAP-Server noch Senden eingerichtet: nichts zu prüfen."))
    _keep(mailbox, result)
    return result


def _keep(mailbox: Mailbox, result: CheckResult) -> None:
    mailbox.last_error = " ".join(line for ok, line in result.steps if not ok)[:2000]
    mailbox.save(update_fields=["last_error"])
