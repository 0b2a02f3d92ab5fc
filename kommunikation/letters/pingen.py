"""A small Pingen v2 client (httpx): token, file upload, letter creation, send.

Flow as Pingen's own SDKs do it (reference/letters.md §2): an OAuth2 client-credentials
token from the identity server, cached until shortly before it expires; ``GET
/file-upload`` for a pre-signed target, ``PUT`` the PDF there (no auth header), then
``POST /organisations/{org}/deliveries/letters`` with the upload's url and signature, and
with ``auto_send`` off a separate ``PATCH .../letters/{id}/send``.

Errors become the channel's two errors: 422 (validation) is permanent with Pingen's
reason, 401/403 permanent in plain words, 429 and 5xx and timeouts transient, honouring
``Retry-After``.
"""

from __future__ import annotations

import email.utils
import threading
import time

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

from kommunikation.channels.base import PermanentError, TransientError
from kommunikation.letters.connection import LetterConfig

SCOPE = "letter batch webhook organisation_read"
JSONAPI = "application/vnd.api+json"
# a token is renewed this long before Pingen says it expires (clock skew, a slow request)
TOKEN_MARGIN_SECONDS = 60

# (identity url, client id) -> (access token, expiry as Unix time); shared by the threads of
# a worker so that a batch of letters asks for one token, not one per letter
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
_ORGANISATIONS: dict[tuple[str, str], str] = {}
_LOCK = threading.Lock()


def forget_tokens() -> None:
    with _LOCK:
        _TOKENS.clear()
        _ORGANISATIONS.clear()


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    if raw.isdigit():
        return float(raw)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _reason(response: httpx.Response) -> str:
    """Pingen's JSON:API errors as one line: "title: detail (field)"; else the body's start."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300]
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(errors, list) or not errors:
        return str(payload)[:300]
    parts = []
    for error in errors[:5]:
        if not isinstance(error, dict):
            continue
        text = str(error.get("detail") or error.get("title") or error.get("code") or "")
        source = error.get("source")
        pointer = source.get("pointer") if isinstance(source, dict) else ""
        if pointer:
            text += f" ({str(pointer).rsplit('/', 1)[-1]})"
        parts.append(text)
    return "; ".join(p for p in parts if p)[:500]


def raise_for(response: httpx.Response, *, what: str) -> None:
    """The channel's error for a failed answer of Pingen (nothing for 2xx)."""
    status = response.status_code
    if status < 300:
        return
    if status == 429 or status >= 500:
        raise TransientError(
            _("Pingen (%(what)s) vorübergehend nicht verfügbar: HTTP %(status)s")
            % {"what": what, "status": status},
            retry_after=_retry_after(response),
        )
    if status in (401, 403):
        raise PermanentError(
            _(
                "Pingen lehnt den Zugang ab (HTTP %(status)s): Client-ID, Client-Secret oder "
                "Organisation prüfen (Admin → Briefversand)."
            )
            % {"status": status}
        )
    if status == 422:
        raise PermanentError(
            _("Pingen lehnt den Brief ab: %(reason)s") % {"reason": _reason(response)}
        )
    raise PermanentError(
        _("Pingen (%(what)s) antwortet HTTP %(status)s: %(reason)s")
        % {"what": what, "status": status, "reason": _reason(response)}
    )


class PingenClient:
    """One brand's Pingen account; one HTTP connection pool per dispatch batch."""

    def __init__(self, config: LetterConfig, *, http: httpx.Client | None = None):
        self.config = config
        self.http = http or httpx.Client(timeout=settings.PINGEN_TIMEOUT)
        self._own_http = http is None

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    # --- transport ----------------------------------------------------------------------

    def _call(self, method: str, url: str, *, what: str, **kwargs) -> httpx.Response:
        try:
            return self.http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientError(
                _("Pingen (%(what)s) antwortet nicht rechtzeitig.") % {"what": what}
            ) from exc
        except httpx.TransportError as exc:
            raise TransientError(
                _("Pingen (%(what)s) nicht erreichbar: %(error)s") % {"what": what, "error": exc}
            ) from exc

    @property
    def _key(self) -> tuple[str, str]:
        return (self.config.identity_url, self.config.client_id)

    def token(self) -> str:
        """The cached access token, or a new one from the identity server."""
        with _LOCK:
            cached = _TOKENS.get(self._key)
        if cached and cached[1] > time.time():
            return cached[0]
        if not (self.config.client_id and self.config.client_secret):
            raise PermanentError(
                _("Für Pingen sind keine Zugangsdaten hinterlegt (Admin → Briefversand).")
            )
        response = self._call(
            "POST",
            f"{self.config.identity_url.rstrip('/')}/auth/access-tokens",
            what=_("Anmeldung"),
            data={
                "grant_type": "client_credentials",
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
                "scope": SCOPE,
            },
        )
        if response.status_code in (400, 401):
            # OAuth2 answers a wrong client with 400/401 "invalid_client"
            raise PermanentError(
                _(
                    "Pingen hat die Anmeldung abgelehnt: Client-ID oder Client-Secret sind "
                    "falsch oder gesperrt (%(reason)s)."
                )
                % {"reason": _oauth_reason(response)}
            )
        raise_for(response, what=_("Anmeldung"))
        try:
            payload = response.json()
            token = str(payload["access_token"])
            expires_in = float(payload.get("expires_in") or 0)
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientError(_("Pingen: unlesbare Antwort der Anmeldung.")) from exc
        with _LOCK:
            _TOKENS[self._key] = (
                token,
                time.time() + max(0.0, expires_in - TOKEN_MARGIN_SECONDS),
            )
        return token

    def api(self, method: str, path: str, *, what: str, **kwargs) -> httpx.Response:
        """An API call with the bearer token; a token Pingen no longer takes is renewed once."""
        url = f"{self.config.api_url.rstrip('/')}{path}"
        for attempt in (1, 2):
            headers = {
                "Authorization": f"Bearer {self.token()}",
                "Accept": JSONAPI,
                **({"Content-Type": JSONAPI} if "content" in kwargs else {}),
            }
            response = self._call(method, url, what=what, headers=headers, **kwargs)
            if response.status_code == 401 and attempt == 1:
                with _LOCK:
                    _TOKENS.pop(self._key, None)  # expired early or revoked: one new token
                continue
            raise_for(response, what=what)
            return response
        raise AssertionError("unreachable")

    def _json(self, response: httpx.Response, *keys: str):
        try:
            value = response.json()
            for key in keys:
                value = value[key]
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise TransientError(
                _("Pingen: unerwartete Antwort (%(path)s).") % {"path": ".".join(keys)}
            ) from exc
        return value

    # --- the letter flow ----------------------------------------------------------------

    def organisation(self) -> str:
        if self.config.organisation_id:
            return self.config.organisation_id
        with _LOCK:
            known = _ORGANISATIONS.get(self._key)
        if known:
            return known
        response = self.api("GET", "/organisations", what=_("Organisation"))
        organisation = str(self._json(response, "data")[0]["id"])
        with _LOCK:
            _ORGANISATIONS[self._key] = organisation
        return organisation

    def upload(self, pdf: bytes) -> tuple[str, str]:
        """Put the PDF at a pre-signed upload target; its (url, url_signature)."""
        response = self.api("GET", "/file-upload", what=_("Upload"))
        attributes = self._json(response, "data", "attributes")
        url, signature = attributes.get("url"), attributes.get("url_signature")
        if not url or not signature:
            raise TransientError(_("Pingen: Upload-Ziel ohne Adresse oder Signatur."))
        put = self._call(
            "PUT", url, what=_("Upload"), content=pdf, headers={"Content-Type": "application/pdf"}
        )
        if put.status_code >= 300:
            # an expired pre-signed URL is answered 4xx by the storage: a new one next time
            raise TransientError(
                _("Pingen: Hochladen des PDF fehlgeschlagen (HTTP %(status)s).")
                % {"status": put.status_code},
                retry_after=_retry_after(put),
            )
        return url, signature

    def _send_attributes(self) -> dict:
        return {
            "delivery_product": self.config.delivery_product,
            "print_mode": self.config.print_mode,
            "print_spectrum": self.config.print_spectrum,
        }

    def create_letter(self, *, pdf: bytes, filename: str, meta: dict) -> dict:
        """Upload and create the letter (sent at once with auto_send); Pingen's letter object."""
        url, signature = self.upload(pdf)
        attributes = {
            "file_original_name": filename,
            "file_url": url,
            "file_url_signature": signature,
            "address_position": self.config.address_position,
            "auto_send": self.config.auto_send,
            "meta_data": meta,
        }
        if self.config.auto_send:
            attributes.update(self._send_attributes())
        body = {"data": {"type": "letters", "attributes": attributes}}
        response = self.api(
            "POST",
            f"/organisations/{self.organisation()}/deliveries/letters",
            what=_("Brief anlegen"),
            content=_dumps(body),
        )
        return self._json(response, "data")

    def send_letter(self, letter_id: str) -> dict:
        body = {"data": {"id": letter_id, "type": "letters", "attributes": self._send_attributes()}}
        response = self.api(
            "PATCH",
            f"/organisations/{self.organisation()}/deliveries/letters/{letter_id}/send",
            what=_("Brief senden"),
            content=_dumps(body),
        )
        return self._json(response, "data")


def _oauth_reason(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(payload, dict):
        text = payload.get("error_description") or payload.get("error") or payload.get("message")
        if text:
            return str(text)[:200]
    return _reason(response) or f"HTTP {response.status_code}"


def _dumps(body: dict) -> bytes:
    import json

    return json.dumps(body, ensure_ascii=False).encode()
