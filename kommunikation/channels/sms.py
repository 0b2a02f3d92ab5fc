"""SMS through MessageBird (Bird's legacy SMS REST API) or seven.io, chosen per brand.

One adapter, two providers behind the same three steps: check what we send (the brand's
sender id, an E.164 recipient, the length against the brand's segment limit, counted as
handsets count it: templates_app.sms), post it, and read the answer into a provider id or
one of the two errors of the channel interface, with a German reason per documented error
class (shared/reference/sms-providers.md):

- MessageBird answers 201 with the message object (its ``id``), else
  ``{"errors": [{"code": ..., "description": ..., "parameter": ...}]}``; status reports
  are sent only for messages with a ``reference`` (our outbox id) to ``reportUrl``;
- seven.io answers HTTP 200 for nearly everything: the ``success`` code in the JSON (or
  the plain-text body) says what happened, 100 is sent; the message id is
  ``messages[0].id``, which its delivery reports name as ``msg_id``.

Which provider and key serve a brand: ``sms_config`` (settings SMS_PROVIDER, SMS_API_KEY and
the per-brand SMS_*_<SLUG> values). The public shape other code uses is the channel's:
``SmsChannel().send(Outgoing)`` (the messenger invite of issue 11 §5 sends through it too).
"""

from __future__ import annotations

import abc
import contextlib
import re
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from kommunikation.channels.base import (
    ChannelAdapter,
    Outgoing,
    PermanentError,
    SendResult,
    TransientError,
)
from kommunikation.contact import normalize_phone

MESSAGEBIRD = "messagebird"
SEVENIO = "sevenio"
PROVIDER_NAMES = {MESSAGEBIRD: "MessageBird", SEVENIO: "seven.io"}

# an alphanumeric sender id: letters, digits and spaces, at most 11, one letter at least
# (all digits is a number); a numeric one: up to 16 digits, optionally with a leading +
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
NUMERIC_SENDER = re.compile(r"^\+?[0-9]{3,16}$")

# a provider that is out of money or over its daily limit: someone tops it up, then it goes
RETRY_BALANCE_SECONDS = 900.0


def sender_id_problem(value: str) -> str:
    """Why ``value`` cannot be an SMS sender id ("" when it can)."""
    if ALPHANUMERIC_SENDER.match(value) or NUMERIC_SENDER.match(value):
        return ""
    return _(
        "Die SMS-Absenderkennung ist entweder ein Name aus höchstens 11 Buchstaben, Ziffern "
        "oder Leerzeichen (ohne Umlaute) oder eine Nummer mit höchstens 16 Ziffern."
    )


@dataclass(frozen=True)
class SmsConfig:
    provider: str = ""
    api_key: str = ""
    signing_key: str = ""  # MessageBird's signing key (signed status reports)
    webhook_secret: str = ""  # the secret in seven.io's callback URL

    @property
    def provider_name(self) -> str:
        return PROVIDER_NAMES.get(self.provider, self.provider)


def sms_config(brand) -> SmsConfig:
    """The brand's provider and credentials: its SMS_*_<SLUG> values, else the common ones."""
    own = settings.SMS_BRANDS.get(brand.slug.lower(), {})
    return SmsConfig(
        provider=own.get("provider") or settings.SMS_PROVIDER,
        api_key=own.get("api_key") or settings.SMS_API_KEY,
        signing_key=own.get("signing_key") or settings.SMS_SIGNING_KEY,
        webhook_secret=own.get("webhook_secret") or settings.SMS_WEBHOOK_SECRET,
    )


def callback_url(brand, config: SmsConfig) -> str:
    """Where the brand's provider reports delivery (and posts replies)."""
    if config.provider == SEVENIO:
        path = reverse("sms_webhook_sevenio", args=[brand.slug, config.webhook_secret or "-"])
    else:
        path = reverse("sms_webhook_messagebird", args=[brand.slug])
    return settings.SITE_URL + path


def msisdn(e164: str) -> str:
    """The number as both providers write it: country code and number, no "+"."""
    return e164.lstrip("+")


@dataclass(frozen=True)
class Checked:
    """What goes to the provider, checked: originator, recipient (E.164), text, encoding."""

    sender: str
    recipient: str
    text: str
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int


def check(out: Outgoing) -> Checked:
    """The message as it may go out, or PermanentError with the reason."""
    from templates_app.sms import sms_info, sms_limit_error

    brand = out.brand
    sender = (brand.sms_sender_id or "").strip()
    if not sender:
        raise PermanentError(
            _("Für %(brand)s ist keine SMS-Absenderkennung eingetragen.") % {"brand": brand}
        )
    problem = sender_id_problem(sender)
    if problem:
        raise PermanentError(problem)
    try:
        recipient = normalize_phone(out.recipient)
    except ValueError as exc:
        raise PermanentError(
            _("»%(value)s« ist keine Mobilnummer für SMS.") % {"value": out.recipient}
        ) from exc
    text = out.text.strip()
    if not text:
        raise PermanentError(_("Die SMS hat keinen Text."))
    problem = sms_limit_error(text, brand.sms_segment_limit)
    if problem:
        raise PermanentError(problem)
    info = sms_info(text)
    return Checked(sender, recipient, text, info.encoding, info.segments)


def _retry_after(response: httpx.Response) -> float | None:
    with contextlib.suppress(ValueError):
        return float(response.headers.get("Retry-After", "")) or None
    return None


def _auth_error(name: str) -> PermanentError:
    return PermanentError(
        _(
            "%(provider)s lehnt den Zugang ab: der API-Schlüssel fehlt, ist falsch oder "
            "gesperrt (SMS_API_KEY)."
        )
        % {"provider": name}
    )


class Provider(abc.ABC):
    """One provider's request and the reading of its answer."""

    name = ""

    def __init__(self, client: httpx.Client, config: SmsConfig):
        self.client = client
        self.config = config

    def post(self, url: str, **kwargs) -> httpx.Response:
        try:
            return self.client.post(url, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientError(
                _("%(provider)s antwortet nicht (Zeitüberschreitung).") % {"provider": self.name}
            ) from exc
        except httpx.TransportError as exc:
            raise TransientError(
                _("%(provider)s nicht erreichbar: %(error)s")
                % {"provider": self.name, "error": exc}
            ) from exc

    def http_error(self, response: httpx.Response) -> TransientError | PermanentError | None:
        """The error an HTTP status alone tells (5xx, 429, 401/403), else None."""
        status = response.status_code
        if status == 429:
            return TransientError(
                _("%(provider)s: zu viele Anfragen, neuer Versuch später.")
                % {"provider": self.name},
                retry_after=_retry_after(response),
            )
        if status >= 500:
            return TransientError(
                _("%(provider)s hat eine Störung (HTTP %(status)s).")
                % {"provider": self.name, "status": status},
                retry_after=_retry_after(response),
            )
        if status in (401, 403):
            return _auth_error(self.name)
        return None

    @abc.abstractmethod
    def send(self, out: Outgoing, checked: Checked) -> str:
        """Send one checked SMS; the provider's message id, or TransientError / PermanentError."""


# MessageBird's error codes (``errors[].code``) -> reason; 25 (balance) and 99 are transient
MESSAGEBIRD_AUTH = {2}
MESSAGEBIRD_TRANSIENT = {25, 99}


class MessageBird(Provider):
    name = "MessageBird"

    def send(self, out: Outgoing, checked: Checked) -> str:
        payload = {
            "originator": msisdn(checked.sender)
            if NUMERIC_SENDER.match(checked.sender)
            else checked.sender,
            "recipients": [msisdn(checked.recipient)],
            "body": checked.text,
            # status reports come only for messages with a reference: our outbox id
            "reference": str(out.outbound_id),
            "reportUrl": callback_url(out.brand, self.config),
            # as we counted: GSM-7 stays GSM-7, else unicode (no silent switch by the gateway)
            "datacoding": "plain" if checked.encoding == "GSM-7" else "unicode",
        }
        response = self.post(
            f"{settings.SMS_MESSAGEBIRD_URL}/messages",
            json=payload,
            headers={"Authorization": f"AccessKey {self.config.api_key}"},
        )
        data = _json(response)
        if response.status_code in (200, 201) and isinstance(data, dict) and data.get("id"):
            return str(data["id"])
        raise self.error(response, data)

    def error(self, response: httpx.Response, data) -> TransientError | PermanentError:
        errors = data.get("errors") if isinstance(data, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else {}
        first = first if isinstance(first, dict) else {}
        code = first.get("code") if isinstance(first.get("code"), int) else None
        description = str(first.get("description") or "")[:300]
        parameter = str(first.get("parameter") or "")[:60]
        if code is None:
            exc = self.http_error(response)
            if exc is not None:
                return exc
            if response.is_success:
                return TransientError(_("MessageBird hat keine Nachrichten-ID zurückgegeben."))
            return PermanentError(
                _("MessageBird antwortet mit HTTP %(status)s.") % {"status": response.status_code}
            )
        reason = messagebird_reason(code, description, parameter)
        if code in MESSAGEBIRD_TRANSIENT or response.status_code >= 500:
            retry = RETRY_BALANCE_SECONDS if code == 25 else _retry_after(response)
            return TransientError(reason, retry_after=retry)
        if response.status_code == 429:
            return TransientError(reason, retry_after=_retry_after(response))
        return PermanentError(reason)


def messagebird_reason(code: int, description: str = "", parameter: str = "") -> str:
    """The German reason for one of MessageBird's documented error codes."""
    extra = f" ({description})" if description else ""
    if code in MESSAGEBIRD_AUTH:
        return str(_auth_error("MessageBird")) + extra
    if code == 9:
        return _("MessageBird vermisst eine Angabe: %(parameter)s.") % {
            "parameter": parameter or description or "?"
        }
    if code == 10:
        if parameter == "recipients":
            return _("MessageBird lehnt die Empfängernummer ab") + extra
        if parameter == "originator":
            return _("MessageBird lehnt die Absenderkennung ab") + extra
        return (
            _("MessageBird lehnt eine Angabe ab: %(parameter)s") % {"parameter": parameter or "?"}
            + extra
        )
    if code == 20:
        return _("MessageBird kennt die angefragte Ressource nicht") + extra
    if code == 21:
        return _("MessageBird versteht die Anfrage nicht") + extra
    if code == 25:
        return _("Das Guthaben bei MessageBird reicht nicht; neuer Versuch später.")
    if code == 98:
        return _("Die MessageBird-Adresse ist falsch (SMS_MESSAGEBIRD_URL)") + extra
    if code == 99:
        return _("MessageBird hat einen internen Fehler; neuer Versuch später.")
    return _("MessageBird-Fehler %(code)s") % {"code": code} + extra


# seven.io's return codes (``success`` or the plain-text body)
SEVENIO_SENT = "100"
SEVENIO_TRANSIENT = {"403", "500", "600", "700"}
SEVENIO_AUTH = {"300", "900", "901", "902", "903"}


def sevenio_reason(code: str, detail: str = "") -> str:
    """The German reason for one of seven.io's documented return codes."""
    extra = f" ({detail})" if detail else ""
    reasons = {
        "101": _("seven.io konnte die SMS nicht an den Empfänger senden"),
        "201": _("seven.io lehnt die Absenderkennung oder die Ländervorwahl ab"),
        "202": _("seven.io lehnt die Empfängernummer ab"),
        "301": _("seven.io vermisst den Empfänger (to)"),
        "304": _("seven.io vermisst den Nachrichtentyp"),
        "305": _("seven.io vermisst den Text"),
        "306": _("seven.io lehnt die Absenderkennung ab"),
        "307": _("seven.io vermisst die Adresse (url)"),
        "400": _("seven.io kennt den Nachrichtentyp nicht"),
        "401": _("Der Text ist seven.io zu lang"),
        "402": _(
            "seven.io sperrt dieselbe SMS an dieselbe Nummer kurz nach der ersten "
            "(Schutz vor Doppelversand): sie ging eben schon hinaus"
        ),
        "403": _("Das Tageslimit von seven.io für diese Nummer ist erreicht; neuer Versuch später"),
        "500": _("Das Guthaben bei seven.io reicht nicht; neuer Versuch später"),
        "600": _("Der Netzbetreiber hat die SMS nicht angenommen; neuer Versuch später"),
        "700": _("seven.io meldet einen unbekannten Fehler; neuer Versuch später"),
        "901": _("seven.io: die Signatur der Anfrage ist falsch"),
        "902": _("seven.io: der API-Zugang ist deaktiviert"),
        "903": _("seven.io: die Server-IP ist nicht freigegeben"),
    }
    if code in ("300", "900"):
        return str(_auth_error("seven.io")) + extra
    if code in reasons:
        return reasons[code] + extra
    return _("seven.io-Fehler %(code)s") % {"code": code or "?"} + extra


class SevenIo(Provider):
    name = "seven.io"

    def send(self, out: Outgoing, checked: Checked) -> str:
        form = {
            "to": msisdn(checked.recipient),
            "text": checked.text,
            "from": checked.sender,
            "foreign_id": str(out.outbound_id),  # echoed with its reports
        }
        response = self.post(
            f"{settings.SMS_SEVENIO_URL}/sms",
            data=form,
            headers={
                "X-Api-Key": self.config.api_key,
                "Accept": "application/json",
                "SentWith": "Kundenkommunikation",
            },
        )
        exc = self.http_error(response)
        if exc is not None:
            raise exc
        data = _json(response)
        if isinstance(data, dict):
            code = str(data.get("success") or "")
            messages = data.get("messages") if isinstance(data.get("messages"), list) else []
            first = messages[0] if messages and isinstance(messages[0], dict) else {}
            if code == SEVENIO_SENT and first.get("success") is not False:
                if first.get("id"):
                    return str(first["id"])
                raise TransientError(_("seven.io hat keine Nachrichten-ID zurückgegeben."))
            detail = str(first.get("error_text") or first.get("error") or "")[:300]
            if code == SEVENIO_SENT:  # accepted, but not for this recipient
                code = "101"
        else:
            code, detail = response.text.strip()[:10], ""
            if not code.isdigit():
                raise PermanentError(
                    _("seven.io antwortet unlesbar (HTTP %(status)s).")
                    % {"status": response.status_code}
                )
        raise self.error(code, detail)

    def error(self, code: str, detail: str) -> TransientError | PermanentError:
        reason = sevenio_reason(code, detail)
        if code in SEVENIO_TRANSIENT:
            retry = RETRY_BALANCE_SECONDS if code in ("403", "500") else None
            return TransientError(reason, retry_after=retry)
        return PermanentError(reason)


PROVIDERS: dict[str, type[Provider]] = {MESSAGEBIRD: MessageBird, SEVENIO: SevenIo}


def _json(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return None


class SmsChannel(ChannelAdapter):
    """``send(Outgoing)``: the provider's message id, or TransientError / PermanentError."""

    name = "sms"

    @classmethod
    def reports_delivery(cls) -> bool:
        return True  # both providers' delivery reports (kommunikation/sms_webhook.py)

    def __init__(self, *, transport: httpx.BaseTransport | None = None):
        self.client: httpx.Client | None = None
        self.transport = transport

    def open(self) -> None:
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.SMS_TIMEOUT), transport=self.transport
        )

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None

    def send(self, out: Outgoing) -> SendResult:
        config = sms_config(out.brand)
        provider = PROVIDERS.get(config.provider)
        if provider is None:
            raise PermanentError(
                _("Für %(brand)s ist kein SMS-Anbieter eingerichtet (SMS_PROVIDER).")
                % {"brand": out.brand}
            )
        if not config.api_key:
            raise _auth_error(config.provider_name)
        checked = check(out)
        if self.client is None:
            self.open()
        return SendResult(provider_id=provider(self.client, config).send(out, checked)[:200])
