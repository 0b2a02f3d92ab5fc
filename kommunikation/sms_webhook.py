"""SMS callbacks of both providers: delivery reports onto the timeline, replies into the
customer's thread, and STOP / STOPP / Abmelden as an opt-out from promotional SMS.

One URL per brand and provider (shared/reference/sms-providers.md):

- ``/webhooks/sms/messagebird/<brand>/``: MessageBird calls it with GET (status reports:
  ``id``, ``reference``, ``recipient``, ``status``, ``statusDatetime``, ...) or POST
  (form or query: an inbound SMS, ``id``, ``originator``, ``recipient``, ``body``,
  ``createdDatetime``). Every request carries ``MessageBird-Signature-JWT``: a JWT signed
  with the account's signing key (HS256/384/512, issuer "MessageBird", ``nbf``/``exp``),
  whose ``url_hash`` is the SHA-256 of the URL called and ``payload_hash`` that of the
  body (absent for an empty body). 404 for a brand without a signing key.
- ``/webhooks/sms/sevenio/<brand>/<secret>/``: seven.io signs nothing by default, so the
  URL carries a secret (SMS_WEBHOOK_SECRET), compared in constant time. Its hooks post
  JSON (``{"webhook_event": "dlr" | "sms_mo", "webhook_timestamp": ..., "data": {...}}``),
  a form or a query of the same fields.

As every webhook of the project: unauthenticated requests are answered 401 and nothing is
stored; the raw request (the body, or the query of a GET) is stored as a
``WebhookDelivery`` before it is used; a replay of the same bytes is the same delivery,
answered 200 and not processed twice; a request that is not the provider's shape is
answered 400 with the reason and stays stored, rejected; an event type we do not handle
is stored and answered 200 with a note. Never a 500.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl

import jwt
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpResponse, HttpResponseNotAllowed
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from compliance.models import CONSENT_CATEGORIES, Consent
from compliance.services import Actor, update_preferences, withdraw_consent
from conversations.ingest import ingest_message
from conversations.models import Channel, Message, WebhookDelivery
from conversations.outbound import record_status
from conversations.webhooks import _finish, _kept_headers, _read_body, _text, store_webhook
from kommunikation.channels.sms import MESSAGEBIRD, SEVENIO, sms_config
from kommunikation.contact import normalize_phone
from kommunikation.models import BusinessEntity, Customer, OutboundMessage, OutboundStatus

log = logging.getLogger(__name__)

STOP_WORDS = frozenset({"stop", "stopp", "abmelden"})
STOP_ACTOR = Actor(label="SMS-Abmeldung (STOP)")
SIGNATURE_HEADER = "MessageBird-Signature-JWT"
JWT_ALGORITHMS = ["HS256", "HS384", "HS512"]

# the providers' statuses -> ours; None: known, but nothing for the timeline
MESSAGEBIRD_STATUSES = {
    "scheduled": None,
    "sent": Message.State.SENT,
    "buffered": Message.State.SENT,
    "delivered": Message.State.DELIVERED,
    "expired": Message.State.FAILED,
    "delivery_failed": Message.State.FAILED,
}
SEVENIO_STATUSES = {
    "ACCEPTED": Message.State.SENT,
    "TRANSMITTED": Message.State.SENT,
    "BUFFERED": Message.State.SENT,
    "DELIVERED": Message.State.DELIVERED,
    "NOTDELIVERED": Message.State.FAILED,
    "EXPIRED": Message.State.FAILED,
    "REJECTED": Message.State.FAILED,
    "FAILED": Message.State.FAILED,
    "UNKNOWN": None,
}


class Malformed(Exception):
    """Not the provider's shape; answered 400 with this reason."""


@dataclass
class Report:
    """A delivery report: which message (provider id, our reference), what and when."""

    provider_id: str
    reference: str
    status: str | None
    raw_status: str
    at: dt.datetime
    detail: str
    event_id: str


@dataclass
class Inbound:
    """An SMS the customer sent: provider id, sender (E.164), our number, text, time."""

    provider_id: str
    sender: str
    recipient: str
    text: str
    at: dt.datetime | None


@dataclass
class Unhandled:
    kind: str


# --- parsing: plain functions over the provider's fields ---------------------------------


def _str(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return ""
    return str(value)


def _time(value: str) -> dt.datetime | None:
    """RFC 3339 (MessageBird) or seven.io's "YYYY-MM-DD hh:mm:ss" (Berlin time) or Unix s."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        try:
            return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = parse_datetime(value.replace(" ", "T", 1) if "T" not in value else value)
    except ValueError:
        return None
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)  # seven.io writes German local time
    return parsed


def _sender(value: str) -> str:
    value = value.strip()
    if not value:
        raise Malformed(_("Der Absender der SMS fehlt."))
    # the providers write MSISDNs (4915112345678); "0049..." and a national "0151..." too
    if value.startswith("00"):
        value = "+" + value[2:]
    elif not value.startswith(("+", "0")):
        value = "+" + value
    try:
        return normalize_phone(value)
    except ValueError as exc:
        raise Malformed(
            _("Der Absender %(value)s ist keine Telefonnummer.") % {"value": value[:40]}
        ) from exc


def parse_messagebird(params: dict[str, str]) -> Report | Inbound:
    """A status report (it has ``status``) or an inbound SMS (``originator`` + ``body``)."""
    provider_id = params.get("id", "").strip()
    if not provider_id or len(provider_id) > 200:
        raise Malformed(_("Die Nachrichten-ID (id) fehlt."))
    if "status" in params:
        raw = params["status"].strip()
        if raw not in MESSAGEBIRD_STATUSES:
            raise Malformed(_("Unbekannter Status: %(status)r") % {"status": raw[:40]})
        when = params.get("statusDatetime", "")
        detail = " ".join(
            part
            for part in (params.get("statusReason", ""), params.get("statusErrorCode", ""))
            if part
        )
        return Report(
            provider_id=provider_id,
            reference=params.get("reference", "").strip(),
            status=MESSAGEBIRD_STATUSES[raw],
            raw_status=raw,
            at=_time(when) or timezone.now(),
            detail=_failure_detail(raw, detail) if MESSAGEBIRD_STATUSES[raw] == "failed" else "",
            event_id=f"{provider_id}:{raw}:{when}"[:200],
        )
    text = params.get("body", params.get("message"))
    if text is None or "originator" not in params:
        raise Malformed(_("Weder Zustellbericht (status) noch SMS (originator, body)."))
    return Inbound(
        provider_id=provider_id,
        sender=_sender(params["originator"]),
        recipient=params.get("recipient", "").strip()[:40],
        text=text,
        at=_time(params.get("createdDatetime", params.get("receive_datetime", ""))),
    )


def _failure_detail(raw: str, detail: str) -> str:
    if raw == "expired":
        reason = _(
            "SMS nicht zugestellt: die Gültigkeit ist abgelaufen (Handy aus oder außer Netz)."
        )
    else:
        reason = _("SMS nicht zugestellt.")
    return f"{reason} {detail}".strip() if detail else reason


def parse_sevenio(payload: dict) -> Report | Inbound | Unhandled:
    """seven.io's hook envelope: ``dlr`` and ``sms_mo``; any other event is Unhandled."""
    kind = _str(payload.get("webhook_event")).strip()
    data = payload.get("data")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            data = None
    if not kind:
        raise Malformed(_("„webhook_event“ fehlt."))
    if kind not in ("dlr", "sms_mo"):
        return Unhandled(kind[:40])
    if not isinstance(data, dict):
        raise Malformed(_("„data“ fehlt oder ist kein Objekt."))
    if kind == "dlr":
        provider_id = _str(data.get("msg_id")).strip()
        if not provider_id or len(provider_id) > 200:
            raise Malformed(_("Die Nachrichten-ID (data.msg_id) fehlt."))
        raw = _str(data.get("status")).strip().upper()
        if raw not in SEVENIO_STATUSES:
            raise Malformed(_("Unbekannter Status: %(status)r") % {"status": raw[:40]})
        when = _str(data.get("timestamp"))
        status = SEVENIO_STATUSES[raw]
        detail = ""
        if status == Message.State.FAILED:
            detail = {
                "EXPIRED": _(
                    "SMS nicht zugestellt: die Gültigkeit ist abgelaufen (Handy aus oder außer Netz)."
                ),
                "REJECTED": _("SMS nicht zugestellt: vom Netz abgewiesen."),
            }.get(raw, _("SMS nicht zugestellt."))
        return Report(
            provider_id=provider_id,
            reference=_str(data.get("foreign_id")).strip(),
            status=status,
            raw_status=raw,
            at=_time(when) or timezone.now(),
            detail=detail,
            event_id=f"{provider_id}:{raw}:{when}"[:200],
        )
    provider_id = _str(data.get("id")).strip()
    if not provider_id or len(provider_id) > 200:
        raise Malformed(_("Die Nachrichten-ID (data.id) fehlt."))
    text = data.get("text")
    if not isinstance(text, str):
        raise Malformed(_("Der Text (data.text) fehlt."))
    return Inbound(
        provider_id=provider_id,
        sender=_sender(_str(data.get("sender"))),
        recipient=_str(data.get("system")).strip()[:40],
        text=text,
        at=_time(_str(data.get("time"))),
    )


def _form(raw: bytes | str) -> dict:
    """A query or form body as a flat dict; ``data[msg_id]`` keys are folded into ``data``."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    flat: dict = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        if key.startswith("data[") and key.endswith("]"):
            inner = flat.setdefault("data", {})
            if isinstance(inner, dict):
                inner[key[5:-1]] = value
        else:
            flat[key] = value
    return flat


# --- signatures ------------------------------------------------------------------------


def _sha256(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def messagebird_signature_ok(token: str, urls: list[str], body: bytes, key: str) -> bool:
    """MessageBird-Signature-JWT: signed with the signing key, from MessageBird, in its time
    window, for this URL (``url_hash``) and this body (``payload_hash``, none when empty)."""
    if not token or not key:
        return False
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=JWT_ALGORITHMS,
            issuer="MessageBird",
            options={"require": ["iss", "nbf", "exp", "url_hash"], "verify_iat": False},
            leeway=1,
        )
    except jwt.InvalidTokenError:
        return False
    url_hash = _str(claims.get("url_hash")).encode()
    if not any(hmac.compare_digest(_sha256(url.encode()).encode(), url_hash) for url in urls):
        return False
    payload_hash = _str(claims.get("payload_hash"))
    if not body:
        return not payload_hash
    return bool(payload_hash) and hmac.compare_digest(_sha256(body).encode(), payload_hash.encode())


def _called_urls(request) -> list[str]:
    """The URL the provider called, as we can know it: as the request arrived, and under
    SITE_URL (behind a proxy that rewrites the host or the scheme)."""
    from django.conf import settings

    urls = [request.build_absolute_uri()]
    public = settings.SITE_URL + request.get_full_path()
    if public not in urls:
        urls.append(public)
    return urls


# --- the views ---------------------------------------------------------------------------


def _raw(request, body: bytes) -> bytes:
    """What is stored: the body, or for a GET the query it came with."""
    if request.method == "GET":
        return request.META.get("QUERY_STRING", "").encode("latin-1", "replace")
    return body


@csrf_exempt
def messagebird_webhook(request, brand: str):
    found = BusinessEntity.objects.filter(slug=brand).first()
    config = sms_config(found) if found is not None else None
    if config is None or not config.signing_key:
        return _text(404, "MessageBird callbacks are not configured for this brand.")
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        body = _read_body(request)
    except RequestDataTooBig:
        return _text(413, "Body too large.")
    token = request.headers.get(SIGNATURE_HEADER, "")
    if not messagebird_signature_ok(token, _called_urls(request), body, config.signing_key):
        return _text(401, f"Missing or wrong {SIGNATURE_HEADER}.")
    params = _form(request.META.get("QUERY_STRING", ""))
    if body:
        if request.content_type == "application/json":
            try:
                loaded = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                loaded = None
            extra = {k: _str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
        else:
            extra = _form(body)
        params.update({k: _str(v) for k, v in extra.items()})
    try:
        event = parse_messagebird({k: _str(v) for k, v in params.items()})
    except Malformed as exc:
        event, problem = None, str(exc)
    else:
        problem = ""
    return _receive(request, found, MESSAGEBIRD, _raw(request, body), event, problem)


@csrf_exempt
def sevenio_webhook(request, brand: str, secret: str):
    found = BusinessEntity.objects.filter(slug=brand).first()
    config = sms_config(found) if found is not None else None
    if config is None or not config.webhook_secret:
        return _text(404, "seven.io callbacks are not configured for this brand.")
    if not hmac.compare_digest(secret.encode(), config.webhook_secret.encode()):
        return _text(401, "Wrong secret in the callback URL.")
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        body = _read_body(request)
    except RequestDataTooBig:
        return _text(413, "Body too large.")
    event, problem = None, ""
    try:
        if request.method == "GET":
            payload = _form(request.META.get("QUERY_STRING", ""))
        elif request.content_type == "application/json" or body.lstrip().startswith(b"{"):
            try:
                payload = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise Malformed(_("Kein gültiges JSON: %(error)s") % {"error": exc}) from exc
        else:
            payload = _form(body)
        if not isinstance(payload, dict):
            raise Malformed(_("Kein JSON-Objekt."))
        event = parse_sevenio(payload)
    except Malformed as exc:
        problem = str(exc)
    return _receive(request, found, SEVENIO, _raw(request, body), event, problem)


def _receive(request, brand, esp: str, raw: bytes, event, problem: str) -> HttpResponse:
    """Store, then act once: the common second half of both views."""
    kind = (
        WebhookDelivery.Kind.INBOUND
        if isinstance(event, Inbound)
        else WebhookDelivery.Kind.TRACKING
    )
    headers = _kept_headers(request)
    headers["Method"] = request.method
    if request.headers.get(SIGNATURE_HEADER):
        headers[SIGNATURE_HEADER] = request.headers[SIGNATURE_HEADER][:2000]
    # the brand is part of what makes a delivery: the same body for another brand is not a replay
    delivery = store_webhook(
        kind=kind, esp=esp, body=raw, headers=headers,
        fingerprint=f"{brand.slug}\n{request.method}\n" + raw.decode("latin-1"),
    )  # fmt: skip
    if delivery.state in (WebhookDelivery.State.OK, WebhookDelivery.State.REJECTED) and (
        delivery.attempts > 1
    ):
        return _text(
            200 if delivery.state == WebhookDelivery.State.OK else 400, "Already received."
        )
    if problem:
        _finish(delivery, WebhookDelivery.State.REJECTED, problem, brand=brand)
        return _text(400, problem)
    try:
        if isinstance(event, Unhandled):
            note = _("Ereignis „%(kind)s“ wird nicht verarbeitet.") % {"kind": event.kind}
            count = 0
        elif isinstance(event, Report):
            note, count = apply_report(brand, event), 1
        else:
            note, count = receive_sms(brand, event, esp=esp), 1
    except Exception as exc:
        # our failure, not the provider's: kept, flagged, and the provider's retry
        # (they retry on 4xx/5xx) processes it again
        log.exception("%s sms webhook for %s failed", esp, brand.slug)
        reason = f"{type(exc).__name__}: {exc}"[:500]
        _finish(delivery, WebhookDelivery.State.FAILED, reason, brand=brand)
        return _text(400, reason)
    _finish(delivery, WebhookDelivery.State.OK, note, events=count, brand=brand)
    return _text(200, note or "OK")


# --- acting on them ----------------------------------------------------------------------


def apply_report(brand: BusinessEntity, report: Report) -> str:
    """The report's status on the message's timeline (forward only, each status once); a
    failure also marks the outbox row failed with the reason. Returns a note ("" if used)."""
    rows = OutboundMessage.objects.filter(brand=brand, channel="sms").select_related("message")
    row = rows.filter(provider_id=report.provider_id).first()
    if row is None and report.reference.isdigit() and len(report.reference) < 18:
        row = rows.filter(pk=int(report.reference)).first()
    if row is None or row.message is None:
        return _("Unbekannte SMS %(id)s.") % {"id": report.provider_id}
    if report.status is None:
        return _("Status „%(status)s“ ohne Folge.") % {"status": report.raw_status}
    with transaction.atomic():
        new = record_status(
            row.message, report.status, report.at,
            provider_event_id=report.event_id, detail=report.detail,
        )  # fmt: skip
        if new and report.status == Message.State.FAILED:
            OutboundMessage.objects.filter(pk=row.pk).update(
                status=OutboundStatus.FAILED, last_error=report.detail[:2000]
            )
    return "" if new else _("Status schon erfasst.")


def is_stop(text: str) -> bool:
    """STOP, STOPP or Abmelden, whatever the case, alone in the message."""
    return text.strip().rstrip(".!").strip().casefold() in STOP_WORDS


def receive_sms(brand: BusinessEntity, sms: Inbound, *, esp: str) -> str:
    """The SMS into the customer's thread (ingest matches the number to a contact point);
    a STOP withdraws the SMS consent for promotional messages and is confirmed by SMS."""
    result = ingest_message(
        brand=brand,
        channel=Channel.SMS,
        sender_address=sms.sender,
        provider_id=sms.provider_id,
        text=sms.text,
        occurred_at=sms.at,
        recipient_address=sms.recipient,
        headers=[("SMS-Provider", esp)],
    )
    if result.outcome == "duplicate" or not is_stop(sms.text):
        return ""
    withdrawn = opt_out(brand=brand, phone=sms.sender)
    confirm_opt_out(brand=brand, phone=sms.sender, conversation=result.conversation,
                    customer=result.conversation.customer, key=sms.provider_id)  # fmt: skip
    return _("Abmeldung per SMS: %(n)s Einwilligungen widerrufen.") % {"n": withdrawn}


def opt_out(*, brand: BusinessEntity, phone: str) -> int:
    """Promotional SMS (marketing, relationship, feedback) off for every customer of the
    brand with this number; returns how many consent records say so now."""
    customers = list(
        Customer.objects.filter(
            brand=brand, contact_points__channel="phone", contact_points__value=phone
        ).distinct()
    )
    before = Consent.objects.filter(customer__in=customers, source=Consent.Source.SMS_STOP).count()
    for customer in customers:
        with transaction.atomic():
            update_preferences(
                customer=customer,
                wanted={("sms", category): False for category in sorted(CONSENT_CATEGORIES)},
                actor=STOP_ACTOR,
                source=Consent.Source.SMS_STOP,
            )
            for category in sorted(CONSENT_CATEGORIES):
                # also where the preference was off already but an old grant is current
                withdraw_consent(
                    customer=customer, purpose=category, channel="sms",
                    source=Consent.Source.SMS_STOP, actor=STOP_ACTOR,
                )  # fmt: skip
    return (
        Consent.objects.filter(customer__in=customers, source=Consent.Source.SMS_STOP).count()
        - before
    )


def confirm_opt_out(*, brand, phone: str, conversation, customer, key: str) -> OutboundMessage:
    """The confirmation, through the outbox like every message we send (a contract message:
    it needs no consent, and the gate's quiet hours apply)."""
    from kommunikation.outbox import enqueue_outbound

    text = _(
        "%(brand)s: Sie erhalten von uns keine Werbe-SMS mehr. Nachrichten zu Ihren Aufträgen "
        "und Rechnungen bekommen Sie weiterhin."
    ) % {"brand": brand.name}
    return enqueue_outbound(
        brand=brand, customer=customer, channels="sms", category="transactional",
        idempotency_key=f"sms-stop:{brand.pk}:{key}"[:200], source="system", to_address=phone,
        text=text, conversation=conversation,
    )  # fmt: skip
