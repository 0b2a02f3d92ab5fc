"""The rules engine: events in, matching rules, planned steps in the outbox, reasons kept.

``run_rules_batch(event_ids)`` is the entry (the django-q2 task ``process_events`` calls it
for the events committed together, see ``kommunikation.automation.tasks``);
``run_rules(event_id)`` is a batch of one. In one transaction, with the events claimed
(``claim_events``: SKIP LOCKED on PostgreSQL, the write lock on SQLite), each event in the
order it was recorded:

1. A historical event (the first sync of a connection) fires nothing.
2. **Supersession**: what is still planned for the same business record from earlier
   events is checked against this one: a payment cancels the dunning letters, an accepted
   quote its follow-ups, a moved or cancelled appointment its reminders, an order that moved
   on its status follow-ups; a partial payment lowers the open amount in the letters still
   waiting. Cancelled outbox rows keep the reason.
3. Each active rule of the event type (and of the types it re-plans) is matched: status
   from/to, then the conditions. A ``RuleRun`` records the result and why.
4. Each step of a matching rule is planned: its time (``timing.due_at``), the customer's
   address per channel (address type, first or last), then one outbox row with an
   idempotency key of (rule step, record id and version, channel, recipient) and
   ``not_before`` at that time. A step that cannot be planned is a ``PlannedStep`` with
   state "skipped" and the reason. A newer event of the same rule and record re-plans:
   the older rule's pending steps are cancelled ("neu geplant").
5. The event's outcome is recorded.

The batch reads what it needs up front in one query each (contact points, the records'
waiting steps, once-per-record runs; rules from the per-process cache), plans in memory
(``Batch``: a later event of the batch sees what an earlier one planned or cancelled, as
in the next transaction) and writes in bulk at the end: outbox rows idempotent by key
(``enqueue_outbound_many``), cancellations with their audit entries, runs, steps, outcomes.
The number of queries does not grow with the number of events.

``still_wanted(row)`` is the dispatch worker's last check right before sending: the same
cancel conditions against everything recorded since the plan was made, and the customer's
replies, so a message planned days earlier cannot go out stale.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from email.utils import make_msgid
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from compliance.services import Actor
from kommunikation.automation import autoreply, inbox_actions
from kommunikation.automation.models import (
    AddressPosition,
    AddressType,
    AutomationRule,
    CancelOn,
    ChannelMode,
    PlannedState,
    PlannedStep,
    RuleRun,
    RuleStep,
    StepAction,
)
from kommunikation.automation.textops import TEXT_OPS, text_matches
from kommunikation.automation.timing import Late, NoDate, berlin, due_at
from kommunikation.bulk import build, fetch, gc_paused, insert_many, update_each
from kommunikation.events.catalogue import build_context
from kommunikation.events.models import Event, EventOutcome
from kommunikation.models import (
    BusinessEntity,
    ContactPoint,
    OutboundMessage,
    OutboundSource,
    OutboundStatus,
)
from kommunikation.outbox import (
    brand_mail_domain,
    cancel_outbound_many,
    enqueue_outbound_many,
    new_outbound,
    revise_outbound_many,
    trigger_dispatch,
)

log = logging.getLogger(__name__)

# the engine's fixed texts, translated once per batch (``run_rules_batch``): a batch runs
# in one language, and gettext itself costs more than matching a rule
_TEXTS: ContextVar[dict[str, str] | None] = ContextVar("rule_texts", default=None)


def _(message: str) -> str:
    texts = _TEXTS.get()
    if texts is None:
        return gettext(message)
    text = texts.get(message)
    if text is None:
        text = texts[message] = gettext(message)
    return text


# an event of the key also runs the rules of the values: a moved appointment re-plans the
# reminders of the scheduled one (with the new starts_at)
REPLANS = {"appointment.moved": ("appointment.scheduled",)}
PHONE_CHANNELS = ("sms", "whatsapp", "call")
RULES_ACTOR = Actor(label="Regeln")
# payload keys by which a source marks history (the sevDesk first sync): no rules fire
HISTORICAL_KEYS = ("historical", "_historical", "first_sync")


@dataclass
class RunResult:
    matched: int = 0
    planned: int = 0
    skipped: int = 0
    cancelled: int = 0
    due_now: bool = False  # a planned row may go out at once
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return _(
            "Zutreffende Regeln: %(matched)s, geplante Schritte: %(planned)s, "
            "übersprungen: %(skipped)s, storniert: %(cancelled)s."
        ) % {
            "matched": self.matched,
            "planned": self.planned,
            "skipped": self.skipped,
            "cancelled": self.cancelled,
        }


def is_historical(event: Event) -> bool:
    """Marked by its source as history (first sync of a connection): fires no rules."""
    if getattr(event, "historical", False):
        return True
    return any(event.payload.get(key) is True for key in HISTORICAL_KEYS)


# --- rules of an event type ------------------------------------------------------------------
# Cached per process and checked against (count, last change) of the rules once per batch:
# a rule changed in the admin (another process) or rolled back is seen at the next event.

_RULES: dict[str, list[AutomationRule]] | None = None
_STAMP: tuple | None = None


def forget_rules(**kwargs) -> None:
    global _RULES, _STAMP
    _RULES, _STAMP = None, None


def rules_for(event_type: str, brand_id: int) -> list[AutomationRule]:
    """The active rules an event of this type and brand runs (and those it re-plans)."""
    return _pick(_rule_table(), event_type, brand_id)


def _rule_table() -> dict[str, list[AutomationRule]]:
    """All active rules by event type, reloaded when (count, last change) moved."""
    global _RULES, _STAMP
    stamp = tuple(AutomationRule.objects.aggregate(n=Count("id"), at=Max("updated_at")).values())
    if _RULES is None or stamp != _STAMP:
        rules: dict[str, list[AutomationRule]] = {}
        queryset = (
            AutomationRule.objects.active()
            .prefetch_related("steps")
            .order_by("event_type", "key", "brand_id")
        )
        for rule in queryset:
            rules.setdefault(rule.event_type, []).append(rule)
        _RULES, _STAMP = rules, stamp
    return _RULES


def _pick(table: dict[str, list[AutomationRule]], event_type: str, brand_id: int) -> list:
    types = (event_type, *REPLANS.get(event_type, ()))
    return [
        rule
        for t in types
        for rule in table.get(t, ())
        if rule.brand_id is None or rule.brand_id == brand_id
    ]


# --- matching ------------------------------------------------------------------------------


def _lookup(event: Event, field_name: str) -> tuple[bool, Any]:
    """(present, value) of a condition's field for this event."""
    if field_name == "brand":
        return True, event.brand.slug
    if field_name == "record.status":
        return bool(event.record_status), event.record_status
    if field_name == "record.kind":
        return bool(event.record_kind), event.record_kind
    if field_name.startswith("customer."):
        if event.customer is None:
            return False, None
        value = getattr(event.customer, field_name.removeprefix("customer."), None)
        return value not in (None, ""), value
    value: Any = event.payload
    for part in field_name.removeprefix("payload.").split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return value is not None, value


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op in TEXT_OPS:
        return text_matches(op, actual, expected)
    if op == "equals":
        return _same(actual, expected)
    if op == "not_equals":
        return not _same(actual, expected)
    if op == "in":
        return any(_same(actual, e) for e in expected)
    if op == "not_in":
        return not any(_same(actual, e) for e in expected)
    a, b = _number(actual), _number(expected)
    if a is None or b is None:  # dates and other text: ISO 8601 sorts as it reads
        a, b = str(actual), str(expected)
    return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected or str(actual).lower() == str(expected).lower()
    a, b = _number(actual), _number(expected)
    if a is not None and b is not None:
        return a == b  # "1234.50" from sevDesk equals 1234.5
    return str(actual) == str(expected)


def match(rule: AutomationRule, event: Event) -> tuple[bool, str]:
    """(matched, why): the status change, then every condition in order."""
    if rule.from_status or rule.to_status:
        status = str(event.payload.get("status") or event.record_status or "")
        previous = str(event.payload.get("previous_status") or "")
        if rule.to_status and status != rule.to_status:
            return False, _("Status ist „%(status)s“, nicht „%(want)s“.") % {
                "status": status,
                "want": rule.to_status,
            }
        if rule.from_status and previous != rule.from_status:
            return False, _("Vorheriger Status ist „%(status)s“, nicht „%(want)s“.") % {
                "status": previous,
                "want": rule.from_status,
            }
    for number, cond in enumerate(rule.conditions or [], start=1):
        op = cond.get("op", "equals")
        present, actual = _lookup(event, cond["field"])
        if op == "exists":
            ok = present
        elif op == "missing":
            ok = not present
        else:
            ok = present and _compare(op, actual, cond.get("value"))
        if not ok:
            return False, _(
                "Bedingung %(n)s nicht erfüllt: %(field)s %(op)s %(value)s (ist: %(actual)s)."
            ) % {
                "n": number,
                "field": cond["field"],
                "op": op,
                "value": cond.get("value", ""),
                "actual": actual if present else _("fehlt"),
            }
    return True, _("Alle Bedingungen erfüllt.")


# --- addresses -----------------------------------------------------------------------------


def address_for(
    customer, channel: str, *, kind: str, position: str, points: list[ContactPoint]
) -> str:
    """The customer's address for a channel by the rule's choice (seed 003, Bitrix24):
    a type (work, private, mobile, newsletter) or automatic, then the first or last one."""
    if channel == "letter":
        if customer.street and customer.city:
            return f"{customer.street}, {customer.postal_code} {customer.city}".strip()
        return ""
    wanted = "phone" if channel in PHONE_CHANNELS else "email" if channel == "email" else None
    if wanted is None:
        return ""
    usable = [
        p
        for p in points
        if p.channel == wanted and not p.bouncing and (kind == AddressType.AUTO or p.type == kind)
    ]
    usable.sort(key=lambda p: (p.position, p.created_at, p.pk))
    if not usable:
        return ""
    return (usable[-1] if position == AddressPosition.LAST else usable[0]).value


# --- data for the templates ------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Template data as JSON for the outbox row: Decimals as text, dates in ISO 8601
    (the template filters money and datum read both)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _dunning_context(context: dict, event: Event, when: dt.datetime) -> dict:
    """A later dunning letter counts its days overdue and its new payment date from the
    day it goes out, not from the day the invoice first became overdue."""
    if event.type != "invoice.overdue" or not context.get("due_date"):
        return context
    day = when.astimezone(berlin()).date()
    context = dict(context)
    due = dt.date.fromisoformat(str(context["due_date"])[:10])
    context["days_overdue"] = max((day - due).days, int(context.get("days_overdue") or 0))
    if context.get("new_due_date"):
        first = dt.date.fromisoformat(str(context["new_due_date"])[:10])
        grace = (first - event.occurred_at.astimezone(berlin()).date()).days
        context["new_due_date"] = (day + dt.timedelta(days=max(grace, 0))).isoformat()
    return context


def idempotency_key(
    step: RuleStep, repetition: int, event: Event, channel: str, recipient: str
) -> str:
    """(rule step, brand, record id and version, channel, recipient): a repeated event, a
    second sync or a re-run finds the same key and the outbox returns the first row. The
    brand belongs to the record: a rule for every brand meets the same invoice id in two
    brands' sevDesk accounts, and a customer of both must get both messages."""
    record = (
        f"{event.brand_id}/{event.record_kind}:{event.record_id}:{event.record_version}"
        if event.record_id
        else f"event:{event.pk}"
    )
    key = f"rule:{step.rule_id}.{step.position}.{repetition}:{record}:{channel}:{recipient}"
    if len(key) <= 200:
        return key
    return (
        f"rule:{step.rule_id}.{step.position}.{repetition}:"
        + hashlib.sha256(key.encode()).hexdigest()
    )


# --- the run -------------------------------------------------------------------------------

# events per transaction: big enough that the fixed queries of a batch vanish per event,
# small enough that a batch holds its row locks (and the SQLite write lock) for well under
# a second
BATCH_SIZE = 500


class LostClaim(Exception):
    """An event of the batch was processed by another worker meanwhile (cannot happen
    while the claim holds; the batch is rolled back and retried one by one)."""


def run_rules(
    event_id: int, *, now: dt.datetime | None = None, trigger: bool = True
) -> RunResult | None:
    """Run the rules for one event once; None when it was handled already (a batch of one).

    With `trigger`, one dispatch task starts after the commit when a step is due now."""
    return run_rules_batch([event_id], now=now, trigger=trigger).get(event_id)


def run_rules_batch(
    event_ids: Iterable[int], *, now: dt.datetime | None = None, trigger: bool = True
) -> dict[int, RunResult]:
    """Run the rules once for each of these events still pending, in one transaction and a
    fixed number of queries; returns the result per event this call processed (an event
    another worker holds or handled already is left out).

    The events are claimed first (``claim_events``), then run in the order they were
    recorded, each seeing what the earlier ones of the batch planned and cancelled; all
    rows are written at the end in bulk. With `trigger`, one dispatch task starts after
    the commit when a step of the batch is due now."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    texts = _TEXTS.set({})
    try:
        with gc_paused(), transaction.atomic():
            # the batch's objects are freed (by reference counting) when _run_batch
            # returns, before the collector is back on: it then finds only the few
            # cycles left, instead of walking every row the batch built
            return _run_batch(ids, now=now, trigger=trigger)
    except (IntegrityError, LostClaim):
        # another worker ran one of the events (its RuleRuns hold the unique constraint):
        # each on its own, so the others are not lost with it
        if len(ids) == 1:
            log.info("event %s: rules already run by another worker", ids[0])
            return {}
        results: dict[int, RunResult] = {}
        for pk in ids:
            results.update(run_rules_batch([pk], now=now, trigger=trigger))
        return results
    finally:
        _TEXTS.reset(texts)


def _run_batch(ids: list[int], *, now: dt.datetime | None, trigger: bool) -> dict[int, RunResult]:
    events = claim_events(ids)
    if not events:
        return {}
    batch = Batch(events, now=now or timezone.now())
    for event in events:
        _run(event, batch=batch, now=batch.now)
    results = batch.write()
    if trigger and any(result.due_now for result in results.values()):
        transaction.on_commit(trigger_dispatch)
    batch.release()
    return results


def _id_runs(ids: list[int], *, most: int = 20) -> Q:
    """The sorted ids as ranges of consecutive ids (the events of one commit are), each
    exactly the ids in it: a range of the primary key is one index descent the planner
    prices as such, where 500 ids IN (...) are 500 it prices above a scan of the table.
    Ids in many pieces stay a list."""
    runs: list[list[int]] = []
    for pk in ids:
        if runs and pk == runs[-1][1] + 1:
            runs[-1][1] = pk
        else:
            runs.append([pk, pk])
    if len(runs) > most:
        return Q(pk__in=ids)
    condition = Q()
    for first, last in runs:
        condition |= Q(pk=first) if first == last else Q(pk__range=(first, last))
    return condition


def claim_events(ids: list[int]) -> list[Event]:
    """The pending events among `ids`, locked for this transaction (oldest first).

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two workers never run the same event and
    neither waits for the other. SQLite has no row locks: the claim starts with a write
    to the events, which takes the database's single write lock; a second worker waits
    there and then reads them processed. The outcome update at the end is filtered on
    "pending" as well (``Batch.write``).

    PostgreSQL locks the rows by primary key alone and keeps the pending ones: with
    "pending" in the query the planner may walk the partial index of all pending events
    (event_pending) instead, which takes as long as the backlog is (an import, the
    first sync), for every batch."""
    if connection.features.has_select_for_update_skip_locked:
        claimed = Event.objects.filter(_id_runs(ids)).select_for_update(
            of=("self",), skip_locked=True
        )
    else:
        pending = Event.objects.pending().filter(pk__in=ids)
        pending.update(processed_at=None)
        claimed = pending
    events = [
        event
        for event in fetch(claimed.order_by("pk"), related=("customer",))
        if event.outcome == EventOutcome.PENDING
    ]
    # the few brands once, not one copy per event
    brands = BusinessEntity.objects.in_bulk({event.brand_id for event in events})
    for event in events:
        event.brand = brands[event.brand_id]
    return events


class Batch:
    """What one transaction plans for its events: read in a few queries up front, built in
    memory event by event, written in bulk by ``write``.

    ``pending`` holds, per business record, its planned steps still waiting: those stored
    before and those this batch planned, so a payment cancels the dunning letters of an
    overdue event earlier in the same batch just as it would in the next transaction."""

    def __init__(self, events: list[Event], *, now: dt.datetime):
        self.now = now
        # the rows' creation time, one for the batch (as the transaction's now() would be):
        # a column equal in every row is written once per COPY, not formatted per row
        self.created = timezone.now()
        self.events = events
        self.results = {event.pk: RunResult() for event in events}
        self.rules = _rule_table()
        self.runs: list[RuleRun] = []
        self.steps: list[PlannedStep] = []  # new ones, planned or skipped
        self.cancels: list[tuple[PlannedStep, RunResult, tuple]] = []
        self.revised: dict[int, dict] = {}  # stored outbox row -> its new template data
        self.entered_cancelled: set[int] = set()  # new outbox rows written cancelled
        self.points: dict[int, list[ContactPoint]] = {}
        self.addresses: dict[tuple, str] = {}
        self.mail_domains: dict[int, str] = {}
        customer_ids = {event.customer_id for event in events if event.customer_id}
        if customer_ids:
            for point in fetch(ContactPoint.objects.filter(customer_id__in=list(customer_ids))):
                self.points.setdefault(point.customer_id, []).append(point)
        records = {_record(event) for event in events if event.record_id}
        self.pending: dict[tuple, list[PlannedStep]] = {}
        self.once: set[tuple] = set()
        if records:
            # a record has steps waiting, or runs of a once-per-record rule, only from
            # another event of it (a step copies its event's record): both are read for
            # the records that have one, mostly none (a record's first event)
            record_of = self._load_others(records, events)
            if record_of:
                self._load_pending(set(record_of.values()))
                self._load_once(events, record_of)

    def _load_others(self, records: set[tuple], events: list[Event]) -> dict[int, tuple]:
        """The records' events outside this batch: event id -> record
        (event_record_first, by record id and kind; the brand is checked here)."""
        _brands, kinds, ids = (set(part) for part in zip(*records, strict=True))
        others = (
            Event.objects.filter(record_id__in=ids, record_kind__in=kinds)
            .exclude(_id_runs([event.pk for event in events]))  # in pk order (claim_events)
            .values_list("pk", "brand_id", "record_kind", "record_id")
        )
        return {pk: tuple(record) for pk, *record in others if tuple(record) in records}

    def _load_pending(self, records: set[tuple]) -> None:
        """The steps still waiting for the batch's records (plannedstep_record_first)."""
        brands, kinds, ids = (set(part) for part in zip(*records, strict=True))
        stored = (
            PlannedStep.objects.filter(
                brand_id__in=brands,
                record_kind__in=kinds,
                record_id__in=ids,
                state=PlannedState.PLANNED,
                outbound__status=OutboundStatus.QUEUED,
            )  # fmt: skip
            .select_related("run__event", "outbound")
            .order_by("planned_for", "pk")
        )
        for planned in stored:
            record = (planned.brand_id, planned.record_kind, planned.record_id)
            if record in records:  # the three IN lists also match other combinations
                self.pending.setdefault(record, []).append(planned)

    def _load_once(self, events: list[Event], record_of: dict[int, tuple]) -> None:
        """Which once-per-record rules already ran for the batch's records: the runs
        (rulerun_unique) of the records' other events (``_load_others``)."""
        records = {
            _record(event)
            for event in events
            if event.record_id
            and any(r.once_per_record for r in _pick(self.rules, event.type, event.brand_id))
        }
        earlier_events = [pk for pk, record in record_of.items() if record in records]
        if not earlier_events:
            return
        once_rules = [r.pk for rules in self.rules.values() for r in rules if r.once_per_record]
        earlier = RuleRun.objects.filter(
            event_id__in=earlier_events, rule_id__in=once_rules, matched=True
        ).values_list("rule_id", "event_id")
        self.once = {(rule_id, *record_of[event_id]) for rule_id, event_id in earlier}

    def pending_for(self, event: Event) -> list[PlannedStep]:
        """The record's steps still waiting, but not those of this event."""
        return [
            planned
            for planned in self.pending.get(_record(event), ())
            if planned.state == PlannedState.PLANNED
            and planned.outbound is not None
            and planned.outbound.status == OutboundStatus.QUEUED
            and planned.run.event_id != event.pk
        ]

    def address(self, customer, channel: str, rule: AutomationRule, points: list) -> str:
        """``address_for`` once per customer, channel and the rule's address choice."""
        key = (customer.pk, channel, rule.address_type, rule.address_position)
        address = self.addresses.get(key)
        if address is None:
            address = self.addresses[key] = address_for(
                customer, channel, kind=rule.address_type, position=rule.address_position,
                points=points,
            )  # fmt: skip
        return address

    def message_id(self, brand: BusinessEntity) -> str:
        """A new Message-ID on the brand's mail domain (looked up once per batch)."""
        domain = self.mail_domains.get(brand.pk)
        if domain is None:
            domain = self.mail_domains[brand.pk] = brand_mail_domain(brand)
        return make_msgid(domain=domain)

    def add_run(self, run: RuleRun) -> None:
        self.runs.append(run)

    def add_step(self, planned: PlannedStep) -> PlannedStep:
        self.steps.append(planned)
        if planned.record_id and planned.state == PlannedState.PLANNED:
            self.pending.setdefault(
                (planned.brand_id, planned.record_kind, planned.record_id), []
            ).append(planned)
        return planned

    def cancel(self, planned: PlannedStep, reason: str, *, result: RunResult) -> None:
        """Cancel the step (and, on writing, its waiting outbox row) with the reason."""
        before = (planned.state, planned.reason, planned.cancelled_at)
        planned.state, planned.reason = PlannedState.CANCELLED, reason[:500]
        planned.cancelled_at = self.now
        self.cancels.append((planned, result, before))

    def revise(self, planned: PlannedStep, context: dict) -> None:
        """New template data for the step's row (a stored one is updated on writing)."""
        planned.outbound.context = context
        if planned.outbound.pk is not None:
            self.revised[planned.outbound.pk] = context

    def write(self) -> dict[int, RunResult]:
        """Everything planned, in bulk; then the outcome of each event."""
        self._write_outbox()
        if self.revised:
            revise_outbound_many(self.revised)
        self._write_cancels()
        insert_many(RuleRun, self.runs)
        insert_many(PlannedStep, self.steps)
        for event in self.events:
            if event.outcome == EventOutcome.PENDING:
                result = self.results[event.pk]
                event.outcome, event.outcome_detail = EventOutcome.PROCESSED, result.summary()
            event.processed_at = self.now
        won = update_each(
            Event,
            {e.pk: {"outcome": e.outcome, "outcome_detail": e.outcome_detail} for e in self.events},
            same={"processed_at": self.now},
            where={"outcome": EventOutcome.PENDING},  # the claim, once more
        )
        if won != len(self.events):
            raise LostClaim()
        return self.results

    def release(self) -> None:
        """Drop the outbox rows' cached link back to their steps (a one-to-one caches both
        sides, a reference cycle per row): the batch is then freed by reference counting
        as soon as it goes, not by a walk of the garbage collector."""
        steps = [*self.steps, *(p for planned in self.pending.values() for p in planned)]
        for planned in steps:
            row = planned._state.fields_cache.get("outbound")
            if row is not None:
                row._state.fields_cache.pop("planned_step", None)

    def _write_outbox(self) -> None:
        """The planned rows, idempotent by key: a key planned before (a repeated event, a
        re-run, or an earlier event of this batch) plans nothing new."""
        planned = [p for p in self.steps if p.state != PlannedState.SKIPPED and p.outbound]
        for step in planned:
            if step.state == PlannedState.CANCELLED and step.outbound.pk is None:
                # planned and cancelled in this batch: a new row enters the outbox cancelled
                # (a key stored before comes back as that row and is cancelled on writing)
                step.outbound.status = OutboundStatus.CANCELLED
                step.outbound.last_error = (step.reason or _("Storniert."))[:2000]
        stored = enqueue_outbound_many([p.outbound for p in planned])
        known = [row.pk for row, created in stored.values() if not created]
        linked = set(
            PlannedStep.objects.filter(outbound_id__in=known).values_list("outbound_id", flat=True)
            if known
            else ()
        )
        for step in planned:
            row, created = stored[step.outbound.idempotency_key]
            if created and row.status == OutboundStatus.CANCELLED:
                self.entered_cancelled.add(row.pk)
            if row.pk not in linked:
                step.outbound = row
                linked.add(row.pk)
                continue
            step.outbound, step.state = None, PlannedState.SKIPPED
            step.reason = _("Bereits geplant (Ausgang #%(id)s), nicht doppelt.") % {"id": row.pk}
            step.cancelled_at = None
            result = self.results[step.run.event_id]
            result.planned -= 1
            result.skipped += 1

    def _write_cancels(self) -> None:
        cancels = [c for c in self.cancels if c[0].state == PlannedState.CANCELLED]
        entered = [
            p.outbound
            for p, _r, _b in cancels
            if p.outbound is not None and p.outbound.pk in self.entered_cancelled
        ]
        reasons = {
            p.outbound.pk: p.reason
            for p, _r, _b in cancels
            if p.outbound is not None and p.outbound.pk not in self.entered_cancelled
        }
        done = (
            cancel_outbound_many(reasons, actor=RULES_ACTOR, entered=entered)
            if reasons or entered
            else set()
        )
        stored: dict[int, dict] = {}
        for planned, result, before in cancels:
            if planned.outbound is not None and planned.outbound.pk not in done:
                # the row went out meanwhile: the step stays as it was
                planned.state, planned.reason, planned.cancelled_at = before
                continue
            if planned.outbound is not None:
                planned.outbound.status = OutboundStatus.CANCELLED
            result.cancelled += 1
            if planned.pk is not None:
                stored[planned.pk] = {"reason": planned.reason}
        update_each(
            PlannedStep,
            stored,
            same={"state": PlannedState.CANCELLED, "cancelled_at": self.now},
        )


def _record(event: Event) -> tuple:
    return (event.brand_id, event.record_kind, event.record_id)


def _run(event: Event, *, batch: Batch, now: dt.datetime) -> RunResult:
    result = batch.results[event.pk]
    if is_historical(event):
        event.outcome = EventOutcome.IGNORED
        event.outcome_detail = _("Historisches Ereignis (Erstabgleich): keine Regeln ausgeführt.")
        return result
    if event.record_id:
        supersede(event, result=result, now=now, batch=batch)
    rules = autoreply.in_order(_pick(batch.rules, event.type, event.brand_id))
    context: dict | None = None
    context_error = ""
    points: list[ContactPoint] | None = None
    for rule in rules:
        matched, why = match(rule, event)
        once = (rule.pk, *_record(event))
        if matched and rule.once_per_record and event.record_id:
            if once in batch.once:
                matched, why = False, _("Läuft je Vorgang nur einmal; lief bereits.")
            else:
                batch.once.add(once)
        if matched and rule.auto_reply:
            matched, why = autoreply.applies(rule, event)
        run = build(
            RuleRun, event=event, rule=rule, rule_key=rule.key, matched=matched,
            reason=why[:500], created_at=batch.created,
        )  # fmt: skip
        batch.add_run(run)
        if not matched:
            continue
        result.matched += 1
        if event.record_id:
            replan(rule, event, result=result, now=now, batch=batch)
        if context is None and not context_error:
            try:
                context = jsonable(build_context(event.type, event.payload))
            except Exception as exc:  # a payload the type's builder cannot read
                context_error = _("Daten des Ereignisses unvollständig: %(error)s") % {"error": exc}
        if points is None and event.customer is not None:
            points = batch.points.get(event.customer_id, [])
        for step in _sorted_steps(rule):
            if step.action != StepAction.SEND:
                inbox_actions.apply_step(run, rule, step, event, result=result, now=now,
                                         batch=batch)  # fmt: skip
                continue
            if rule.auto_reply:
                autoreply.plan_reply(run, rule, step, event, context=context,
                                     context_error=context_error, result=result, now=now,
                                     batch=batch)  # fmt: skip
                continue
            plan_step(
                run,
                rule,
                step,
                event,
                context=context,
                context_error=context_error,
                points=points or [],
                result=result,
                now=now,
                batch=batch,
            )
    return result


def _sorted_steps(rule: AutomationRule) -> list[RuleStep]:
    """The rule's steps in order, sorted once per cached rule (``_rule_table``)."""
    steps = rule.__dict__.get("_sorted_steps")
    if steps is None:
        steps = rule.__dict__["_sorted_steps"] = sorted(rule.steps.all(), key=lambda s: s.position)
    return steps


def _skip(run, step, event, *, batch: Batch, repetition=0, reason: str, when=None) -> None:
    batch.add_step(
        build(
            PlannedStep,
            created_at=batch.created,
            run=run,
            step_id=step.pk,
            position=step.position,
            repetition=repetition,
            brand_id=event.brand_id,
            customer_id=event.customer_id,
            record_kind=event.record_kind,
            record_id=event.record_id,
            template_key=step.template_key,
            channels=step.channels,
            cancel_on=step.cancel_on,
            planned_for=when,
            state=PlannedState.SKIPPED,
            reason=reason[:500],
        )
    )


def plan_step(
    run: RuleRun,
    rule: AutomationRule,
    step: RuleStep,
    event: Event,
    *,
    context: dict | None,
    context_error: str,
    points: list[ContactPoint],
    result: RunResult,
    now: dt.datetime,
    batch: Batch,
) -> None:
    for repetition in range(step.repeat + 1):
        try:
            when = due_at(
                step, occurred_at=event.occurred_at, payload=event.payload, now=now,
                repetition=repetition,
            )  # fmt: skip
        except (Late, NoDate) as exc:
            result.skipped += 1
            _skip(run, step, event, batch=batch, repetition=repetition, reason=str(exc))
            continue
        if event.customer is None:
            result.skipped += 1
            _skip(run, step, event, batch=batch, repetition=repetition, when=when,
                  reason=_("Kein Kunde zum Ereignis: keine Nachricht."))  # fmt: skip
            continue
        if context is None:
            result.skipped += 1
            _skip(run, step, event, batch=batch, repetition=repetition, when=when,
                  reason=context_error)  # fmt: skip
            continue
        addresses, missing = {}, []
        for channel in step.channels:
            address = batch.address(event.customer, channel, rule, points)
            if address:
                addresses[channel] = address
            else:
                missing.append(channel)
        if not addresses:
            result.skipped += 1
            _skip(run, step, event, batch=batch, repetition=repetition, when=when,
                  reason=_("Keine Adresse vom Typ „%(type)s“ für %(channels)s: keine Nachricht.")
                  % {"type": rule.get_address_type_display(),
                     "channels": ", ".join(step.channels)})  # fmt: skip
            continue
        channels = list(addresses)
        note = (
            _("Ohne Adresse übergangen: %(channels)s.") % {"channels": ", ".join(missing)}
            if missing
            else ""
        )
        groups = [[c] for c in channels] if step.channel_mode == ChannelMode.ALL else [channels]
        data = _dunning_context(context, event, when)
        for group in groups:
            first = group[0]
            key = idempotency_key(step, repetition, event, "+".join(group), addresses[first])
            # written with the batch (Batch.write: enqueue_outbound_many, idempotent by key)
            row = new_outbound(
                message_id=batch.message_id(event.brand),
                created_at=batch.created,
                brand=event.brand,
                customer=event.customer,
                channels=group,
                category=step.effective_category,
                idempotency_key=key,
                source=OutboundSource.RULE,
                template_key=step.template_key,
                context=data,
                to_address=addresses[first],
                addresses={c: addresses[c] for c in group},
                purpose=rule.purpose,
                not_before=when,
                source_ref=f"event:{event.pk} rule:{rule.key}"[:200],
                priority=rule.priority,
                fallback_after=step.fallback_after,  # a chain of one has no next channel
            )
            result.due_now = result.due_now or when <= now
            batch.add_step(
                build(
                    PlannedStep,
                    created_at=batch.created,
                    run=run,
                    step_id=step.pk,
                    position=step.position,
                    repetition=repetition,
                    brand_id=event.brand_id,
                    customer_id=event.customer_id,
                    record_kind=event.record_kind,
                    record_id=event.record_id,
                    template_key=step.template_key,
                    channels=group,
                    addresses={c: addresses[c] for c in group},
                    cancel_on=step.cancel_on,
                    planned_for=when,
                    state=PlannedState.PLANNED,
                    reason=note,
                    outbound=row,
                )
            )
            # a key planned before turns this into "Bereits geplant" on writing
            result.planned += 1


# --- supersession and the last check ---------------------------------------------------------


def cancel_reason(planned: PlannedStep, later: Event) -> str | None:
    """Why a later event on the same record makes this planned step unwanted (or None)."""
    cancel_on = set(planned.cancel_on or ())
    if CancelOn.INVOICE_PAID in cancel_on and later.type == "payment.received":
        return _("Rechnung bezahlt (Zahlung vom %(when)s).") % {"when": _when(later)}
    if CancelOn.QUOTE_ACCEPTED in cancel_on and later.type == "quote.accepted":
        return _("Angebot angenommen (%(when)s).") % {"when": _when(later)}
    if CancelOn.APPOINTMENT_CANCELLED in cancel_on and later.type == "appointment.cancelled":
        return _("Termin abgesagt (%(when)s).") % {"when": _when(later)}
    if CancelOn.APPOINTMENT_MOVED in cancel_on and later.type == "appointment.moved":
        return _("Termin verschoben auf %(starts)s; neu geplant.") % {
            "starts": later.payload.get("starts_at", "?")
        }
    if CancelOn.ORDER_MOVED_ON in cancel_on and later.type == "order.status_changed":
        planned_status = planned.run.event.payload.get("status")
        status = later.payload.get("status")
        if status != planned_status:
            return _("Auftrag weiter im Ablauf (jetzt „%(status)s“).") % {"status": status}
    if CancelOn.ORDER_MOVED_ON in cancel_on and later.type == "order.delivery_note_sent":
        # the order ships (a delivery note without a tracking number: no status change)
        return _("Auftrag weiter im Ablauf (Lieferschein %(number)s versandt).") % {
            "number": later.payload.get("delivery_note_number") or "?"
        }
    return None


def _when(event: Event) -> str:
    """The event's time as the reasons print it (once per event: it cancels several steps)."""
    when = event.__dict__.get("_reason_when")
    if when is None:
        # date_format's "d.m.Y H:i", all digits: strftime gives the same text for a
        # fraction of the cost (no format look-up per call)
        when = event.__dict__["_reason_when"] = event.occurred_at.astimezone(berlin()).strftime(
            "%d.%m.%Y %H:%M"
        )
    return when


def supersede(event: Event, *, result: RunResult, now: dt.datetime, batch: Batch) -> None:
    """Cancel what this event makes unwanted; a partial payment revises the open amount."""
    for planned in batch.pending_for(event):
        reason = cancel_reason(planned, event)
        if reason:
            batch.cancel(planned, reason, result=result)
        elif event.type == "invoice.partially_paid" and planned.run.event.type == "invoice.overdue":
            _revise_amounts(planned, event, batch=batch)


def _revise_amounts(planned: PlannedStep, payment: Event, *, batch: Batch) -> None:
    context = dict(planned.outbound.context)
    try:
        paid = build_context(payment.type, payment.payload)
    except Exception:  # an incomplete payment event: the letter keeps its amounts
        return
    open_amount = Decimal(str(paid["open_amount"]))
    fee = Decimal(str(context.get("fee") or "0"))
    context.update(
        amount=str(open_amount),
        open_amount=str(open_amount),
        paid_amount=str(paid["paid_amount"]),
        total_due=str(open_amount + fee),
    )
    batch.revise(planned, context)


def replan(
    rule: AutomationRule, event: Event, *, result: RunResult, now: dt.datetime, batch: Batch
) -> None:
    """A newer event of the same record that the same rule matched replaces its older plan."""
    older = [p for p in batch.pending_for(event) if p.run.rule_id == rule.pk]
    for planned in older:
        reason = _("Neu geplant mit Ereignis #%(id)s (%(type)s).") % {
            "id": event.pk,
            "type": event.type,
        }
        batch.cancel(planned, reason, result=result)


def still_wanted(row: OutboundMessage) -> str | None:
    """The last check before sending a rule's message: None to send, else why not.

    Re-checks the step's cancel conditions against every event recorded for the record
    since the plan's event, and whether the customer answered since it was planned; a
    step cancelled in the meantime is reported too. The step is marked cancelled here; the
    caller (dispatch) cancels its outbox row with the reason.
    """
    # a fallback attempt (issue 11 §7) answers to the plan of the chain's first row
    root = row.chain_root_id() if row.fallback_of_id else row.pk
    planned = PlannedStep.objects.filter(outbound_id=root).select_related("run__event").first()
    if planned is None:
        return None
    if planned.state == PlannedState.CANCELLED:
        return planned.reason or _("Storniert.")
    origin = planned.run.event
    reason = None
    if planned.record_id:
        later = (
            Event.objects.for_record(planned.record_kind, planned.record_id)
            .filter(brand_id=planned.brand_id)
            .filter(Q(pk__gt=origin.pk) | Q(occurred_at__gt=origin.occurred_at))
            .exclude(pk=origin.pk)
            .order_by("pk")
        )
        for event in later:
            reason = cancel_reason(planned, event)
            if reason:
                break
    if reason is None and CancelOn.CUSTOMER_REPLIED in (planned.cancel_on or ()):
        reason = _customer_replied(planned)
    if reason is None:
        return None
    now = timezone.now()
    planned.state, planned.reason, planned.cancelled_at = PlannedState.CANCELLED, reason[:500], now
    planned.save(update_fields=["state", "reason", "cancelled_at"])
    return reason


def _customer_replied(planned: PlannedStep) -> str | None:
    from conversations.models import Direction, Message

    if planned.customer_id is None:
        return None
    reply = (
        Message.objects.filter(
            conversation__customer_id=planned.customer_id,
            conversation__brand_id=planned.brand_id,
            direction=Direction.INBOUND,
            created_at__gt=planned.created_at,
        )
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if reply is None:
        return None
    return _("Kunde hat am %(when)s geantwortet.") % {
        "when": date_format(reply.astimezone(berlin()), "d.m.Y H:i")
    }
