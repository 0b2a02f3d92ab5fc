"""Pingen's status callbacks: /webhooks/pingen/<brand>/, one URL per brand.

As every webhook of the project (conversations/webhooks.py): 404 for a brand without a
signing key; 401 unless the ``Signature`` header is the hex HMAC-SHA256 of the raw body
under the brand's signing key (constant time; nothing unauthenticated is stored); the
raw body stored first (``WebhookDelivery``), a replay of the same bytes answered 200
without doing anything twice; a body that is not a Pingen event 400 with the reason,
kept "rejected". Never a 500.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, HttpResponseNotAllowed
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from conversations.models import WebhookDelivery
from conversations.webhooks import _finish, _kept_headers, _read_body, _text, store_webhook
from kommunikation.letters.connection import letter_config
from kommunikation.letters.models import Letter, PostalStatus
from kommunikation.letters.services import apply_postal_status
from kommunikation.models import BusinessEntity

log = logging.getLogger(__name__)

ESP = "pingen"

# the webhook's category (data.type) -> postal status
CATEGORIES = {
    "webhook_issues": PostalStatus.ISSUE,
    "webhook_sent": PostalStatus.SENT,
    "webhook_undeliverable": PostalStatus.UNDELIVERABLE,
    "webhook_delivered": PostalStatus.DELIVERED,
}
# an issue whose letter Pingen gave up on is final
FINAL_LETTER_STATES = {"invalid": PostalStatus.FAILED, "cancelled": PostalStatus.CANCELLED}


class MalformedEvent(Exception):
    pass


@dataclass
class PingenEvent:
    letter_id: str
    status: str
    at: dt.datetime
    detail: str


def signature_ok(body: bytes, given: str, secret: str) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.strip().lower().encode(), expected.encode())


def _dict(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise MalformedEvent(_("%(what)s fehlt oder ist kein Objekt.") % {"what": what})
    return value


def parse_event(body: bytes) -> PingenEvent:
    """The letter, postal status, time and detail of one Pingen webhook body."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(_("Kein JSON: %(error)s") % {"error": exc}) from exc
    data = _dict(_dict(payload, "Inhalt").get("data"), "data")
    kind = data.get("type")
    if kind not in CATEGORIES:
        raise MalformedEvent(_("Unbekannter Ereignistyp: %(type)r") % {"type": kind})
    relationships = _dict(data.get("relationships"), "data.relationships")
    letter_ref = _dict(
        _dict(relationships.get("letter"), "relationships.letter").get("data"), "letter.data"
    )
    letter_id = letter_ref.get("id")
    if not isinstance(letter_id, str) or not letter_id or len(letter_id) > 100:
        raise MalformedEvent(_("Die Brief-ID fehlt (relationships.letter.data.id)."))
    attributes = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
    included = payload.get("included") if isinstance(payload.get("included"), list) else []
    letter_state, event = "", {}
    for item in included:
        if not isinstance(item, dict) or not isinstance(item.get("attributes"), dict):
            continue
        if item.get("type") == "letters" and item.get("id") == letter_id:
            letter_state = str(item["attributes"].get("status") or "")
        elif item.get("type") == "letters_events":
            event = item["attributes"]
    status = CATEGORIES[kind]
    if status == PostalStatus.ISSUE and letter_state in FINAL_LETTER_STATES:
        status = FINAL_LETTER_STATES[letter_state]
    raw_at = event.get("emitted_at") or attributes.get("created_at")
    at = parse_datetime(raw_at) if isinstance(raw_at, str) else None
    if at is None:
        at = timezone.now()
    elif timezone.is_naive(at):
        at = timezone.make_aware(at, dt.UTC)
    detail = ""
    if status not in (PostalStatus.SENT, PostalStatus.DELIVERED):
        detail = str(event.get("name") or attributes.get("reason") or event.get("code") or "")
    return PingenEvent(letter_id=letter_id, status=status, at=at, detail=detail[:200])


@csrf_exempt
def pingen_webhook(request, brand: str):
    found = BusinessEntity.objects.filter(slug=brand).first()
    secret = letter_config(found).webhook_secret if found is not None else ""
    if not secret:
        return _text(404, "Pingen webhooks are not configured for this brand.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        body = _read_body(request)
    except RequestDataTooBig:
        return _text(413, "Body too large.")
    if not signature_ok(body, request.headers.get("Signature", ""), secret):
        return _text(401, "Missing or wrong signature.")
    delivery = store_webhook(kind=WebhookDelivery.Kind.TRACKING, esp=ESP, body=body,
                             headers=_kept_headers(request))  # fmt: skip
    if delivery.state == WebhookDelivery.State.OK:
        return _text(200, "Already processed.")
    try:
        event = parse_event(body)
    except MalformedEvent as exc:
        _finish(delivery, WebhookDelivery.State.REJECTED, str(exc), brand=found)
        return _text(400, str(exc))
    letter = Letter.objects.filter(brand=found, provider_id=event.letter_id).first()
    if letter is None:
        reason = _("Unbekannter Brief %(id)s.") % {"id": event.letter_id}
        _finish(delivery, WebhookDelivery.State.OK, reason, events=1, brand=found)
        return _text(200, reason)
    try:
        apply_postal_status(letter, event.status, at=event.at, detail=event.detail)
    except Exception as exc:
        # our failure, not Pingen's: kept, flagged, and Pingen's retry processes it again
        log.exception("pingen webhook for letter %s failed", letter.pk)
        reason = f"{type(exc).__name__}: {exc}"[:500]
        _finish(delivery, WebhookDelivery.State.FAILED, reason, events=1, brand=found)
        return _text(400, reason)
    _finish(delivery, WebhookDelivery.State.OK, events=1, brand=found)
    return HttpResponse("OK", content_type="text/plain")
