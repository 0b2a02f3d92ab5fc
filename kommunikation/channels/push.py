"""Push messages to a brand's customer app through Firebase Cloud Messaging HTTP v1.

One Firebase project per brand (kommunikation.push_connections): its service account
mints the OAuth2 access token (JWT bearer grant, RFC 7523, signed RS256 with the account's
private key; google-auth does the signing and the exchange) and the token is reused until
shortly before it expires (google-auth's REFRESH_THRESHOLD, 3 min 45 s), across batches of
this process. Every request goes through httpx with a timeout.

The recipient is a device token (a ContactPoint of channel "push", registered by the app
through ``POST /api/v1/devices``). FCM's answers (``../shared/reference/push-fcm.md`` §4)
are read from the ``FcmError`` detail, not only the HTTP status:

- UNREGISTERED, SENDER_ID_MISMATCH, INVALID_ARGUMENT naming the token: the token is
  retired (the contact point is marked undeliverable and never used again); a customer
  with another device gets the message there on the next attempt, else it fails.
- QUOTA_EXCEEDED (429), UNAVAILABLE (503), INTERNAL (500), network errors and timeouts:
  try again later, honouring Retry-After.
- 401 without FcmError: our access token was refused; refreshed once and sent again.
- anything else (a payload FCM refuses, THIRD_PARTY_AUTH_ERROR, PERMISSION_DENIED): fails
  with the reason.
"""

from __future__ import annotations

import contextlib

import httpx
from django.conf import settings
from django.utils.translation import gettext as _
from google.auth import exceptions as google_exceptions
from google.auth import transport as google_transport
from google.oauth2 import service_account

from kommunikation.channels.base import (
    ChannelAdapter,
    Outgoing,
    PermanentError,
    SendResult,
    TransientError,
)

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
RETIRE = {"UNREGISTERED", "SENDER_ID_MISMATCH"}
RETRY = {"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"}
# FCM's own wording when INVALID_ARGUMENT is about the token (the same code covers payload bugs)
INVALID_TOKEN_TEXT = "not a valid FCM registration token"

# one Credentials per service account and process: its access token lives an hour
_CREDENTIALS: dict[tuple[str, str, str], service_account.Credentials] = {}


class _Response(google_transport.Response):
    def __init__(self, response: httpx.Response):
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self):
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxRequest(google_transport.Request):
    """google-auth's transport interface on our httpx client (timeouts always set)."""

    def __init__(self, client: httpx.Client):
        self.client = client

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        try:
            response = self.client.request(
                method, url, content=body, headers=headers, timeout=timeout or settings.FCM_TIMEOUT
            )
        except httpx.HTTPError as exc:
            raise google_exceptions.TransportError(str(exc) or type(exc).__name__) from exc
        return _Response(response)


def credentials_for(info: dict) -> service_account.Credentials:
    """The cached credentials of a service account (a new key is a new entry)."""
    key = (str(info["client_email"]), str(info.get("private_key_id") or ""), str(info["token_uri"]))
    creds = _CREDENTIALS.get(key)
    if creds is None:
        creds = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
        _CREDENTIALS[key] = creds
    return creds


def forget_credentials() -> None:
    """Drop every cached token (tests; a rotated key is a new entry anyway)."""
    _CREDENTIALS.clear()


def _retry_after(response: httpx.Response) -> float | None:
    with contextlib.suppress(ValueError):
        return max(float(response.headers.get("Retry-After", "")), 0.0) or None
    return None


def _error_of(response: httpx.Response) -> tuple[str, str, str, list]:
    """(errorCode of the FcmError detail, status, message, details) of FCM's envelope."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    details = error.get("details") if isinstance(error.get("details"), list) else []
    code = ""
    for detail in details:
        if isinstance(detail, dict) and detail.get("@type") == FCM_ERROR:
            code = str(detail.get("errorCode") or "")
    return code, str(error.get("status") or ""), str(error.get("message") or ""), details


def _names_the_token(message: str, details: list) -> bool:
    if INVALID_TOKEN_TEXT in message:
        return True
    for detail in details:
        if isinstance(detail, dict) and detail.get("@type") == BAD_REQUEST:
            for violation in detail.get("fieldViolations") or []:
                if isinstance(violation, dict) and violation.get("field") == "message.token":
                    return True
    return False


class PushChannel(ChannelAdapter):
    name = "push"

    def __init__(self, *, transport: httpx.BaseTransport | None = None):
        self.transport = transport
        self.client: httpx.Client | None = None
        self._connections: dict[int, object] = {}

    def open(self) -> None:
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.FCM_TIMEOUT), transport=self.transport
        )

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None

    # --- configuration ------------------------------------------------------------------

    def connection(self, brand) -> tuple[str, dict, bool]:
        """(project id, service account, validate only) of the brand; PermanentError if none."""
        from kommunikation.models import PushConnection

        if brand.pk not in self._connections:
            found = PushConnection.objects.filter(brand_id=brand.pk, active=True).first()
            if found is None and settings.FCM_SERVICE_ACCOUNTS.get(brand.slug.lower()):
                found = PushConnection(brand=brand)  # only the environment's account
            config = None
            if found is not None:
                info = found.service_account_info()
                project = found.project_id or str((info or {}).get("project_id") or "")
                config = (project, info, found.validate_only) if info and project else None
            self._connections[brand.pk] = config
        config = self._connections[brand.pk]
        if config is None:
            raise PermanentError(
                _(
                    "Für %(brand)s ist kein Push (Firebase-Dienstkonto) eingerichtet oder "
                    "die Schlüsseldatei ist nicht lesbar."
                )
                % {"brand": brand}
            )
        return config

    def access_token(self, info: dict, *, renew: bool = False) -> str:
        """A valid access token of the service account, minted only when needed."""
        creds = credentials_for(info)
        if creds.valid and not renew:
            return creds.token
        if self.client is None:
            self.open()
        try:
            creds.refresh(HttpxRequest(self.client))
        except google_exceptions.TransportError as exc:
            raise TransientError(
                _("Google-Anmeldung nicht erreichbar: %(error)s") % {"error": exc}
            ) from exc
        except google_exceptions.RefreshError as exc:
            if getattr(exc, "retryable", False):
                raise TransientError(
                    _("Google-Anmeldung vorübergehend gestört: %(error)s") % {"error": exc}
                ) from exc
            raise PermanentError(
                _(
                    "Google lehnt das Firebase-Dienstkonto ab (%(error)s). Bitte in der "
                    "Verwaltung unter „Push-Verbindungen“ eine gültige Schlüsseldatei hinterlegen."
                )
                % {"error": exc}
            ) from exc
        return creds.token

    # --- sending ------------------------------------------------------------------------

    def payload(self, out: Outgoing, *, validate_only: bool) -> dict:
        message: dict = {
            "token": out.recipient,
            "notification": {"title": out.subject or str(out.brand), "body": out.text},
            # data values must be strings (FCM refuses numbers with INVALID_ARGUMENT)
            "data": {"outbound_id": str(out.outbound_id), "brand": out.brand.slug},
        }
        if out.template_key:
            message["data"]["template"] = out.template_key
            message["fcm_options"] = {"analytics_label": out.template_key[:50]}
        return {"validate_only": validate_only, "message": message}

    def send(self, out: Outgoing) -> SendResult:
        project, info, validate_only = self.connection(out.brand)
        if self.client is None:
            self.open()
        url = f"{settings.FCM_BASE_URL}/v1/projects/{project}/messages:send"
        body = self.payload(out, validate_only=validate_only)
        response = self._post(url, body, self.access_token(info))
        if response.status_code == 401 and not _error_of(response)[0]:
            # our token was refused (revoked, clock skew): a new one, once
            response = self._post(url, body, self.access_token(info, renew=True))
        if response.is_success:
            try:
                name = str(response.json().get("name") or "")
            except (ValueError, AttributeError):
                name = ""
            if not name:
                raise PermanentError(_("Firebase hat keine Nachrichten-ID zurückgegeben."))
            return SendResult(provider_id=name)
        raise self._error(response, out)

    def _post(self, url: str, body: dict, token: str) -> httpx.Response:
        try:
            return self.client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        except httpx.TimeoutException as exc:
            raise TransientError(_("Firebase antwortet nicht (Zeitüberschreitung).")) from exc
        except httpx.TransportError as exc:
            raise TransientError(
                _("Firebase nicht erreichbar: %(error)s") % {"error": exc}
            ) from exc

    def _error(self, response: httpx.Response, out: Outgoing) -> Exception:
        code, status, message, details = _error_of(response)
        http = response.status_code
        detail = f" ({code or status or http}: {message})" if message else f" ({code or http})"
        if code in RETIRE or (
            (code == "INVALID_ARGUMENT" or status == "INVALID_ARGUMENT")
            and _names_the_token(message, details)
        ):
            return retire_device(out, reason=code or "INVALID_ARGUMENT")
        if code in RETRY or http in (429, 500, 502, 503, 504):
            return TransientError(
                _("Firebase vorübergehend nicht verfügbar, neuer Versuch später.") + detail,
                retry_after=_retry_after(response),
            )
        if code == "THIRD_PARTY_AUTH_ERROR":
            return PermanentError(
                _(
                    "Firebase kann nicht an Apple/Web-Push weitergeben: APNs-Schlüssel oder "
                    "Web-Push-Zertifikat in der Firebase-Konsole fehlt oder ist ungültig."
                )
                + detail
            )
        if http in (401, 403):
            return PermanentError(
                _(
                    "Firebase verweigert den Versand: das Dienstkonto darf für dieses Projekt "
                    "nicht senden oder die FCM-API ist nicht aktiviert."
                )
                + detail
            )
        return PermanentError(_("Firebase lehnt die Nachricht ab.") + detail)


def retire_device(out: Outgoing, *, reason: str) -> Exception:
    """The device token is dead: mark its contact point undeliverable (never used again).

    The error to raise: transient when the customer has another device (the next attempt
    picks it), else permanent.
    """
    from kommunikation.models import ContactChannel, ContactPoint, OutboundMessage

    points = ContactPoint.objects.filter(channel=ContactChannel.PUSH, value=out.recipient)
    customer_id = (
        OutboundMessage.objects.filter(pk=out.outbound_id)
        .values_list("customer_id", flat=True)
        .first()
    )
    if customer_id is not None:
        points = points.filter(customer_id=customer_id)
    points.update(bouncing=True)
    text = _("Gerät bei Firebase abgemeldet (%(reason)s), Gerätetoken stillgelegt.") % {
        "reason": reason
    }
    others = ContactPoint.objects.filter(
        customer_id=customer_id, channel=ContactChannel.PUSH, bouncing=False
    )
    if customer_id is not None and others.exists():
        return TransientError(
            text + " " + _("Neuer Versuch an ein anderes Gerät."), retry_after=1.0
        )
    return PermanentError(text)
