"""WhatsApp Business through Meta's Cloud API (Graph API), one number per brand.

Session messages (text, image, document) go out as they are; media is uploaded to
``/{phone-number-id}/media`` first and sent by its id. Approved templates go out by
name, language code and body parameters in order. Meta answers every failure with
``{"error": {"code": ..., "message": ..., "error_data": {"details": ...}}}``; we branch on
the code (not the HTTP status or the title), see ``classify_error``.

The 24-hour customer service window is checked before a message is queued
(conversations.whatsapp); Meta's 131047 is the last word when it closed meanwhile.
"""

from __future__ import annotations

import contextlib

import httpx
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from kommunikation.channels.base import (
    ChannelAdapter,
    Outgoing,
    PermanentError,
    SendResult,
    TransientError,
)

# rate limits: back off and try again (the pair limit 131056 needs a pause per recipient)
RATE_LIMITS = {4, 80007, 130429, 131056}
# Meta's side is down or unsure: try again
TEMPORARY = {1, 2, 131000, 131016}
AUTH = {0, 190}
RETRY_AFTER_SECONDS = {130429: 60.0, 131056: 60.0, 4: 300.0, 80007: 300.0}


def error_reason(code: int | None, message: str = "", details: str = "") -> str:
    """The German reason shown in the thread for one of Meta's error codes."""
    extra = f" ({details or message})" if (details or message) else ""
    if code == 131047:
        return _("Außerhalb des 24-Stunden-Fensters: nur eine freigegebene Vorlage möglich")
    if code == 131026:
        return _(
            "Nachricht nicht zustellbar: die Nummer ist nicht bei WhatsApp, die App ist "
            "veraltet oder der Empfänger hat die Nutzungsbedingungen nicht akzeptiert."
        )
    if code in (130429, 4, 80007):
        return _("Sendelimit von WhatsApp erreicht, neuer Versuch später.") + extra
    if code == 131056:
        return _("Zu viele Nachrichten an diesen Empfänger in kurzer Zeit, neuer Versuch später.")
    if code == 131051:
        return _("Dieser Nachrichtentyp wird von WhatsApp nicht unterstützt.")
    if code in AUTH:
        return _(
            "Der WhatsApp-Zugriffstoken ist abgelaufen oder ungültig. Bitte in der Verwaltung "
            "unter „WhatsApp-Nummern“ einen gültigen (dauerhaften) Token hinterlegen."
        )
    if code == 131050:
        return _("Der Empfänger möchte keine Marketing-Nachrichten über WhatsApp erhalten.")
    if code in (132000, 132001, 132012):
        return _("Die Vorlage passt nicht zur freigegebenen Vorlage bei Meta") + extra
    return _("WhatsApp-Fehler %(code)s") % {"code": code} + extra


def classify_error(
    code: int | None, message: str = "", details: str = "", *, status: int = 0
) -> TransientError | PermanentError:
    """The error to raise for one of Meta's answers (also used for failed statuses)."""
    reason = error_reason(code, message, details)
    if code in RATE_LIMITS:
        return TransientError(reason, retry_after=RETRY_AFTER_SECONDS.get(code))
    if code in TEMPORARY or status >= 500 or status == 429:
        return TransientError(reason)
    if status == 401:
        return PermanentError(error_reason(190))
    return PermanentError(reason)


def graph_url(path: str) -> str:
    return f"{settings.WHATSAPP_GRAPH_URL}/{settings.WHATSAPP_API_VERSION}/{path.lstrip('/')}"


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    code = error.get("code")
    code = code if isinstance(code, int) else None
    details = (
        error.get("error_data", {}).get("details", "")
        if isinstance(error.get("error_data"), dict)
        else ""
    )
    exc = classify_error(
        code, str(error.get("message") or ""), str(details), status=response.status_code
    )
    if isinstance(exc, TransientError) and exc.retry_after is None:
        with contextlib.suppress(ValueError):
            exc.retry_after = float(response.headers.get("Retry-After", "")) or None
    if code is None and response.status_code < 500:
        exc = (
            PermanentError(error_reason(190))
            if response.status_code in (401, 403)
            else type(exc)(
                _("WhatsApp antwortet mit HTTP %(status)s.") % {"status": response.status_code}
            )
        )
    raise exc


def _recipient(value: str) -> dict:
    """Meta's ``to``: a phone in international form, or (from 2026) a business-scoped user id."""
    return {"recipient_type": "individual", "to": value.strip()}


class WhatsAppChannel(ChannelAdapter):
    name = "whatsapp"

    @classmethod
    def reports_delivery(cls) -> bool:
        return True  # Meta's "delivered" / "read" statuses (conversations/whatsapp.py)

    def __init__(self, *, transport: httpx.BaseTransport | None = None):
        self.client: httpx.Client | None = None
        self.transport = transport
        self._accounts: dict[int, object] = {}

    def open(self) -> None:
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.WHATSAPP_TIMEOUT), transport=self.transport
        )

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None

    def account(self, brand):
        from kommunikation.models import WhatsAppNumber

        if brand.pk not in self._accounts:
            self._accounts[brand.pk] = WhatsAppNumber.objects.filter(
                brand_id=brand.pk, active=True
            ).first()
        account = self._accounts[brand.pk]
        if account is None:
            raise PermanentError(
                _("Für %(brand)s ist keine WhatsApp-Nummer eingerichtet.") % {"brand": brand}
            )
        if not account.effective_access_token:
            raise PermanentError(error_reason(190))
        return account

    def _post(self, account, path: str, **kwargs) -> dict:
        if self.client is None:
            self.open()
        headers = {"Authorization": f"Bearer {account.effective_access_token}"}
        try:
            response = self.client.post(graph_url(path), headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientError(_("WhatsApp antwortet nicht (Zeitüberschreitung).")) from exc
        except httpx.TransportError as exc:
            raise TransientError(
                _("WhatsApp nicht erreichbar: %(error)s") % {"error": exc}
            ) from exc
        _raise_for(response)
        try:
            data = response.json()
        except ValueError as exc:
            raise TransientError(_("WhatsApp antwortet nicht lesbar.")) from exc
        return data if isinstance(data, dict) else {}

    def upload(self, account, item: dict) -> str:
        """Upload one stored attachment to the number's media endpoint; its media id."""
        content_type = item.get("content_type") or "application/octet-stream"
        with default_storage.open(item["path"], "rb") as handle:
            data = handle.read()
        answer = self._post(
            account,
            f"{account.phone_number_id}/media",
            data={"messaging_product": "whatsapp", "type": content_type},
            files={"file": (item["filename"], data, content_type)},
        )
        media_id = str(answer.get("id") or "")
        if not media_id:
            raise TransientError(_("WhatsApp hat keine Medien-ID zurückgegeben."))
        return media_id

    def payloads(self, account, out: Outgoing) -> list[dict]:
        base = {"messaging_product": "whatsapp", **_recipient(out.recipient)}
        if out.template is not None:
            name, language, params = out.template
            template = {"name": name, "language": {"code": language}}
            if params:
                template["components"] = [
                    {"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}
                ]
            return [{**base, "type": "template", "template": template}]
        if not out.attachments:
            return [{**base, "type": "text", "text": {"preview_url": False, "body": out.text}}]
        messages = []
        for index, item in enumerate(out.attachments):
            media_id = self.upload(account, item)
            content_type = item.get("content_type") or ""
            kind = "image" if content_type.startswith("image/") else "document"
            media: dict = {"id": media_id}
            if kind == "document":
                media["filename"] = item["filename"]
            if index == 0 and out.text:
                media["caption"] = out.text  # the text goes with the first file
            messages.append({**base, "type": kind, kind: media})
        return messages

    def send(self, out: Outgoing) -> SendResult:
        account = self.account(out.brand)
        provider_id = ""
        for payload in self.payloads(account, out):
            answer = self._post(account, f"{account.phone_number_id}/messages", json=payload)
            messages = answer.get("messages") or [{}]
            wamid = str(messages[0].get("id") or "") if isinstance(messages[0], dict) else ""
            if not wamid:
                raise PermanentError(_("WhatsApp hat keine Nachrichten-ID zurückgegeben."))
            provider_id = provider_id or wamid  # the first carries the text: its statuses count
        return SendResult(provider_id=provider_id)


def download_media(
    account, media_id: str, *, client: httpx.Client | None = None
) -> tuple[bytes, str]:
    """An inbound media file: ``GET /{media-id}`` gives a short-lived URL, which is then
    fetched with the same token. Returns (bytes, mime type); raises TransientError."""
    headers = {"Authorization": f"Bearer {account.effective_access_token}"}
    own = client is None
    client = client or httpx.Client(timeout=httpx.Timeout(settings.WHATSAPP_TIMEOUT))
    try:
        response = client.get(graph_url(media_id), headers=headers)
        _raise_for(response)
        info = response.json()
        url = str(info.get("url") or "") if isinstance(info, dict) else ""
        if not url.startswith(("https://", "http://")):
            raise TransientError(_("WhatsApp nennt keine Adresse für die Datei."))
        with client.stream("GET", url, headers=headers) as file:
            _raise_for(file)
            chunks, size = [], 0
            for chunk in file.iter_bytes():
                size += len(chunk)
                if size > settings.WHATSAPP_MEDIA_MAX_BYTES:
                    raise PermanentError(_("Die Datei ist zu groß."))
                chunks.append(chunk)
        mime = str(info.get("mime_type") or file.headers.get("Content-Type") or "")
        return b"".join(chunks), mime or "application/octet-stream"
    except httpx.TimeoutException as exc:
        raise TransientError(_("WhatsApp antwortet nicht (Zeitüberschreitung).")) from exc
    except (httpx.TransportError, ValueError) as exc:
        raise TransientError(_("Datei nicht abrufbar: %(error)s") % {"error": exc}) from exc
    finally:
        if own:
            client.close()
