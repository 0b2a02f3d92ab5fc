"""OAuth2 access tokens for mailboxes of Microsoft 365 and Google Workspace.

Both providers issue app-only tokens: Microsoft's client-credentials flow (msal, scope
``https://outlook.office365.com/.default``, which covers IMAP and SMTP) and Google's
JWT-bearer grant of a service account with domain-wide delegation (google-auth, scope
``https://mail.google.com/``, the mailbox as the subject). A token is kept in this
process until ``MAIL_OAUTH_REFRESH_MARGIN_SECONDS`` before it expires, then fetched
anew; Exchange ends an IMAP session when its token expires, so a fetch never starts
with one about to run out.

Failures become a ``MailAuthError`` whose text tells the admin in plain German what to
change (the provider's codes stay in brackets for support; Microsoft's error texts
may change, so we react on the codes, never on ``error_description``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.models import Mailbox

log = logging.getLogger(__name__)

MICROSOFT_SCOPE = "https://outlook.office365.com/.default"
GOOGLE_SCOPE = "https://mail.google.com/"


class MailAuthError(Exception):
    """No token (or no login with it). ``str()`` is the explanation for the admin;
    ``transient`` says whether trying again later may help (network, 5xx, throttling)."""

    def __init__(self, message: str, *, code: str = "", transient: bool = False):
        super().__init__(message)
        self.code = code
        self.transient = transient


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_at: dt.datetime

    def fresh(self, now: dt.datetime) -> bool:
        margin = dt.timedelta(seconds=settings.MAIL_OAUTH_REFRESH_MARGIN_SECONDS)
        return self.expires_at - margin > now


_cache: dict[tuple, Token] = {}
_lock = threading.Lock()


def clear_token_cache() -> None:
    with _lock:
        _cache.clear()


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _cache_key(mailbox: Mailbox) -> tuple:
    """Changing any credential (a new secret, another tenant or user) misses the cache."""
    if mailbox.auth_mode == Mailbox.AuthMode.MICROSOFT:
        return (
            "microsoft",
            settings.MAIL_OAUTH_MICROSOFT_LOGIN_URL,
            mailbox.oauth_tenant_id.strip(),
            mailbox.effective_client_id.strip(),
            _fingerprint(mailbox.effective_client_secret.strip()),
        )
    return ("google", _fingerprint(_service_account_text(mailbox)), mailbox.login_user)


def access_token(mailbox: Mailbox, *, now: dt.datetime | None = None) -> Token:
    """A token for ``mailbox`` with more than the margin left: the cached one or a new one."""
    if not mailbox.uses_oauth:
        raise MailAuthError(_("Das Postfach meldet sich mit Passwort an, nicht mit OAuth2."))
    now = now or timezone.now()
    key = _cache_key(mailbox)
    with _lock:
        token = _cache.get(key)
    if token is not None and token.fresh(now):
        return token
    if mailbox.auth_mode == Mailbox.AuthMode.MICROSOFT:
        token = _microsoft_token(mailbox, now)
    else:
        token = _google_token(mailbox, now)
    with _lock:
        _cache[key] = token
    return token


def xoauth2_string(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response, before base64 (imaplib/smtplib encode it)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


# --- Microsoft: msal, client credentials ------------------------------------------------


class _MsalHttpClient:
    """msal's http_client interface on httpx, with our timeout on every request."""

    def __init__(self) -> None:
        self.client = httpx.Client(timeout=settings.MAIL_OAUTH_TIMEOUT)

    def get(self, url, params=None, headers=None, **kwargs):
        return self.client.get(url, params=params, headers=headers)

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        if isinstance(data, (str, bytes)):
            return self.client.post(url, params=params, content=data, headers=headers)
        return self.client.post(url, params=params, data=data, headers=headers)

    def close(self) -> None:
        self.client.close()


_AADSTS = re.compile(r"AADSTS(\d+)")


def _microsoft_token(mailbox: Mailbox, now: dt.datetime) -> Token:
    import msal  # imported here: the mail fetch of password mailboxes never needs it

    tenant = mailbox.oauth_tenant_id.strip()
    client_id = mailbox.effective_client_id.strip()
    secret = mailbox.effective_client_secret.strip()
    missing = [
        label
        for label, value in (
            (_("Mandanten-ID"), tenant),
            (_("Client-ID"), client_id),
            (_("geheimer Clientschlüssel"), secret),
        )
        if not value
    ]
    if missing:
        raise MailAuthError(_("Es fehlt: %(fields)s.") % {"fields": ", ".join(missing)})
    http = _MsalHttpClient()
    try:
        try:
            app = msal.ConfidentialClientApplication(
                client_id,
                client_credential=secret,
                authority=f"{settings.MAIL_OAUTH_MICROSOFT_LOGIN_URL.rstrip('/')}/{tenant}",
                http_client=http,
                instance_discovery=False,
            )
            result = app.acquire_token_for_client(scopes=[MICROSOFT_SCOPE])
        except httpx.HTTPError as exc:
            raise MailAuthError(
                _("Der Anmeldedienst von Microsoft ist nicht erreichbar (%(error)s).")
                % {"error": exc},
                transient=True,
            ) from exc
        except ValueError as exc:
            # msal raises for the tenant discovery; an unknown tenant answers AADSTS90002
            codes = [int(c) for c in _AADSTS.findall(str(exc))]
            raise MailAuthError(
                explain_microsoft("invalid_tenant" if codes else "", codes or [90002]),
                code=f"AADSTS{(codes or [90002])[0]}",
            ) from exc
    finally:
        http.close()
    if "access_token" not in result:
        codes = [int(c) for c in result.get("error_codes") or []]
        codes = codes or [int(c) for c in _AADSTS.findall(result.get("error_description", ""))]
        log.warning(
            "Microsoft token for mailbox %s refused: %s %s (trace %s, correlation %s)",
            mailbox.pk,
            result.get("error"),
            result.get("error_description"),
            result.get("trace_id"),
            result.get("correlation_id"),
        )
        error = result.get("error", "")
        raise MailAuthError(
            explain_microsoft(error, codes),
            code=f"AADSTS{codes[0]}" if codes else error,
            transient=error == "temporarily_unavailable",
        )
    return Token(
        result["access_token"], now + dt.timedelta(seconds=int(result.get("expires_in", 3599)))
    )


def explain_microsoft(error: str, codes: list[int]) -> str:
    """What the admin has to change, for the AADSTS codes of the client-credentials flow."""
    code = codes[0] if codes else None
    texts = {
        700016: _(
            "Microsoft kennt die Anwendung (Client-ID) in diesem Mandanten nicht. Bitte die "
            "Anwendungs-ID von der Übersichtsseite der App-Registrierung kopieren und prüfen, "
            "ob die App im richtigen Mandanten registriert ist."
        ),
        7000215: _(
            "Der geheime Clientschlüssel ist falsch. In Entra ID unter „Zertifikate & "
            "Geheimnisse“ einen neuen geheimen Schlüssel anlegen und seinen Wert (nicht die "
            "Geheimnis-ID) hier eintragen."
        ),
        7000222: _(
            "Der geheime Clientschlüssel ist abgelaufen. In Entra ID unter „Zertifikate & "
            "Geheimnisse“ einen neuen anlegen und hier eintragen."
        ),
        90002: _(
            "Microsoft findet den Mandanten (Tenant-ID) nicht. Bitte die Verzeichnis-ID "
            "(Mandanten-ID) von der Übersichtsseite der App-Registrierung kopieren."
        ),
        65001: _(
            "Die Administratorzustimmung fehlt. In Entra ID unter „API-Berechtigungen“ die "
            "Anwendungsberechtigungen IMAP.AccessAsApp und SMTP.SendAsApp (Office 365 Exchange "
            "Online) hinzufügen und „Administratorzustimmung erteilen“ wählen."
        ),
        53003: _(
            "Eine Richtlinie für bedingten Zugriff blockiert die Anmeldung der App. Die App "
            "(den Dienstprinzipal) in der Richtlinie ausnehmen."
        ),
        70011: _(
            "Microsoft lehnt den angefragten Bereich ab (Scope). Bitte den Entwickler informieren."
        ),
    }
    aliases = {90094: 65001, 500011: 65001, 530035: 53003, 700022: 70011}
    text = texts.get(aliases.get(code, code))
    if text is None:
        text = _("Microsoft verweigert das Token (%(error)s).") % {"error": error or "?"}
    return f"{text} [AADSTS{code}]" if code else text


# --- Google: service account, JWT-bearer grant -------------------------------------------


def _service_account_text(mailbox: Mailbox) -> str:
    try:
        return mailbox.effective_service_account.strip()
    except OSError as exc:
        raise MailAuthError(
            _("Die Schlüsseldatei des Google-Dienstkontos ist nicht lesbar (%(error)s).")
            % {"error": exc}
        ) from exc


def parse_service_account(text: str) -> dict:
    """The JSON key as Google hands it out; ValueError with a German reason otherwise."""
    try:
        info = json.loads(text)
    except ValueError:
        raise ValueError(_("Der Schlüssel ist kein JSON.")) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValueError(_("Das ist kein Schlüssel eines Dienstkontos (type service_account)."))
    missing = [f for f in ("client_email", "private_key", "token_uri") if not info.get(f)]
    if missing:
        raise ValueError(_("Im Schlüssel fehlt: %(fields)s.") % {"fields": ", ".join(missing)})
    return info


def _google_token(mailbox: Mailbox, now: dt.datetime) -> Token:
    from google.auth import exceptions
    from google.oauth2 import service_account

    text = _service_account_text(mailbox)
    if not text:
        raise MailAuthError(_("Es fehlt der JSON-Schlüssel des Google-Dienstkontos."))
    if not mailbox.login_user:
        raise MailAuthError(_("Es fehlt das Postfach (IMAP-Benutzer), in dessen Namen wir lesen."))
    try:
        info = parse_service_account(text)
        credentials = service_account.Credentials.from_service_account_info(
            info, scopes=[GOOGLE_SCOPE], subject=mailbox.login_user
        )
    except ValueError as exc:
        raise MailAuthError(
            _("Der Schlüssel des Google-Dienstkontos ist unbrauchbar: %(error)s") % {"error": exc}
        ) from exc
    try:
        credentials.refresh(_GoogleRequest())
    except exceptions.RefreshError as exc:
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        error = data.get("error", "")
        description = data.get("error_description", "") or str(exc.args[0] if exc.args else "")
        log.warning("Google token for mailbox %s refused: %s %s", mailbox.pk, error, description)
        raise MailAuthError(
            explain_google(error, description, user=mailbox.login_user, sa=info),
            code=error,
            transient=getattr(exc, "retryable", False),
        ) from exc
    except exceptions.TransportError as exc:
        raise MailAuthError(
            _("Der Anmeldedienst von Google ist nicht erreichbar (%(error)s).") % {"error": exc},
            transient=True,
        ) from exc
    expiry = credentials.expiry  # naive UTC (google-auth)
    expires_at = expiry.replace(tzinfo=dt.UTC) if expiry else now + dt.timedelta(minutes=55)
    return Token(credentials.token, expires_at)


def explain_google(error: str, description: str, *, user: str, sa: dict) -> str:
    if error == "unauthorized_client":
        text = _(
            "Google lässt das Dienstkonto nicht zu: die domänenweite Delegierung fehlt oder ist "
            "unvollständig. In der Google-Admin-Konsole unter Sicherheit → Zugriffs- und "
            "Datenverwaltung → API-Steuerung → Domainweite Delegierung die Client-ID "
            "%(client_id)s mit genau dem Bereich https://mail.google.com/ eintragen."
        ) % {"client_id": sa.get("client_id", "?")}
    elif error == "invalid_grant" and "Invalid email or User ID" in description:
        text = _(
            "Das Postfach %(user)s gibt es in diesem Google Workspace nicht. Bitte den "
            "IMAP-Benutzer (die Adresse des Postfachs) prüfen."
        ) % {"user": user}
    elif error == "invalid_grant" and ("short-lived" in description or "timeframe" in description):
        text = _(
            "Google lehnt die Anmeldung wegen der Uhrzeit ab: die Uhr dieses Servers geht falsch "
            "(NTP prüfen)."
        )
    elif error == "invalid_grant" and ("Signature" in description or "not found" in description):
        text = _(
            "Der Schlüssel des Dienstkontos gilt nicht mehr (gelöscht oder ersetzt) oder das "
            "Dienstkonto wurde gelöscht. Einen neuen JSON-Schlüssel erzeugen und hier eintragen."
        )
    else:
        text = _("Google verweigert das Token (%(error)s).") % {"error": error or description}
    return f"{text} [{error}]" if error else text


class _GoogleResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.headers = response.headers
        self.data = response.content


class _GoogleRequest:
    """google-auth's transport interface on httpx (google.auth.transport.Request)."""

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        from google.auth import exceptions

        try:
            with httpx.Client(timeout=settings.MAIL_OAUTH_TIMEOUT) as client:
                return _GoogleResponse(client.request(method, url, content=body, headers=headers))
        except httpx.HTTPError as exc:
            raise exceptions.TransportError(exc) from exc
