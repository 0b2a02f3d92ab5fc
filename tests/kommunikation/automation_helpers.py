"""Shared helpers of the automation tests: events as the sources record them, rules."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from kommunikation.automation.models import AutomationRule, RuleStep
from kommunikation.events.services import record_event

BERLIN = ZoneInfo("Europe/Berlin")
_keys = itertools.count(1)

INVOICE = {
    "invoice_number": "RE-2026-0042",
    "invoice_date": "2026-02-01",
    "amount": "1190.00",
    "due_date": "2026-02-15",
    "days_overdue": 3,
    "fee": "0",
    "new_due_date": "2026-02-25",
    "iban": "DE89 3704 0044 0532 0130 00",
}


def event(brand, customer, type, payload, *, record_id="", version="", at=None, kind=""):
    recorded, _created = record_event(
        brand=brand,
        customer=customer,
        type=type,
        source="test",
        source_key=f"k{next(_keys)}",
        occurred_at=at or dt.datetime.now(dt.UTC),
        payload=payload,
        record_id=record_id,
        record_version=version,
        record_kind=kind,
    )
    return recorded


def rule(key, event_type, *steps, brand=None, **fields) -> AutomationRule:
    fields.setdefault("category", "transactional")
    made = AutomationRule.objects.create(
        brand=brand, key=key, name=key, event_type=event_type, **fields
    )
    for position, step in enumerate(steps):
        RuleStep.objects.create(rule=made, position=position, **step)
    return made
