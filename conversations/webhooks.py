"""anymail's webhooks under /webhooks/: inbound mail becomes ingested mail.

anymail authenticates every call with the basic-auth WEBHOOK_SECRET (a wrong or
missing secret answers 400 and changes nothing) and hands us a parsed message;
we give its bytes to the one ingestion service.
"""

from __future__ import annotations

import logging

import anymail.urls
from anymail.signals import inbound
from django.dispatch import receiver
from django.urls import path

from conversations.ingest import ingest_raw_email
from conversations.routing import route_inbound

log = logging.getLogger(__name__)


def anymail_webhook_urls() -> list:
    """anymail's views as /webhooks/inbound/<esp>/ and /webhooks/tracking/<esp>/."""
    patterns = []
    for pattern in anymail.urls.urlpatterns:
        name = pattern.name or ""
        for kind in ("inbound", "tracking"):
            suffix = f"_{kind}_webhook"
            if name.endswith(suffix):
                esp = name.removesuffix(suffix)
                patterns.append(path(f"{kind}/{esp}/", pattern.callback, name=name))
    return patterns


@receiver(inbound, dispatch_uid="conversations.inbound")
def handle_inbound(sender, event, esp_name: str, **kwargs) -> None:
    message = event.message
    recipients = [str(getattr(message, "envelope_recipient", "") or "")]
    recipients += [a.addr_spec for a in (message.to or []) + (message.cc or [])]
    brand, mailbox = route_inbound(recipients)
    raw = message.as_bytes()
    result = ingest_raw_email(
        raw, brand=brand, mailbox=mailbox, source=f"webhook:{esp_name}:{event.event_id or ''}"
    )
    log.info("inbound via %s: %s", esp_name, result.outcome)
