"""Delivery status back onto the message: anymail's tracking webhook, and for plain
SMTP our own open pixel and click redirect (signed URLs, promotional mail only)."""

from __future__ import annotations

import base64
import logging
import re

from anymail.signals import tracking
from django.conf import settings
from django.core import signing
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from compliance.models import Suppression
from compliance.services import Actor, UnsubscribeTarget, suppress_address, unsubscribe
from conversations.outbound import record_note, record_status
from conversations.webhooks import RejectedPayload
from kommunikation.models import BusinessEntity, OutboundMessage

log = logging.getLogger(__name__)

TRACKING_SALT = "kommunikation.tracking"
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
WEBHOOK_ACTOR = Actor(label="Zustellstatus (Webhook)")

# href="http..." in an <a> tag; our own links (unsubscribe, preferences) stay as they are
_LINK = re.compile(r'(<a\b[^>]*?\bhref=)(["\'])(https?://[^"\'\s>]+)\2', re.IGNORECASE)


def _sign(data: dict) -> str:
    return signing.dumps(data, salt=TRACKING_SALT, compress=True)


def add_tracking(html: str, *, outbound_id: int) -> str:
    """Route external links through the click redirect and add the open pixel."""

    def rewrite(match: re.Match) -> str:
        url = match.group(3).replace("&amp;", "&")
        if url.startswith(settings.SITE_URL):
            return match.group(0)
        token = _sign({"o": outbound_id, "u": url})
        tracked = settings.SITE_URL + reverse("tracking_click", args=[token])
        return f"{match.group(1)}{match.group(2)}{escape(tracked)}{match.group(2)}"

    html = _LINK.sub(rewrite, html)
    pixel_url = settings.SITE_URL + reverse("tracking_open", args=[_sign({"o": outbound_id})])
    pixel = f'<img src="{escape(pixel_url)}" width="1" height="1" alt="" style="border:0">'
    return html.replace("</body>", pixel + "</body>") if "</body>" in html else html + pixel


def _tracked_row(token: str) -> tuple[OutboundMessage, dict] | None:
    """The row a signed tracking link names, or None for anything else (a 400).

    The signature proves we made the token, not that its payload fits today's code."""
    try:
        data = signing.loads(token, salt=TRACKING_SALT)
        pk = data["o"]
        if type(pk) is not int or not 0 < pk < 2**63:
            return None
        if "u" in data and not str(data["u"]).startswith(("https://", "http://")):
            return None
        row = OutboundMessage.objects.select_related("message").get(pk=pk)
    except (signing.BadSignature, OutboundMessage.DoesNotExist, KeyError, TypeError):
        return None
    return row, data


@never_cache
@require_GET
def open_pixel(request, token: str):
    found = _tracked_row(token)
    if found is None:
        return HttpResponseBadRequest(_("Ungültiger Link."))
    if found[0].message is not None:
        record_status(found[0].message, "opened", detail="Zählpixel")
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def click(request, token: str):
    found = _tracked_row(token)
    if found is None or "u" not in found[1]:
        return HttpResponseBadRequest(_("Ungültiger Link."))
    row, data = found
    if row.message is not None:
        record_status(row.message, "clicked", detail=data["u"])
    # the target is inside the signature: no open redirect
    return HttpResponseRedirect(data["u"])


# --- messenger invites (issue 11 §5, seed 003) ---------------------------------------
# A WhatsApp click-to-chat link in an email or SMS goes through our redirect, counted as a
# click on the message. The token names only the outbox row (short enough for an SMS);
# the target is the brand's number with the prefilled text for that row.

INVITE_SALT = "kommunikation.tracking.invite"


def invite_target(row: OutboundMessage) -> str:
    """The click-to-chat address behind a row's invite ("" when the brand has no number)."""
    from templates_app.invites import click_to_chat_url, invite_text

    customer = row.customer
    text = invite_text(
        language=row.language
        or (customer.language if customer else "")
        or row.brand.default_language,
        brand_name=row.brand.name,
        reference=customer.number if customer else "",
    )
    return click_to_chat_url(row.brand.whatsapp_number, text)


def invite_link(row: OutboundMessage) -> str:
    """The tracked invite link of a row ("" when the brand has no WhatsApp number)."""
    if not row.brand.whatsapp_number:  # the brand's number (BusinessEntity), no query
        return ""
    token = signing.dumps(row.pk, salt=INVITE_SALT)
    return settings.SITE_URL + reverse("tracking_invite", args=[token])


@never_cache
@require_GET
def invite(request, token: str):
    try:
        pk = signing.loads(token, salt=INVITE_SALT)
    except signing.BadSignature:
        return HttpResponseBadRequest(_("Ungültiger Link."))
    if type(pk) is not int or not 0 < pk < 2**63:
        return HttpResponseBadRequest(_("Ungültiger Link."))
    row = (
        OutboundMessage.objects.select_related("message", "brand", "customer").filter(pk=pk).first()
    )
    target = invite_target(row) if row is not None else ""
    if not target:
        return HttpResponse(_("Diese Einladung gilt nicht mehr."), status=410)
    if row.message is not None:
        record_status(row.message, "clicked", detail=_("WhatsApp-Einladung geöffnet"))
    return HttpResponseRedirect(target)


# --- anymail's tracking webhook -------------------------------------------------------


def _row_for_event(event) -> OutboundMessage | None:
    outbound_id = (event.metadata or {}).get("outbound_id")
    rows = OutboundMessage.objects.select_related("message", "customer", "brand")
    if outbound_id and str(outbound_id).isdigit():
        row = rows.filter(pk=int(outbound_id)).first()
        if row is not None:
            return row
    if event.message_id:
        return rows.filter(provider_id=event.message_id).first()
    return None


@receiver(tracking, dispatch_uid="kommunikation.tracking")
def handle_tracking(sender, event, esp_name: str, **kwargs) -> BusinessEntity | None:
    """Map an ESP event onto the message; hard bounces and complaints are suppressed.

    Repeated deliveries of the same event (ESPs retry) change nothing the second time.
    Returns the brand of the message it concerns (the webhook delivery is filed under it).
    """
    if not (event.message_id or event.recipient or event.metadata):
        # `{}` or a payload of another kind: nothing that names a message or an address
        raise RejectedPayload(_("Kein Zustellereignis: weder Nachricht noch Empfänger angegeben."))
    row = _row_for_event(event)
    recipient = (event.recipient or (row.recipient if row else "")).lower()
    at = event.timestamp or timezone.now()
    kind = event.event_type
    detail = event.description or event.mta_response or event.reject_reason or ""
    hard_bounce = (kind == "bounced" and event.reject_reason in ("invalid", "bounced", None)) or (
        kind == "rejected" and event.reject_reason in ("invalid", "bounced")
    )
    if isinstance(event.esp_event, dict) and event.esp_event.get("Type") == "SoftBounce":
        # anymail files Postmark's soft bounces under "bounced" too; a full mailbox
        # must not end up on the suppression list
        hard_bounce = False
    if hard_bounce and recipient:
        suppress_address(
                channel="email", value=recipient, reason=Suppression.Reason.HARD_BOUNCE,
                actor=WEBHOOK_ACTOR, detail=f"{esp_name}: {detail}",
            )  # fmt: skip
    if kind == "complained" and recipient:
        suppress_address(
            channel="email", value=recipient, reason=Suppression.Reason.COMPLAINT,
            actor=WEBHOOK_ACTOR, detail=esp_name,
        )  # fmt: skip
    if row is None:
        log.info("tracking %s from %s for an unknown message %s", kind, esp_name, event.message_id)
        return None
    message = row.message
    if kind == "complained" and message is not None:
        record_note(message, "Spam-Beschwerde", at=at)
    if kind == "unsubscribed":
        if message is not None:
            record_note(message, "abgemeldet", at=at)
        if row.customer is not None:
            unsubscribe(
                UnsubscribeTarget(row.customer, "email", row.category, recipient),
                actor=WEBHOOK_ACTOR,
            )
    status = {
        "delivered": "delivered",
        "opened": "opened",
        "clicked": "clicked",
        "bounced": "bounced",
        "rejected": "failed",
        "failed": "failed",
    }.get(kind)
    if status == "clicked":
        detail = event.click_url or detail
    if status and message is not None:
        record_status(message, status, at, provider_event_id=event.event_id, detail=detail)
    return row.brand
