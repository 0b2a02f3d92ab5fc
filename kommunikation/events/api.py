"""The event API: ERP, shop and order systems post business events, signed per source.

``POST /api/v1/events`` takes one event, ``POST /api/v1/events/batch`` up to 500
(``{"events": [...]}``). The caller names its source in ``X-Event-Source`` (the slug of an
EventSource in the admin) and signs the raw body with that source's secret by the Standard
Webhooks scheme (see signatures.py). The OpenAPI document (openapi.py) is the contract.

Answers: 201 a new event, 200 the same event again (same source_key, same content), 409 the
source_key was used with other content, 400 field errors as ``{"errors": {field: [..]}}``,
401 a bad or missing signature or an unknown source (one answer for all, the reason is
logged), 410 a deactivated source, 413 a body over EVENT_API_MAX_BYTES, 415 not JSON.
Nothing a caller sends raises: every refusal is a 4xx with a reason.

Customers are found within the source's brand only, by ``external_id`` (the customer's id in
the ERP, today sevDesk's contact id), ``number``, ``email`` or ``phone``, in that order; the
first reference that names exactly one customer wins. **An unknown customer does not refuse
the event**: an ERP's order must not be lost because its contact was not synced yet. The
event is recorded without customer, keeps the reference in ``customer_ref`` (shown in the
admin and the event log) and the answer carries ``"warnings": ["customer_not_found"]``; the
rules engine sends nothing for it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kommunikation.contact import normalize_email, normalize_phone
from kommunikation.events.models import Event, EventSource
from kommunikation.events.services import (
    EventConflict,
    InvalidEvent,
    announce_together,
    record_event,
)
from kommunikation.events.signatures import SignatureError, verify
from kommunikation.models import ContactChannel, Customer

logger = logging.getLogger(__name__)

BATCH_LIMIT = 500
EVENT_FIELDS = {"type", "source_key", "occurred_at", "customer", "record", "payload"}
CUSTOMER_FIELDS = ("external_id", "number", "email", "phone")
RECORD_FIELDS = ("kind", "id", "number", "status", "version")


@dataclass
class ApiResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _errors(**fields: list[str]) -> dict[str, Any]:
    return {"errors": fields}


def authenticate(*, body: bytes, headers) -> tuple[EventSource | None, Any, ApiResponse | None]:
    """(source, parsed JSON, None) of a signed request, else (None, None, the refusal).

    Every endpoint under /api/v1/ that a source calls (events, devices) starts here."""
    source = (
        EventSource.objects.select_related("brand")
        .filter(slug=headers.get("x-event-source", ""))
        .first()
    )
    if source is None:
        logger.warning("event API: unknown source %r", headers.get("x-event-source", ""))
        return None, None, ApiResponse(401, {"error": "invalid_signature"})
    try:
        which = verify(body, headers, source.secrets_to_try())
    except SignatureError as exc:
        logger.warning("event API: %s refused: %s", source.slug, exc)
        return None, None, ApiResponse(401, {"error": "invalid_signature"})
    if not source.active:
        # 410 tells Standard Webhooks senders to stop delivering
        return None, None, ApiResponse(410, {"error": "source_inactive"})
    source.note_use(which)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        error = _errors(body=[_("Kein gültiges JSON: %(error)s") % {"error": exc}])
        return None, None, ApiResponse(400, error)
    return source, data, None


def receive(*, body: bytes, headers, batch: bool) -> ApiResponse:
    """The whole request: source, signature, JSON, then the event(s)."""
    source, data, refused = authenticate(body=body, headers=headers)
    if refused is not None:
        return refused
    if not batch:
        return submit(source, data)
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return ApiResponse(400, _errors(events=[_("Eine Liste von Ereignissen erwartet.")]))
    if set(data) - {"events"}:
        return ApiResponse(
            400, _errors(**{k: [_("Unbekanntes Feld.")] for k in set(data) - {"events"}})
        )
    items = data["events"]
    if not 1 <= len(items) <= BATCH_LIMIT:
        return ApiResponse(
            400,
            _errors(events=[_("1 bis %(limit)s Ereignisse je Anfrage.") % {"limit": BATCH_LIMIT}]),
        )
    results = []
    # one transaction, so the batch's events start one rules task on commit; a refused
    # event changes nothing (record_event inserts in a savepoint), the others are kept
    with transaction.atomic(), announce_together():
        for index, item in enumerate(items):
            result = submit(source, item)
            results.append({"index": index, "status": result.status, **result.body})
    return ApiResponse(200, {"results": results})


def submit(source: EventSource, item: Any) -> ApiResponse:
    """One event of the source: 201, 200, 400 or 409."""
    parsed, errors = parse_event(item)
    if errors:
        return ApiResponse(400, _errors(**errors))
    customer, customer_errors = find_customer(source.brand, parsed["customer_ref"])
    if customer_errors:
        return ApiResponse(400, _errors(**customer_errors))
    try:
        # a refused event of a batch leaves the others recorded (see receive)
        event, created = record_event(
            brand=source.brand, source=source.event_source, customer=customer, **parsed
        )
    except InvalidEvent as exc:
        return ApiResponse(400, _errors(**{_API_NAMES.get(k, k): v for k, v in exc.errors.items()}))
    except EventConflict as exc:
        return ApiResponse(
            409,
            {
                "error": "conflict",
                "detail": _("Dieser source_key wurde bereits mit anderem Inhalt gemeldet."),
                "event": event_json(exc.event),
            },
        )
    return ApiResponse(201 if created else 200, {"event": event_json(event)})


# record_event's field names -> the API's
_API_NAMES = {f"record_{name}": f"record.{name}" for name in RECORD_FIELDS} | {
    "customer_ref": "customer"
}


def _text(value: Any, name: str, errors: dict[str, list[str]]) -> str:
    """A string field; ids arriving as numbers are taken as their text."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.setdefault(name, []).append(_("Text erwartet."))
        return ""
    return str(value)


def parse_event(item: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """record_event's keyword arguments from one JSON event, or errors per field."""
    if not isinstance(item, dict):
        return {}, {"body": [_("Ein JSON-Objekt erwartet.")]}
    errors: dict[str, list[str]] = {}
    for name in sorted(set(item) - EVENT_FIELDS):
        errors[name] = [_("Unbekanntes Feld.")]
    for name in ("type", "source_key", "occurred_at"):
        if item.get(name) in (None, ""):
            errors.setdefault(name, []).append(_("Pflichtfeld."))
    kind = _text(item.get("type"), "type", errors)
    source_key = _text(item.get("source_key"), "source_key", errors)
    occurred_at = None
    if isinstance(item.get("occurred_at"), str) and item["occurred_at"]:
        try:
            occurred_at = dt.datetime.fromisoformat(item["occurred_at"])
        except ValueError:
            errors.setdefault("occurred_at", []).append(
                _("Kein Zeitpunkt nach ISO 8601 (z. B. 2026-03-02T09:00:00+01:00).")
            )
        else:
            if occurred_at.tzinfo is None:
                errors.setdefault("occurred_at", []).append(_("Zeitzone fehlt."))
    elif item.get("occurred_at") not in (None, ""):
        errors.setdefault("occurred_at", []).append(_("Text erwartet."))
    parts = {}
    for group, names in (("customer", CUSTOMER_FIELDS), ("record", RECORD_FIELDS)):
        value = item.get(group) or {}
        if not isinstance(value, dict):
            errors.setdefault(group, []).append(_("Ein JSON-Objekt erwartet."))
            value = {}
        for name in sorted(set(value) - set(names)):
            errors.setdefault(f"{group}.{name}", []).append(_("Unbekanntes Feld."))
        parts[group] = {
            name: _text(value.get(name), f"{group}.{name}", errors)
            for name in names
            if value.get(name) not in (None, "")
        }
    payload = item.get("payload", {})
    if not isinstance(payload, dict):
        errors.setdefault("payload", []).append(_("Ein JSON-Objekt erwartet."))
    if errors:
        return {}, errors
    record = parts["record"]
    return {
        "type": kind,
        "source_key": source_key,
        "occurred_at": occurred_at,
        "payload": payload,
        "customer_ref": parts["customer"],
        **{f"record_{name}": record.get(name, "") for name in RECORD_FIELDS},
    }, {}


def find_customer(brand, ref: dict[str, str]) -> tuple[Customer | None, dict[str, list[str]]]:
    """The one customer of the brand the reference names (None: none or several)."""
    customers = Customer.objects.filter(brand=brand)
    lookups = []
    if ref.get("external_id"):
        lookups.append({"sevdesk_id": ref["external_id"]})
    if ref.get("number"):
        lookups.append({"number": ref["number"]})
    for name, channel, normalize in (
        ("email", ContactChannel.EMAIL, normalize_email),
        ("phone", ContactChannel.PHONE, normalize_phone),
    ):
        if ref.get(name):
            try:
                value = normalize(ref[name])
            except ValueError as exc:
                return None, {f"customer.{name}": [str(exc)]}
            lookups.append({"contact_points__channel": channel, "contact_points__value": value})
    for lookup in lookups:
        found = list(customers.filter(**lookup).distinct()[:2])
        if len(found) == 1:
            return found[0], {}
    return None, {}


def event_json(event: Event) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": event.pk,
        "type": event.type,
        "source": event.source,
        "source_key": event.source_key,
        "occurred_at": event.occurred_at.astimezone(dt.UTC).isoformat(),
        "received_at": event.received_at.astimezone(dt.UTC).isoformat(),
        "customer": (
            {"id": event.customer_id, "number": event.customer.number}
            if event.customer_id
            else None
        ),
        "record": {
            "kind": event.record_kind,
            "id": event.record_id,
            "number": event.record_number,
            "status": event.record_status,
            "version": event.record_version,
        },
        "outcome": event.outcome,
        "warnings": [],
    }
    if event.customer_id is None and event.customer_ref:
        body["warnings"].append("customer_not_found")
    return body
