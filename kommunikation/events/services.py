"""Recording events: the one way an event enters the system.

``record_event`` is called by every source (the sevDesk sync, the event API, the daily scans,
the inbox). It validates the type against the catalogue (``custom.<name>`` is always allowed)
and the payload as plain JSON, and stores the event once per (brand, source, source_key):
called again with the same key and the same content it returns the stored event with
``created=False``; with the same key and other content it raises ``EventConflict``.

Hook point for the rules engine: the ``event_recorded`` signal is sent **after the
transaction commits** (``transaction.on_commit``), once per newly recorded event, with the
keyword arguments ``event`` and ``batch``: the events recorded together (by
``record_events`` or inside ``announce_together()``: a sevDesk page, a batch of the event
API), in order, the same list for each of them (else ``[event]``), so a receiver that works
in batches acts once, on ``batch[0]``. A receiver
never sees an event that is rolled back, and a slow receiver does not hold the caller's
transaction open (it should start a django-q2 task rather than work inline). Connect with a
``dispatch_uid``::

    from kommunikation.events.services import event_recorded
    event_recorded.connect(on_event, dispatch_uid="rules")

Events are never sent twice through the signal for the same key; a receiver that crashed can
find what it missed with ``Event.objects.pending()``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils.translation import gettext as _

from kommunikation.events.catalogue import get_event_type
from kommunikation.events.models import Event

# sent on commit with event=<Event>; see the module docstring
event_recorded = Signal()

# the field sizes of Event, checked before the database refuses them
_LIMITS = {
    "type": 80,
    "source": 60,
    "source_key": 200,
    "record_kind": 20,
    "record_id": 80,
    "record_number": 80,
    "record_status": 40,
    "record_version": 80,
}


class InvalidEvent(ValueError):
    """The event cannot be recorded; ``errors`` maps each field to its problems."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


class EventConflict(Exception):
    """The key is already recorded with other content (the event API answers 409)."""

    def __init__(self, event: Event):
        self.event = event
        super().__init__(f"{event.source} {event.source_key}: already recorded, other content")


MAX_DEPTH = 20  # nesting of objects and arrays in a payload


def json_errors(value: Any, path: str = "payload", depth: int = 0) -> list[str]:
    """Why value is not plain JSON (objects with string keys, arrays, strings, finite
    numbers, booleans, null; at most MAX_DEPTH levels deep); empty when it is."""
    if depth > MAX_DEPTH:
        return [_("%(path)s: zu tief verschachtelt.") % {"path": path}]
    if value is None or isinstance(value, bool | str | int):
        return []
    if isinstance(value, float):
        if math.isfinite(value):
            return []
        return [_("%(path)s: keine endliche Zahl.") % {"path": path}]
    if isinstance(value, Mapping):
        errors = []
        for key, item in value.items():
            if not isinstance(key, str):
                errors.append(_("%(path)s: Schlüssel müssen Texte sein.") % {"path": path})
            else:
                errors.extend(json_errors(item, f"{path}.{key}", depth + 1))
        return errors
    if isinstance(value, list | tuple):
        return [
            e for i, item in enumerate(value) for e in json_errors(item, f"{path}.{i}", depth + 1)
        ]
    return [
        _("%(path)s: %(type)s ist kein JSON-Wert (Zahlen und Daten als Text übergeben).")
        % {"path": path, "type": type(value).__name__}
    ]


def fingerprint(content: Mapping[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_event(
    *, type: str, source: str, source_key: str, occurred_at, payload, fields: Mapping[str, str]
) -> dict[str, list[str]]:
    """Errors per field (empty: the event may be recorded)."""
    errors: dict[str, list[str]] = {}
    entry = get_event_type(type) if isinstance(type, str) else None
    if entry is None:
        errors["type"] = [_("Unbekannter Ereignistyp „%(key)s“.") % {"key": type}]
    if not source:
        errors["source"] = [_("Pflichtfeld.")]
    if not source_key:
        errors["source_key"] = [_("Pflichtfeld.")]
    if not isinstance(occurred_at, dt.datetime) or occurred_at.tzinfo is None:
        errors["occurred_at"] = [_("Zeitpunkt mit Zeitzone erforderlich.")]
    for name, limit in _LIMITS.items():
        value = {"type": type, "source": source, "source_key": source_key, **fields}.get(name)
        if isinstance(value, str) and len(value) > limit:
            errors.setdefault(name, []).append(_("Höchstens %(limit)s Zeichen.") % {"limit": limit})
    if not isinstance(payload, Mapping):
        errors["payload"] = [_("Ein JSON-Objekt erforderlich.")]
    else:
        problems = json_errors(payload)
        if problems:
            errors["payload"] = problems
        elif entry is not None:
            for name, messages in entry.payload_errors(payload).items():
                errors.setdefault(f"payload.{name}", []).extend(messages)
    return errors


def record_event(
    *,
    brand,
    type: str,
    source: str,
    source_key: str,
    occurred_at: dt.datetime,
    payload: Mapping[str, Any],
    customer=None,
    customer_ref: Mapping[str, Any] | None = None,
    record_kind: str = "",
    record_id: str = "",
    record_number: str = "",
    record_status: str = "",
    record_version: str = "",
) -> tuple[Event, bool]:
    """Store an event once per (brand, source, source_key); returns (event, created).

    Raises InvalidEvent (with errors per field) for an unknown type, a payload that is not
    plain JSON or lacks a field its type requires; EventConflict when the key is recorded
    with other content. ``customer`` must belong to ``brand``. ``record_kind`` defaults to
    the type's kind (invoice, order, ...).
    """
    key, fields = _prepare_event(
        brand=brand,
        type=type,
        source=source,
        source_key=source_key,
        occurred_at=occurred_at,
        payload=payload,
        customer=customer,
        customer_ref=customer_ref,
        record={
            "record_kind": record_kind,
            "record_id": record_id,
            "record_number": record_number,
            "record_status": record_status,
            "record_version": record_version,
        },
    )
    content_hash = fields["fingerprint"]
    existing = Event.objects.filter(**key).first()
    if existing is None:
        try:
            # a savepoint: a concurrent insert of the same key fails alone, not the caller
            with transaction.atomic():
                event = Event.objects.create(**key, **fields)
        except IntegrityError:
            existing = Event.objects.get(**key)
        else:
            _announce(event)
            return event, True
    if existing.fingerprint != content_hash:
        raise EventConflict(existing)
    return existing, False


def record_events(items: Iterable[Mapping[str, Any]]) -> list[tuple[Event, bool]]:
    """``record_event`` for many events at once (keyword dicts of its arguments): one query
    for the keys already stored, one bulk insert for the rest, ``event_recorded`` on commit
    for each new one. Same answers as calling record_event for each: (event, created) in
    input order; InvalidEvent for the first invalid item (nothing is stored then),
    EventConflict for a stored key with other content. Should the bulk insert meet a
    concurrent insert of the same key, the items are recorded one by one instead.
    """
    prepared = []
    for item in items:
        arguments = {"customer": None, "customer_ref": None, **item}
        fields = dict(arguments)
        record = {name: fields.pop(name, "") for name in _RECORD_FIELDS}
        prepared.append((arguments, *_prepare_event(**fields, record=record)))
    if not prepared:
        return []
    # by (brand, source), so the lookup uses the unique index (brand, source, source_key)
    groups: dict[tuple[int, str], set[str]] = {}
    for _arguments, key, _fields in prepared:
        groups.setdefault((key["brand"].pk, key["source"]), set()).add(key["source_key"])
    query = Q()
    for (brand_id, source), keys in groups.items():
        query |= Q(brand_id=brand_id, source=source, source_key__in=keys)
    stored = {
        (e.brand_id, e.source, e.source_key): e for e in Event.objects.filter(query).order_by()
    }
    results: list[tuple[Event, bool]] = []
    new: list[Event] = []
    for _arguments, key, fields in prepared:
        ident = (key["brand"].pk, key["source"], key["source_key"])
        event = stored.get(ident)
        if event is None:
            event = stored[ident] = Event(**key, **fields)
            new.append(event)
            results.append((event, True))
        elif event.fingerprint != fields["fingerprint"]:
            raise EventConflict(event)
        else:
            results.append((event, False))
    try:
        with transaction.atomic():  # a savepoint, as in record_event
            Event.objects.bulk_create(new)
    except IntegrityError:  # a concurrent writer of a key: one by one sorts it out
        return [record_event(**arguments) for arguments, _key, _fields in prepared]
    with announce_together():
        for event in new:
            _announce(event)
    return results


_together = threading.local()


@contextmanager
def announce_together() -> Iterator[None]:
    """Events recorded inside are announced after the commit as one ``batch`` (a sevDesk
    page, a batch of the event API), so the rules run them in one task.

    Each event still registers its own on-commit callback, which Django drops with a
    savepoint rolled back; they add the event to the batch, and the batch is sent by a
    callback registered on leaving the block, so it runs after all of them."""
    if getattr(_together, "batch", None) is not None:  # inside another: one batch
        yield
        return
    batch: list[Event] = []
    _together.batch = batch
    try:
        yield
    finally:
        _together.batch = None
        transaction.on_commit(lambda: _send(batch) if batch else None)


def _announce(event: Event) -> None:
    batch = getattr(_together, "batch", None)
    if batch is not None:
        transaction.on_commit(lambda: batch.append(event))
    else:
        transaction.on_commit(lambda: _send([event]))


def _send(batch: list[Event]) -> None:
    for event in batch:
        event_recorded.send(sender=Event, event=event, batch=batch)


_RECORD_FIELDS = ("record_kind", "record_id", "record_number", "record_status", "record_version")


def _prepare_event(
    *,
    brand,
    type: str,
    source: str,
    source_key: str,
    occurred_at,
    payload,
    customer,
    customer_ref,
    record: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate one event; (its unique key, the other fields of the row). Raises InvalidEvent."""
    entry = get_event_type(type) if isinstance(type, str) else None
    record = {
        "record_kind": record["record_kind"] or (entry.record_kind if entry else ""),
        "record_id": str(record["record_id"]),
        "record_number": str(record["record_number"]),
        "record_status": str(record["record_status"]),
        "record_version": str(record["record_version"]),
    }
    errors = check_event(
        type=type,
        source=source,
        source_key=source_key,
        occurred_at=occurred_at,
        payload=payload,
        fields=record,
    )
    ref = dict(customer_ref or {})
    if json_errors(ref, "customer_ref"):
        errors["customer_ref"] = json_errors(ref, "customer_ref")
    if customer is not None and customer.brand_id != brand.pk:
        # a source of one brand must never attach events to another brand's customer
        errors["customer"] = [_("Der Kunde gehört zu einer anderen Marke.")]
    if errors:
        raise InvalidEvent(errors)
    payload = dict(payload)
    # the content as given: what a repeat must match (the resolved customer is not part of
    # it, so a repeat after the customer was created later is still the same event)
    content_hash = fingerprint(
        {
            "type": type,
            "occurred_at": occurred_at.astimezone(dt.UTC).isoformat(),
            "customer_ref": ref,
            "customer": customer.pk if customer is not None and not ref else None,
            "payload": payload,
            **record,
        }
    )
    key = {"brand": brand, "source": source, "source_key": source_key}
    fields = {
        "type": type,
        "customer": customer,
        "customer_ref": ref,
        "payload": payload,
        "fingerprint": content_hash,
        "occurred_at": occurred_at,
        **record,
    }
    return key, fields
