"""anymail's webhooks under /webhooks/: inbound mail becomes ingested mail, delivery
status goes onto the message (kommunikation.tracking).

Every call goes through the same steps, so that nothing an ESP sends is lost and
no body, however broken, answers 500:

1. 404 unless webhooks are configured at all (ANYMAIL_WEBHOOK_SECRET);
2. 401 unless the request's basic auth is one of the configured secrets (checked
   here in constant time, with the reason; anymail would say 400). Nothing
   unauthenticated is stored;
3. the raw body is stored as a ``WebhookDelivery`` before anything parses it; a
   retry of the same bytes is another attempt of the same delivery, and one that
   was processed already is answered 200 without doing anything twice;
4. 404 (the body kept) unless anymail can build this ESP's view from the settings
   (Mailgun's signing key, Mandrill's webhook key, ...);
5. anymail validates and parses it; what fails the ESP's signature or cannot be
   parsed is answered 400 with the reason and stays stored, "rejected", visible
   in the admin;
6. each event goes to the receivers (``handle_inbound`` below, ``handle_tracking``
   in kommunikation). A receiver raises ``RejectedPayload`` for a payload that
   parses but says nothing (``{}``), and returns the brand it concerns, which
   files the delivery under that brand.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from functools import wraps

import anymail.urls
from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.signals import inbound
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.db import connection
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseNotAllowed
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from conversations.ingest import ingest_raw_email
from conversations.models import Message, WebhookDelivery
from conversations.routing import route_inbound
from kommunikation.models import BusinessEntity

log = logging.getLogger(__name__)

# request headers kept with a delivery: enough to tell what sent it and how, never
# credentials (Authorization, Cookie)
KEPT_HEADERS = ("Content-Type", "Content-Length", "User-Agent", "X-Forwarded-For")
KEPT_HEADER_PREFIXES = ("X-Mailgun", "X-Twilio", "X-Amz-Sns", "X-Postmark", "Webhook-", "Svix-")


class RejectedPayload(Exception):
    """A receiver's verdict on a payload that parses but cannot be used; answered 400."""


def _configured_secrets() -> list[bytes]:
    secret = (settings.ANYMAIL or {}).get("WEBHOOK_SECRET")
    if not secret:
        return []
    return [s.encode() for s in ([secret] if isinstance(secret, str) else secret)]


def _text(status: int, reason: str) -> HttpResponse:
    return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")


def _authorized(request, secrets: list[bytes]) -> bool:
    header = request.headers.get("Authorization", "")
    given = b""
    if header.lower().startswith("basic "):
        try:
            given = base64.b64decode(header[6:].strip(), validate=True)
        except ValueError:
            given = b""
    # compare with every secret, in constant time, so timing tells nothing
    matches = [hmac.compare_digest(given, secret) for secret in secrets]
    return any(matches)


def webhook_view(anymail_view, *, kind: str, esp: str):
    """Our door in front of one of anymail's webhook views (see the module docstring)."""
    view_class = anymail_view.view_class
    initkwargs = anymail_view.view_initkwargs

    @csrf_exempt
    @wraps(anymail_view)
    def view(request, *args, **kwargs):
        secrets = _configured_secrets()
        if not secrets:
            return _text(404, "Webhooks are not configured (ANYMAIL_WEBHOOK_SECRET).")
        if not _authorized(request, secrets):
            response = _text(401, "Missing or wrong webhook credentials.")
            response["WWW-Authenticate"] = 'Basic realm="webhooks"'
            return response
        if request.method not in ("POST", "HEAD"):
            return HttpResponseNotAllowed(["POST", "HEAD"])
        return receive_webhook(request, kind=kind, esp=esp, build=lambda: view_class(**initkwargs))

    return view


def anymail_webhook_urls() -> list:
    """anymail's views as /webhooks/inbound/<esp>/ and /webhooks/tracking/<esp>/."""
    patterns = []
    for pattern in anymail.urls.urlpatterns:
        name = pattern.name or ""
        for kind in ("inbound", "tracking"):
            suffix = f"_{kind}_webhook"
            if name.endswith(suffix):
                esp = name.removesuffix(suffix)
                view = webhook_view(pattern.callback, kind=kind, esp=esp)
                patterns.append(path(f"{kind}/{esp}/", view, name=name))
    return patterns


# --- store first, then parse ----------------------------------------------------------


def store_webhook(
    *, kind: str, esp: str, body: bytes, headers: dict, fingerprint: str = "", brand=None
) -> WebhookDelivery:
    """The delivery for these bytes: a new row, or the earlier one with one more attempt.

    Commits on its own (in a request), before any parsing, so whatever happens next the
    body is kept. ``fingerprint`` stands in for the body where there is none to hash;
    ``brand`` files a new row under the brand the webhook's address names.

    One statement, ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (PostgreSQL and
    SQLite >= 3.35): a retry counts its attempt on the existing row in the same round
    trip, no IntegrityError, no savepoint inside a transaction. Every webhook of every
    channel comes through here, so it is one round trip instead of three for a retry and
    no ORM insert machinery for a new body. The returned row has what the views read
    (state, reason, attempts, ...); ``headers`` are the first attempt's, loaded on access.
    """
    sha = hashlib.sha256(fingerprint.encode() if fingerprint else body).hexdigest()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    headers_field = WebhookDelivery._meta.get_field("headers")
    values = {
        "esp": esp, "kind": kind, "brand_id": getattr(brand, "pk", brand),
        "headers": headers_field.get_db_prep_save(headers, connection),
        "body": body, "body_sha256": sha, "size": len(body),
        "state": WebhookDelivery.State.RECEIVED, "reason": "", "events": 0, "attempts": 1,
        "received_at": now, "last_received_at": now, "claimed_at": None,
    }  # fmt: skip
    table = connection.ops.quote_name(WebhookDelivery._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join(['%s'] * len(values))}) "
        f"ON CONFLICT (kind, esp, body_sha256) DO UPDATE SET "
        f"attempts = {table}.attempts + 1, last_received_at = EXCLUDED.last_received_at "
        f"RETURNING {', '.join(RETURNED)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(values.values()))
        row = cursor.fetchone()
    # the other columns (the first attempt's headers and times) load when read
    delivery = WebhookDelivery.from_db(connection.alias, RETURNED, row)
    delivery.body = body  # the same bytes (same hash), not fetched back
    return delivery


# what store_webhook reads back: plain values every database returns as they are
RETURNED = ("id", "esp", "kind", "brand_id", "state", "reason", "events", "attempts")


def _kept_headers(request) -> dict:
    return {
        name: value[:500]
        for name, value in request.headers.items()
        if name in KEPT_HEADERS or name.startswith(KEPT_HEADER_PREFIXES)
    }


def _finish(delivery: WebhookDelivery, state: str, reason: str = "", **fields) -> None:
    delivery.state = state
    delivery.reason = reason
    for name, value in fields.items():
        setattr(delivery, name, value)
    delivery.save(update_fields=["state", "reason", *fields])


def _read_body(request) -> bytes:
    """The raw body, up to WEBHOOK_MAX_BODY_BYTES.

    ``request.body`` refuses anything above DATA_UPLOAD_MAX_MEMORY_SIZE, which is right
    for forms but would turn every inbound mail with a few MB of attachments into a lost
    mail. So the body is read from the stream here and handed to Django as the request's
    body (``_body``, which ``request.body`` and the POST/FILES parsers read from); JSON
    payloads (Postmark, Brevo, Mandrill, ...) are then parsed from it without the smaller
    limit. Multipart fields (Mailgun's and SendGrid's forms) still meet Django's per-field
    limit, which DATA_UPLOAD_MAX_MEMORY_SIZE sets."""
    if hasattr(request, "_body"):
        return request._body
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.WEBHOOK_MAX_BODY_BYTES:
        raise RequestDataTooBig
    request._body = request.read(length) if length else b""
    return request._body


def receive_webhook(request, *, kind: str, esp: str, build) -> HttpResponse:
    """Store the body, parse it with anymail's view for the ESP (``build()``), hand the
    events on; the answer says what became of it."""
    if request.method == "HEAD":  # some ESPs check the URL with HEAD when it is set up
        try:
            build()
        except ImproperlyConfigured as exc:
            return _not_configured(kind, esp, exc)
        return HttpResponse()
    try:
        body = _read_body(request)
    except RequestDataTooBig:
        # above WEBHOOK_MAX_BODY_BYTES the body is not read; the attempt is kept (without
        # the body) so that it shows in the admin with its size
        reason = _("Der Inhalt ist größer als WEBHOOK_MAX_BODY_BYTES (%(size)s Bytes).") % {
            "size": request.META.get("CONTENT_LENGTH", "?")
        }
        delivery = store_webhook(
            kind=kind, esp=esp, body=b"", headers=_kept_headers(request),
            fingerprint=json.dumps(["too big", _kept_headers(request)], sort_keys=True),
        )  # fmt: skip
        _finish(delivery, WebhookDelivery.State.REJECTED, reason)
        return _text(413, reason)
    delivery = store_webhook(kind=kind, esp=esp, body=body, headers=_kept_headers(request))
    if delivery.state == WebhookDelivery.State.OK:
        return _text(200, "Already processed.")  # an ESP's retry: nothing is done twice

    try:
        # anymail reads the ESP's settings here and in the validators (Mandrill's key)
        handler = build()
        handler.setup(request)
        handler.run_validators(request)
    except ImproperlyConfigured as exc:
        response = _not_configured(kind, esp, exc)
        _finish(delivery, WebhookDelivery.State.REJECTED, response.content.decode())
        return response
    except Exception as exc:
        # a wrong signature, or a body the validator could not even read (Mailgun's
        # looks for its signature block in whatever JSON came)
        reason = (
            str(exc)
            if isinstance(exc, AnymailWebhookValidationFailure)
            else (_("Die Signatur ist nicht prüfbar: %(error)s") % {"error": _error(exc)})
        )
        _finish(delivery, WebhookDelivery.State.REJECTED, reason)
        return _text(400, reason)

    notes: list[str] = []
    try:
        events = handler.parse_events(request)
    except Exception as exc:
        # anymail's parsers trust the ESP's payload shape; whatever they raise means
        # this body is not what the ESP sends (not JSON, a list, a bad attachment...)
        repaired = _lenient_parse(kind, esp, handler, delivery.body)
        if repaired is None:
            reason = _("Der Inhalt ist nicht lesbar: %(error)s") % {"error": _error(exc)}
            _finish(delivery, WebhookDelivery.State.REJECTED, reason)
            return _text(400, reason)
        events, notes = repaired

    brand = None
    for number, event in enumerate(events, start=1):
        try:
            responses = handler.signal.send(
                sender=type(handler), event=event, esp_name=handler.esp_name, notes=notes
            )
        except RejectedPayload as exc:
            _finish(delivery, WebhookDelivery.State.REJECTED, str(exc), events=len(events))
            return _text(400, str(exc))
        except Exception as exc:
            # our own failure, not the ESP's: the body stays stored, flagged, and the
            # ESP's retry (4xx is retried by the ESPs we know) processes it again
            log.exception("%s %s webhook: event %d failed", esp, kind, number)
            reason = _("Ereignis %(number)d konnte nicht verarbeitet werden: %(error)s") % {
                "number": number,
                "error": _error(exc),
            }
            _finish(delivery, WebhookDelivery.State.FAILED, reason, events=len(events))
            return _text(400, reason)
        for _receiver, value in responses:
            if isinstance(value, BusinessEntity):
                brand = value
    _finish(delivery, WebhookDelivery.State.OK, "; ".join(notes), events=len(events), brand=brand)
    return _text(200, "OK")


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _not_configured(kind: str, esp: str, exc: Exception) -> HttpResponse:
    return _text(404, f"The {esp} {kind} webhook is not configured: {exc}")


def _lenient_parse(kind: str, esp: str, handler, body: bytes) -> tuple[list, list[str]] | None:
    """A second try for what anymail refuses but still holds a mail, or None.

    Postmark sends attachments as base64 in the JSON; one that is not valid base64
    made anymail refuse the whole mail. It is stored as it came (the undecoded
    text), and the message is flagged with a note saying so."""
    if (kind, esp) != ("inbound", "postmark"):
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    attachments = payload.get("Attachments") if isinstance(payload, dict) else None
    if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
        return None
    notes = []
    for attachment in attachments:
        content = attachment.get("Content") or attachment.get("Data") or ""
        try:
            base64.b64decode(content)  # as anymail decodes it
        except (binascii.Error, ValueError, TypeError):
            raw = str(content).encode("utf-8", "surrogatepass")
            attachment["Content"] = base64.b64encode(raw).decode("ascii")
            attachment["ContentType"] = "application/octet-stream"
            name = str(attachment.get("Name") or "")
            notes.append(
                _(
                    "Anhang „%(name)s“ war nicht gültig Base64-kodiert und ist unverändert gespeichert."
                )
                % {"name": name}
            )
    if not notes:
        return None
    try:
        return [handler.esp_to_anymail_event(payload)], notes
    except Exception:  # still not a Postmark mail: the caller rejects it with the first error
        return None


# --- inbound mail ---------------------------------------------------------------------


@receiver(inbound, dispatch_uid="conversations.inbound")
def handle_inbound(sender, event, esp_name: str, notes=(), **kwargs) -> BusinessEntity:
    """Ingest one inbound mail into the brand of its recipient; returns that brand."""
    message = event.message
    envelope = [str(getattr(message, "envelope_recipient", "") or "")]
    recipients = envelope + [a.addr_spec for a in (message.to or []) + (message.cc or [])]
    if not message.from_email and not any(recipients):
        # `{}` or a payload of another kind: not a mail, and no empty conversation
        raise RejectedPayload(_("Keine E-Mail: weder Absender noch Empfänger angegeben."))
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
    if notes and result.message is not None:
        _flag(result.message, list(notes))
    log.info("inbound via %s: %s", esp_name, result.outcome)
    return brand or result.brand  # routed by ingestion where no mailbox fixed it


def _flag(message: Message, notes: list[str]) -> None:
    """Add what the webhook found wrong to the message's flag (once)."""
    reasons = [r for r in message.flag_reason.split("; ") if r]
    reasons += [note for note in notes if note not in reasons]
    Message.objects.filter(pk=message.pk).update(flagged=True, flag_reason="; ".join(reasons))


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
    try:
        return message.as_bytes()
    except UnicodeError:
        # raw 8-bit header text (SendGrid passes the mail's headers through as they
        # came): written as UTF-8 headers (RFC 6532), which ingestion reads
        return message.as_bytes(policy=message.policy.clone(utf8=True))
