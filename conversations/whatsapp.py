"""WhatsApp in the inbox: Meta's webhook, the 24-hour window, answering.

The webhook (``/webhooks/whatsapp/<brand slug>/``):

- GET is Meta's verification: ``hub.mode=subscribe`` and the number's verify token
  answer ``hub.challenge`` as plain text, anything else 403;
- POST must carry ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with
  the app secret>`` (compared in constant time), else 401 and nothing is stored;
- the raw body is stored as a ``WebhookDelivery`` first (a replay of the same bytes is
  the same delivery, processed once); a body that is not Meta's envelope is answered
  400 with the reason and stays stored, rejected;
- the answer is 200 at once; the messages and statuses are processed after the commit
  in a django-q2 task (``process_pending``), every entry and change of the body.

Processing is batched: the task claims the waiting deliveries (``SELECT ... FOR UPDATE
SKIP LOCKED``, up to ``BATCH_SIZE`` at a time, until none is left) and ingests their
messages together (``conversations.ingest.ingest_messages``: a handful of queries per
batch instead of eight a message). A webhook starts the task only when no earlier
delivery is still waiting: that one's task is on its way and takes this one too (it
claims again until it finds nothing), so a burst of webhooks costs one task, not one
each; after a small batch the task waits ``WHATSAPP_GATHER_MS`` before it claims again,
so that a steady stream is processed in batches too. The "whatsapp-webhooks" schedule
picks up what a lost task or a killed worker left (see ``recover_deliveries``).

Per webhook the request makes two statements: the body's upsert (``store_webhook``) and
the look for an earlier waiting delivery; the number of the brand is kept in the process
for ``ACCOUNT_SECONDS``. ``manage.py bench --only whatsapp`` measures the whole path.

Meta's payload shapes: developers.facebook.com/documentation/business-messaging/whatsapp/
webhooks/reference/messages (and ../status); see also shared/reference/whatsapp-cloud-api.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import mimetypes
import time
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from conversations import outbound
from conversations.ingest import IncomingFile, IncomingMessage
from conversations.models import (
    Channel,
    Conversation,
    Direction,
    Message,
    StatusChange,
    WebhookDelivery,
)
from conversations.webhooks import _read_body, store_webhook
from kommunikation.contact import normalize_phone
from kommunikation.models import OutboundMessage, OutboundStatus, WhatsAppNumber

log = logging.getLogger(__name__)

ESP = "whatsapp"
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")


def _text(status: int, reason: str) -> HttpResponse:
    return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")


def signature_valid(body: bytes, header: str, secret: str) -> bool:
    """``sha256=<hex>`` of the raw body with the app secret, compared in constant time."""
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.removeprefix("sha256=").strip().encode())


# --- the view -----------------------------------------------------------------------------


# the number of a brand slug, kept for ACCOUNT_SECONDS in this process: every webhook needs
# it and it changes seldom (saving or deleting a number or a brand empties the cache of the
# process that saved; another process sees the change within ACCOUNT_SECONDS — Meta retries
# a webhook that a just-rotated secret refused)
ACCOUNT_SECONDS = 30.0
_accounts: dict[str, tuple[float, WhatsAppNumber]] = {}


def webhook_account(slug: str) -> WhatsAppNumber:
    """The active number of the brand ``slug`` (Http404 if there is none; not cached)."""
    now = time.monotonic()
    cached = _accounts.get(slug)
    if cached and now - cached[0] < ACCOUNT_SECONDS:
        return cached[1]
    account = get_object_or_404(
        # what the webhook needs, not the brand's dozens of columns
        WhatsAppNumber.objects.select_related("brand").only(
            "brand__slug", "verify_token", "app_secret", "phone_number_id"
        ),
        brand__slug=slug,
        active=True,
    )
    _accounts[slug] = (now, account)
    return account


def forget_accounts(**kwargs) -> None:
    """Signal receiver (see ConversationsConfig.ready): a number or brand changed."""
    _accounts.clear()


@csrf_exempt
def webhook(request, slug: str):
    account = webhook_account(slug)
    if request.method == "GET":
        token = account.effective_verify_token
        given = request.GET.get("hub.verify_token", "")
        if (
            request.GET.get("hub.mode") == "subscribe"
            and token
            and hmac.compare_digest(given.encode(), token.encode())
        ):
            return _text(200, request.GET.get("hub.challenge", ""))
        return _text(403, "Verification failed.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        body = _read_body(request)
    except RequestDataTooBig:
        return _text(413, "Body too large.")
    header = request.headers.get("X-Hub-Signature-256", "")
    if not signature_valid(body, header, account.effective_app_secret):
        return _text(401, "Missing or wrong X-Hub-Signature-256.")
    headers = {
        "X-Hub-Signature-256": header,
        "User-Agent": request.headers.get("User-Agent", "")[:200],
    }

    def store(brand) -> WebhookDelivery:
        return store_webhook(
            kind=WebhookDelivery.Kind.INBOUND, esp=ESP, body=body, headers=headers, brand=brand
        )

    try:
        delivery = store(account.brand)
    except IntegrityError:
        # the brand went after this process kept its number (deleted by another
        # process): look again, which answers 404 if it is gone
        forget_accounts()
        delivery = store(webhook_account(slug).brand)
    if delivery.attempts > 1 and delivery.state == WebhookDelivery.State.OK:
        return _text(200, "Already received.")
    if delivery.attempts > 1 and delivery.state == WebhookDelivery.State.REJECTED:
        return _text(400, delivery.reason or "Already received.")
    reason = envelope_problem(body)
    if reason:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=WebhookDelivery.State.REJECTED, reason=reason
        )
        return _text(400, reason)
    if delivery.attempts > 1:
        # Meta's retry of a body that failed: once more (a waiting one is on its way)
        retried = WebhookDelivery.objects.filter(
            pk=delivery.pk, state=WebhookDelivery.State.FAILED
        ).update(state=WebhookDelivery.State.RECEIVED)
        if not retried:
            return _text(200, "OK")
    transaction.on_commit(lambda: start_processing(delivery.pk))
    return _text(200, "OK")


# a waiting delivery younger than this is trusted to have its task on the way; an older
# one (its task lost) does not hold back a new task
TASK_TRUST = dt.timedelta(minutes=2)
BATCH_SIZE = 200
# a task hands over to a new one after this long, well inside the cluster's timeout
TASK_SECONDS = 60
# a claimed delivery not finished after this long was left by a killed worker
CLAIM_TIMEOUT = dt.timedelta(minutes=10)


def _waiting():
    return WebhookDelivery.objects.filter(
        esp=ESP, kind=WebhookDelivery.Kind.INBOUND, state=WebhookDelivery.State.RECEIVED
    )


def _earlier_waiting(delivery_id: int) -> bool:
    """``_waiting().filter(pk__lt=delivery_id, received_at__gte=now - TASK_TRUST).exists()``
    as one plain statement: it runs after every webhook, and the ORM's building of it cost
    more than the database's answer. The partial index of waiting deliveries serves it
    newest first, in a plain index scan: the entries of deliveries claimed meanwhile are
    marked dead on the first visit (a bitmap scan of the state index visited each of them
    on every webhook, hundreds in a burst)."""
    since = connection.ops.adapt_datetimefield_value(timezone.now() - TASK_TRUST)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT received_at >= %s FROM "
            f"{connection.ops.quote_name(WebhookDelivery._meta.db_table)} "
            "WHERE state = %s AND esp = %s AND kind = %s AND id < %s ORDER BY id DESC LIMIT 1",
            [since, WebhookDelivery.State.RECEIVED, ESP, WebhookDelivery.Kind.INBOUND, delivery_id],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def start_processing(delivery_id: int) -> None:
    """After the commit of a delivery: the processing task, unless an earlier delivery is
    still waiting. Its task has not claimed it yet, so it will claim again after this
    delivery's commit and take it too (see the module's doc)."""
    from django_q.tasks import async_task

    if _earlier_waiting(delivery_id):
        return
    async_task(
        "conversations.whatsapp.process_pending",
        q_options={"task_name": f"whatsapp_webhooks_{delivery_id}"},
    )


def envelope_problem(body: bytes) -> str:
    """Why the body is not Meta's envelope ("" when it is)."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return _("Kein gültiges JSON: %(error)s") % {"error": exc}
    if not isinstance(payload, dict):
        return _("Kein JSON-Objekt.")
    if payload.get("object") != "whatsapp_business_account":
        return _("„object“ ist nicht „whatsapp_business_account“.")
    if not isinstance(payload.get("entry"), list):
        return _("„entry“ fehlt oder ist keine Liste.")
    return ""


# --- processing -----------------------------------------------------------------------------


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _str(value) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _time(value) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(_str(value)), tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None


def process_pending(
    *, limit: int = BATCH_SIZE, seconds: float = TASK_SECONDS, gather_ms: int | None = None
) -> int:
    """The task: claim waiting deliveries and process them, batch after batch, until none
    is left; returns how many messages and statuses were handled. After ``seconds`` it
    hands the rest to a new task (the cluster stops a task after its timeout).

    After a batch smaller than ``limit`` the task waits ``gather_ms``
    (WHATSAPP_GATHER_MS) before it claims again: the webhooks arriving meanwhile find
    their earlier ones waiting and start no task, and the next claim takes them together.
    A batch costs a dozen statements whatever its size, so under a steady stream this
    keeps the worker's share per webhook low; a message waits at most that much longer."""
    from django_q.tasks import async_task

    if gather_ms is None:
        gather_ms = settings.WHATSAPP_GATHER_MS
    started = time.monotonic()
    handled = 0
    while batch := _claim(limit):
        handled += process_deliveries(batch)
        if time.monotonic() - started > seconds and _waiting().exists():
            async_task(
                "conversations.whatsapp.process_pending",
                q_options={"task_name": f"whatsapp_webhooks_more_{batch[-1].pk}"},
            )
            break
        if len(batch) < limit and gather_ms > 0:
            time.sleep(gather_ms / 1000)
    return handled


def _claim(limit: int) -> list[WebhookDelivery]:
    """Up to ``limit`` waiting deliveries, oldest first, marked as being processed (rows
    another worker holds are skipped)."""
    with transaction.atomic():
        batch = list(
            _waiting()
            .select_for_update(skip_locked=True)
            .order_by("pk")
            .only("pk", "brand_id", "body")[:limit]
        )
        if batch:
            WebhookDelivery.objects.filter(pk__in=[d.pk for d in batch]).update(
                state=WebhookDelivery.State.PROCESSING, claimed_at=timezone.now()
            )
    return batch


def recover_deliveries() -> str:
    """The schedule's catch-up: deliveries a killed worker left claimed wait again, and
    whatever waits (its task lost) is processed."""
    stale = WebhookDelivery.objects.filter(
        esp=ESP,
        kind=WebhookDelivery.Kind.INBOUND,
        state=WebhookDelivery.State.PROCESSING,
        claimed_at__lt=timezone.now() - CLAIM_TIMEOUT,
    ).update(state=WebhookDelivery.State.RECEIVED)
    return f"{stale} wieder aufgenommen, {process_pending()} verarbeitet"


def process_delivery(delivery_id: int, account_id: int | None = None) -> int:
    """One delivery (tasks queued before the batched processing existed)."""
    return process_deliveries([WebhookDelivery.objects.get(pk=delivery_id)])


def process_deliveries(deliveries: list[WebhookDelivery]) -> int:
    """Every message and status of these stored deliveries; returns how many were handled.

    Media are downloaded first, outside any transaction; the messages of all deliveries
    are then ingested together. What cannot be used is noted on its delivery; nothing
    stops the other items (should the batch's transaction fail, its messages are
    ingested again one by one, so one bad message fails only itself)."""
    from conversations.ingest import ingest_messages

    accounts = {
        a.brand_id: a
        for a in WhatsAppNumber.objects.select_related("brand").filter(
            brand_id__in={d.brand_id for d in deliveries}
        )
    }
    handled: dict[int, int] = dict.fromkeys((d.pk for d in deliveries), 0)
    notes: dict[int, list[str]] = {d.pk: [] for d in deliveries}
    items: list[tuple[int, IncomingMessage]] = []
    for delivery in deliveries:
        account = accounts.get(delivery.brand_id)
        if account is None:
            notes[delivery.pk].append(_("Keine WhatsApp-Nummer für diese Marke."))
            continue
        try:
            payload = json.loads(bytes(delivery.body))
        except ValueError as exc:  # accepted bodies are JSON; an old row may not be
            notes[delivery.pk].append(_("Kein gültiges JSON: %(error)s") % {"error": exc})
            continue
        for kind, item, names in _items(payload, account, notes[delivery.pk]):
            try:
                if kind == "status":
                    handled[delivery.pk] += apply_status(account, item)
                elif incoming := incoming_message(account, item, names):
                    items.append((delivery.pk, incoming))
            except Exception as exc:  # one bad item must not cost the others
                log.exception("whatsapp item of delivery %s failed", delivery.pk)
                notes[delivery.pk].append(f"{type(exc).__name__}: {exc}"[:300])
    try:
        ingest_messages([incoming for _pk, incoming in items])
        for pk, _incoming in items:
            handled[pk] += 1
    except Exception:
        log.exception("whatsapp batch failed; its messages one by one")
        for pk, incoming in items:
            try:
                ingest_messages([incoming])
                handled[pk] += 1
            except Exception as exc:
                log.exception("whatsapp message of delivery %s failed", pk)
                notes[pk].append(f"{type(exc).__name__}: {exc}"[:300])
    # the deliveries' outcome: one UPDATE for all that went well, one each for the others
    outcomes: dict[tuple, list[int]] = defaultdict(list)
    for pk in handled:
        failed = notes[pk] and not handled[pk]
        state = WebhookDelivery.State.FAILED if failed else WebhookDelivery.State.OK
        outcomes[(state, "; ".join(notes[pk])[:2000], handled[pk])].append(pk)
    for (state, reason, events), pks in outcomes.items():
        WebhookDelivery.objects.filter(pk__in=pks).update(state=state, reason=reason, events=events)
    return sum(handled.values())


def _items(payload, account: WhatsAppNumber, notes: list[str]):
    """("message" | "status", item, the senders' names) for every entry and change."""
    for entry in _list(_dict(payload).get("entry")):
        for change in _list(_dict(entry).get("changes")):
            change = _dict(change)
            value = _dict(change.get("value"))
            if change.get("field", "messages") != "messages":
                continue
            number_id = _str(_dict(value.get("metadata")).get("phone_number_id"))
            if number_id and number_id != account.phone_number_id:
                notes.append(_("Fremde Nummer %(id)s übergangen.") % {"id": number_id})
                continue
            names = _contact_names(value)
            for item in _list(value.get("messages")):
                yield "message", _dict(item), names
            for item in _list(value.get("statuses")):
                yield "status", _dict(item), names


def _contact_names(value: dict) -> dict[str, str]:
    names = {}
    for contact in _list(value.get("contacts")):
        contact = _dict(contact)
        name = _str(_dict(contact.get("profile")).get("name"))
        for key in ("wa_id", "user_id"):
            if contact.get(key):
                names[_str(contact[key])] = name
    return names


def _phone(value: str) -> str:
    if not value:
        return ""
    try:
        return normalize_phone("+" + value.lstrip("+"))
    except ValueError:
        return ""


def incoming_message(
    account: WhatsAppNumber, item: dict, names: dict[str, str]
) -> IncomingMessage | None:
    """One inbound message as ingest takes it (its media downloaded); None when it names
    no id (it could not be deduped)."""
    provider_id = _str(item.get("id"))
    if not provider_id:
        return None
    raw_from = _str(item.get("from"))
    user_id = _str(item.get("from_user_id"))
    phone = _phone(raw_from)
    if not phone and not user_id:
        user_id = raw_from  # neither a number nor a user id field: keep what came
    kind = _str(item.get("type")) or "unknown"
    text, files, reply_to = describe(account, item, kind)
    reply_to = _str(_dict(item.get("context")).get("id")) or reply_to
    return IncomingMessage(
        brand=account.brand,
        channel=Channel.WHATSAPP,
        sender_address=phone,
        sender_user_id=user_id,
        provider_id=provider_id,
        text=text,
        occurred_at=_time(item.get("timestamp")),
        attachments=files,
        reply_to_provider_id=reply_to,
        sender_name=names.get(raw_from) or names.get(user_id, ""),
        recipient_address=account.display_number,
        headers=[("WhatsApp-Type", kind)],
    )


def describe(account: WhatsAppNumber, item: dict, kind: str) -> tuple[str, list, str]:
    """(text, files, provider id it refers to) for one message of any type."""
    body = _dict(item.get(kind))
    if kind == "text":
        return _str(body.get("body")), [], ""
    if kind in MEDIA_TYPES:
        label = {
            "image": _("Bild"),
            "document": _("Dokument"),
            "audio": _("Sprachnachricht") if body.get("voice") else _("Audio"),
            "video": _("Video"),
            "sticker": _("Sticker"),
        }[kind]
        caption = _str(body.get("caption"))
        files, problem = _download(account, body, kind)
        text = caption or f"[{label}]"
        if problem:
            text += "\n" + problem
        return text, files, ""
    if kind == "location":
        parts = [_str(body.get(k)) for k in ("name", "address") if body.get(k)]
        lat, lon = _str(body.get("latitude")), _str(body.get("longitude"))
        link = f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}" if lat and lon else ""
        return " ".join([_("Standort:"), ", ".join(parts), f"({lat}, {lon})", link]).strip(), [], ""
    if kind == "contacts":
        lines = [_("Kontakt geteilt:")]
        for contact in _list(item.get("contacts")):
            contact = _dict(contact)
            name = _str(_dict(contact.get("name")).get("formatted_name"))
            phones = ", ".join(_str(_dict(p).get("phone")) for p in _list(contact.get("phones")))
            lines.append(f"{name} {phones}".strip())
        return "\n".join(lines), [], ""
    if kind == "interactive":
        for key in ("button_reply", "list_reply"):
            reply = _dict(body.get(key))
            if reply:
                title = _str(reply.get("title"))
                extra = _str(reply.get("description"))
                return (f"{title} – {extra}" if extra else title) or _str(reply.get("id")), [], ""
        return _unsupported(f"interactive/{_str(body.get('type'))}"), [], ""
    if kind == "button":
        return _str(body.get("text")) or _str(body.get("payload")), [], ""
    if kind == "reaction":
        emoji = _str(body.get("emoji"))
        text = _("Reaktion: %(emoji)s") % {"emoji": emoji} if emoji else _("Reaktion entfernt")
        return text, [], _str(body.get("message_id"))
    if kind == "edit":
        original = _str(body.get("original_message_id"))
        inner = _dict(body.get("message"))
        inner_kind = _str(inner.get("type")) or "text"
        text, files, _ref = describe(account, inner, inner_kind)
        return _("Bearbeitet: %(text)s") % {"text": text}, files, original
    if kind == "revoke":
        return (
            _("Der Absender hat eine Nachricht gelöscht."),
            [],
            _str(body.get("original_message_id")),
        )
    if kind == "system":
        return _str(body.get("body")) or _unsupported("system"), [], ""
    return _unsupported(kind), [], ""


def _unsupported(kind: str) -> str:
    return _(
        "WhatsApp-Nachricht vom Typ „%(type)s“ – nicht unterstützt; der Inhalt ist in der "
        "Webhook-Zustellung gespeichert."
    ) % {"type": kind}


def _download(account: WhatsAppNumber, body: dict, kind: str) -> tuple[list, str]:
    from kommunikation.channels.base import PermanentError, TransientError
    from kommunikation.channels.whatsapp import download_media

    media_id = _str(body.get("id"))
    if not media_id:
        return [], _("(Datei ohne Medien-ID)")
    try:
        data, mime = download_media(account, media_id)
    except (TransientError, PermanentError) as exc:
        return [], _("(Datei nicht geladen: %(error)s)") % {"error": exc}
    mime = _str(body.get("mime_type")) or mime
    filename = _str(body.get("filename"))
    if not filename:
        extension = mimetypes.guess_extension(mime.split(";")[0].strip()) or ""
        filename = f"{kind}-{media_id}{extension}"
    return [IncomingFile(filename=filename, content_type=mime, data=data)], ""


# --- statuses ---------------------------------------------------------------------------------

STATUS_MAP = {
    "sent": Message.State.SENT,
    "delivered": Message.State.DELIVERED,
    "read": Message.State.READ,
    "played": Message.State.READ,  # a voice message listened to
    "failed": Message.State.FAILED,
}


def apply_status(account: WhatsAppNumber, item: dict) -> bool:
    """A status of one of our messages onto its timeline; False when it changes nothing."""
    from kommunikation.channels.whatsapp import error_reason

    status = STATUS_MAP.get(_str(item.get("status")))
    provider_id = _str(item.get("id"))
    if status is None or not provider_id:
        return False
    row = (
        OutboundMessage.objects.filter(brand=account.brand, provider_id=provider_id)
        .select_related("message")
        .first()
    )
    if row is None or row.message is None:
        return False
    detail = _("abgespielt") if item.get("status") == "played" else ""
    if status == Message.State.FAILED:
        error = _dict((_list(item.get("errors")) or [{}])[0])
        code = error.get("code") if isinstance(error.get("code"), int) else None
        detail = error_reason(
            code, _str(error.get("message")), _str(_dict(error.get("error_data")).get("details"))
        )
    return record_status(row, status, detail=detail, at=_time(item.get("timestamp")))


# The order statuses may take: a later status never goes back to an earlier one.
def record_status(row: OutboundMessage, status: str, *, detail: str = "", at=None) -> bool:
    """WhatsApp statuses on the timeline through conversations.outbound (each status once,
    the message's status only forward); a failure also marks the outbox row failed with
    the reason shown in the thread."""
    if row.message_id is None:
        return False
    with transaction.atomic():
        new = outbound.record_status(row.message, status, at, detail=detail)
        if new and status == Message.State.FAILED:
            OutboundMessage.objects.filter(pk=row.pk).update(
                status=OutboundStatus.FAILED, last_error=detail[:2000]
            )
    return new


# --- the window and answering -----------------------------------------------------------------


def window_closes_at(conversation: Conversation) -> dt.datetime | None:
    """When the customer service window of the conversation's counterpart closes: the last
    inbound WhatsApp message from them to this brand's number, plus 24 hours (less the
    safety margin). None: they never wrote."""
    match = Q(pk=conversation.pk)
    if conversation.customer_id:
        match |= Q(customer_id=conversation.customer_id)
    elif conversation.counterpart:
        match |= Q(counterpart=conversation.counterpart)
    last = (
        Conversation.objects.filter(brand_id=conversation.brand_id, channel=Channel.WHATSAPP)
        .filter(match)
        .aggregate(last=Max("last_inbound_at"))["last"]
    )
    if last is None:
        return None
    return last + dt.timedelta(
        hours=settings.WHATSAPP_WINDOW_HOURS, minutes=-settings.WHATSAPP_WINDOW_MARGIN_MINUTES
    )


def window_open(conversation: Conversation, *, now: dt.datetime | None = None) -> bool:
    closes = window_closes_at(conversation)
    return closes is not None and (now or timezone.now()) < closes


def countdown(closes: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """ "Fenster offen noch 3 h 12 min", or "" when closed."""
    if closes is None:
        return ""
    left = int((closes - (now or timezone.now())).total_seconds() // 60)
    if left <= 0:
        return ""
    return _("Fenster offen noch %(h)d h %(m)d min") % {"h": left // 60, "m": left % 60}


def template_choices(conversation: Conversation) -> list[dict]:
    """The brand's WhatsApp templates this conversation can use, each rendered for its
    customer: key, label, approved name, language, parameters in order and the text."""
    from kommunikation.contact import format_phone
    from kommunikation.events.catalogue import build_context
    from templates_app.models import MessageTemplate
    from templates_app.plain import NO_CUSTOMER, customer_data
    from templates_app.rendering import render_message

    brand = conversation.brand
    customer = conversation.customer
    data = customer_data(customer) if customer else NO_CUSTOMER
    language = (customer.language if customer else "") or brand.default_language
    phone = conversation.counterpart if conversation.counterpart.startswith("+") else ""
    context = build_context("conversation", {"phone": format_phone(phone) if phone else ""})
    labels: dict[str, str] = {}
    for key, description in (
        MessageTemplate.objects.filter(channel="whatsapp", event_type="conversation")
        .filter(Q(brand__isnull=True) | Q(brand=brand))
        .order_by("key", "brand_id")
        .values_list("key", "description")
    ):
        labels[key] = labels.get(key) or description or key
    offered = []
    for key, label in sorted(labels.items(), key=lambda item: item[1].lower()):
        try:
            rendered = render_message(
                key=key, channel="whatsapp", customer=data, brand=brand, language=language,
                context=context,
            )  # fmt: skip
        except Exception:  # a template this conversation cannot fill is not offered
            continue
        name, code, params = rendered.whatsapp or ("", language, [])
        offered.append(
            {
                "key": key,
                "label": label,
                "name": name,
                "language": code,
                "params": params,
                "text": rendered.text,
                "context": context,
            }  # fmt: skip
        )
    return offered


@transaction.atomic
def queue_whatsapp_reply(
    *, conversation: Conversation, author, text: str = "", template_key: str = ""
) -> Message:
    """Queue a WhatsApp answer: free text inside the customer service window, an approved
    template (``template_key``) at any time. Refuses free text outside the window (also
    when the page was open while it closed). Goes through the outbox like an email reply."""
    from kommunikation.outbox import enqueue_outbound

    if conversation.channel != Channel.WHATSAPP:
        raise ValidationError(_("Keine WhatsApp-Konversation."))
    template = None
    if template_key:
        template = next(
            (t for t in template_choices(conversation) if t["key"] == template_key), None
        )
        if template is None:
            raise ValidationError(_("Diese Vorlage ist hier nicht verfügbar."))
        text = template["text"]
    elif not window_open(conversation):
        raise ValidationError(
            _("Außerhalb des 24-Stunden-Fensters: nur eine freigegebene Vorlage möglich")
        )
    if not text.strip():
        raise ValidationError(_("Bitte einen Text eingeben."))
    brand = conversation.brand
    now = timezone.now()
    last_inbound = (
        conversation.messages.filter(direction=Direction.INBOUND)
        .exclude(provider_id="")
        .order_by("-created_at", "-id")
        .values_list("provider_id", flat=True)
        .first()
    )
    message = Message.objects.create(
        conversation=conversation,
        channel=Channel.WHATSAPP,
        direction=Direction.OUTBOUND,
        author=author,
        sender_name=brand.name,
        sender_address=brand.whatsapp_number,
        to=[conversation.counterpart],
        text=text,
        in_reply_to=last_inbound or "",
        status=Message.State.QUEUED,
        created_at=now,
    )
    StatusChange.objects.create(message=message, status=Message.State.QUEUED, at=now)
    enqueue_outbound(
        brand=brand,
        customer=conversation.customer,
        channels="whatsapp",
        category="service",  # an answer to the customer's own request
        source="reply",
        message=message,
        to_address=conversation.counterpart,
        text="" if template else text,
        template_key=template_key,
        context=template["context"] if template else None,
        idempotency_key=f"reply:{message.pk}",
        created_by=author,
    )
    conversation.message_count += 1
    conversation.last_message_at = now
    conversation.response_due_at = None
    conversation.snippet = " ".join(text.split())[:200]
    conversation.save(
        update_fields=["message_count", "last_message_at", "response_due_at", "snippet"]
    )
    return message


def composer_context(conversation: Conversation) -> dict:
    """What the WhatsApp composer shows: the window (as a countdown) and the templates."""
    now = timezone.now()
    closes = window_closes_at(conversation)
    is_open = closes is not None and now < closes
    return {
        "wa_window_open": is_open,
        "wa_window_closes": closes if is_open else None,
        "wa_countdown": countdown(closes, now),
        "wa_templates": template_choices(conversation),
        "wa_ideal_minutes": settings.SLA_MINUTES_WHATSAPP_IDEAL,
        "wa_max_hours": settings.SLA_HOURS_WHATSAPP,
        "wa_ideal_due": (
            conversation.last_inbound_at + dt.timedelta(minutes=settings.SLA_MINUTES_WHATSAPP_IDEAL)
            if conversation.response_due_at and conversation.last_inbound_at
            else None
        ),
    }
