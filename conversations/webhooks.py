"""anymail's webhooks under /webhooks/: inbound mail becomes ingested mail.

Every call must carry the basic-auth WEBHOOK_SECRET: we check it first and answer
401 with the reason (anymail would say 400), then anymail checks it again, parses
the ESP's payload and hands us a parsed message; we give its bytes to the one
ingestion service. Without a configured secret every webhook is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from functools import wraps

import anymail.urls
from anymail.signals import inbound
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from conversations.ingest import ingest_raw_email
from conversations.routing import route_inbound

log = logging.getLogger(__name__)


def _configured_secrets() -> list[bytes]:
    secret = (settings.ANYMAIL or {}).get("WEBHOOK_SECRET")
    if not secret:
        return []
    return [s.encode() for s in ([secret] if isinstance(secret, str) else secret)]


def require_webhook_secret(view):
    """401 unless the request's basic auth is one of the configured secrets."""

    @csrf_exempt
    @wraps(view)
    def checked(request, *args, **kwargs):
        secrets = _configured_secrets()
        header = request.headers.get("Authorization", "")
        given = b""
        if header.lower().startswith("basic "):
            try:
                given = base64.b64decode(header[6:].strip(), validate=True)
            except ValueError:
                given = b""
        # compare with every secret, in constant time, so timing tells nothing
        matches = [hmac.compare_digest(given, secret) for secret in secrets]
        if not any(matches):
            reason = (
                "Webhook secret not configured (ANYMAIL_WEBHOOK_SECRET)."
                if not secrets
                else "Missing or wrong webhook credentials."
            )
            response = HttpResponse(reason, status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Basic realm="webhooks"'
            return response
        return view(request, *args, **kwargs)

    return checked


def anymail_webhook_urls() -> list:
    """anymail's views as /webhooks/inbound/<esp>/ and /webhooks/tracking/<esp>/."""
    patterns = []
    for pattern in anymail.urls.urlpatterns:
        name = pattern.name or ""
        for kind in ("inbound", "tracking"):
            suffix = f"_{kind}_webhook"
            if name.endswith(suffix):
                esp = name.removesuffix(suffix)
                view = require_webhook_secret(pattern.callback)
                patterns.append(path(f"{kind}/{esp}/", view, name=name))
    return patterns


@receiver(inbound, dispatch_uid="conversations.inbound")
def handle_inbound(sender, event, esp_name: str, **kwargs) -> None:
    message = event.message
    envelope = [str(getattr(message, "envelope_recipient", "") or "")]
    recipients = envelope + [a.addr_spec for a in (message.to or []) + (message.cc or [])]
    # a mailbox's address fixes brand and mailbox; else ingestion routes by the message
    brand, mailbox = route_inbound(recipients)
    raw = _raw_bytes(event)
    result = ingest_raw_email(
        raw,
        brand=brand,
        mailbox=mailbox,
        source=f"webhook:{esp_name}:{event.event_id or ''}",
        envelope_recipients=envelope,
    )
    log.info("inbound via %s: %s", esp_name, result.outcome)


def _raw_bytes(event) -> bytes:
    """The message as bytes, the same bytes for the same webhook payload.

    Where the ESP sends only parsed fields, anymail builds a MIME message whose
    multipart boundaries would be random on every call; an ESP's retry of the same
    payload would then look like a different message under the same Message-ID.
    Boundaries derived from the payload keep the dedupe exact. Attachments that
    anymail builds without a transfer encoding would be written as raw bytes, line
    endings mangled: they get base64."""
    message = event.message
    payload = event.esp_event if isinstance(event.esp_event, dict) else str(event.event_id)
    seed = hashlib.sha256(
        json.dumps(payload, sort_keys=True, default=str).encode("utf-8", "surrogatepass")
    ).hexdigest()[:24]
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            if part.get_boundary() is None:
                part.set_boundary(f"=_kk{seed}_{index}")
        elif part.get("Content-Transfer-Encoding") is None and part.get_content_maintype() != (
            "message"
        ):
            data = part.get_payload(decode=True) or b""
            part["Content-Transfer-Encoding"] = "base64"
            part.set_payload(base64.encodebytes(data).decode("ascii"))
    return message.as_bytes()
