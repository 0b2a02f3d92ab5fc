"""Seeing what automation does (issue 9 §6): what the Automatisierung pages read.

- ``rule_counts``: per rule, what it did in the last days (one aggregate query per figure).
- ``EventLogForm`` / ``event_page``: the event log, filtered by URL parameters, keyset-paged.
- ``forward_calendar``: the waiting outbox rows of a customer or a rule, grouped by day, with
  the compliance gate's verdict for the time each is due (read-only: ``decide`` with its
  records and the outbox's send history, nothing written).
- ``dry_run``: a rule against a customer or a sample event, through the real engine inside a
  transaction that is always rolled back, so the dry run cannot drift from the real thing.

Everything is scoped by the caller's brands: an all-brand rule counts and plans only what
happened in those brands.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from compliance.gate import DEFER, REFUSE, SEND, BatchRecords, decide
from compliance.models import CONSENT_CATEGORIES
from compliance.policy import BERLIN
from conversations.filters import LocalDateField
from kommunikation.automation.engine import jsonable, run_rules
from kommunikation.automation.models import AutomationRule, PlannedState, PlannedStep, RuleRun
from kommunikation.events.catalogue import EVENT_TYPES, get_event_type
from kommunikation.events.models import Event, EventOutcome
from kommunikation.events.services import record_event
from kommunikation.models import ContactPoint, Customer, OutboundMessage, OutboundStatus
from kommunikation.outbox import BatchHistory

COUNT_DAYS = 7
CALENDAR_DAYS = (7, 30)
PAGE_SIZE = 50
DRY_RUN_SOURCE = "probelauf"
NO_ADDRESS = "none"  # a verdict of the forecast: no address for the channel (dispatch fails)


# --- counts per rule -------------------------------------------------------------------------

FIGURES = ("fired", "planned", "sent", "cancelled", "skipped", "refused", "failed")


def rule_counts(
    rule_ids: Iterable[int], brands, *, now: dt.datetime, days: int = COUNT_DAYS
) -> dict[int, dict[str, int]]:
    """{rule id: {figure: count}} for the last ``days`` days, in the given brands.

    One grouped query per figure, whatever the number of rules. "fired" are matched runs;
    "planned" steps that got an outbox row; "sent", "refused" (the compliance gate said no:
    status refused) and "failed" (the channel or the template failed) are the outcomes of
    those rows; "cancelled" steps cancelled (supersession, the last check, by hand);
    "skipped" steps that could not be planned (no address, too late, ...).
    """
    ids = list(rule_ids)
    since = now - dt.timedelta(days=days)
    steps = PlannedStep.objects.filter(brand__in=brands, run__rule_id__in=ids)
    queries: dict[str, QuerySet] = {
        "fired": RuleRun.objects.filter(
            rule_id__in=ids, event__brand__in=brands, matched=True, created_at__gte=since
        ).values(rid=F("rule_id")),
        "planned": steps.filter(created_at__gte=since, outbound__isnull=False),
        "sent": steps.filter(outbound__status=OutboundStatus.SENT, outbound__sent_at__gte=since),
        # a row cancelled in the admin leaves its step "planned": counted by its row
        "cancelled": steps.filter(
            Q(state=PlannedState.CANCELLED, cancelled_at__gte=since)
            | Q(
                state=PlannedState.PLANNED,
                outbound__status=OutboundStatus.CANCELLED,
                created_at__gte=since,
            )
        ),
        "skipped": steps.filter(state=PlannedState.SKIPPED, created_at__gte=since),
        "refused": steps.filter(
            outbound__status=OutboundStatus.REFUSED, outbound__decided_at__gte=since
        ),
        # no failure time is stored: the last gate decision, else when the row was made
        "failed": steps.filter(outbound__status=OutboundStatus.FAILED)
        .alias(at=Coalesce("outbound__decided_at", "outbound__created_at"))
        .filter(at__gte=since),
    }
    counts = {pk: dict.fromkeys(FIGURES, 0) for pk in ids}
    for figure, queryset in queries.items():
        if figure != "fired":
            queryset = queryset.values(rid=F("run__rule_id"))
        for row in queryset.annotate(n=Count("id")).order_by():
            if row["rid"] in counts:
                counts[row["rid"]][figure] = row["n"]
    return counts


def rules_with_counts(brands, *, now: dt.datetime) -> list[tuple[AutomationRule, dict]]:
    """Every rule of the brands (and the all-brand ones) with its counts."""
    rules = list(
        AutomationRule.objects.for_brands(brands)
        .select_related("brand")
        .annotate(step_count=Count("steps"))
        .order_by("event_type", "key", "brand__name")
    )
    counts = rule_counts([r.pk for r in rules], brands, now=now)
    return [(rule, counts[rule.pk]) for rule in rules]


# --- the event log ---------------------------------------------------------------------------


class EventLogForm(forms.Form):
    """The event log's filters; invalid values are ignored (a hand-edited URL still lists)."""

    typ = forms.CharField(label=gettext_lazy("Ereignistyp"), required=False, max_length=80)
    quelle = forms.CharField(label=gettext_lazy("Quelle"), required=False, max_length=60)
    ergebnis = forms.ChoiceField(
        label=gettext_lazy("Ergebnis"),
        required=False,
        choices=[("", gettext_lazy("alle")), *EventOutcome.choices],
    )
    kunde = forms.CharField(label=gettext_lazy("Kunde"), required=False, max_length=100)
    vorgang = forms.CharField(label=gettext_lazy("Vorgangsnummer"), required=False, max_length=80)
    von = LocalDateField(label=gettext_lazy("von"), required=False)
    bis = LocalDateField(label=gettext_lazy("bis"), required=False)

    def values(self) -> dict:
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


def event_types() -> list[tuple[str, str]]:
    """(key, label) of the catalogue, for the filter's suggestions."""
    return [(key, str(entry.label)) for key, entry in EVENT_TYPES.items()]


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=BERLIN)


def filtered_events(brands, values: Mapping[str, Any]) -> QuerySet[Event]:
    """The brands' events matching the filter values (EventLogForm.values())."""
    events = Event.objects.for_brands(brands)
    if values.get("typ"):
        typ = values["typ"].strip()
        events = (
            events.filter(type__startswith=typ[:-1])
            if typ.endswith("*")
            else events.filter(type=typ)
        )
    if values.get("quelle"):
        # "api" finds every API source ("api:erp", "api:shop"), "scan" every daily scan
        events = events.filter(source__istartswith=values["quelle"].strip())
    if values.get("ergebnis"):
        events = events.filter(outcome=values["ergebnis"])
    if values.get("kunde"):
        term = values["kunde"].strip()
        match = (
            Q(last_name__icontains=term)
            | Q(first_name__icontains=term)
            | Q(company_name__icontains=term)
            | Q(number__iexact=term)
        )
        if term.isdigit():
            match |= Q(pk=int(term))
        events = events.filter(customer__in=Customer.objects.for_brands(brands).filter(match))
    if values.get("vorgang"):
        term = values["vorgang"].strip()
        events = events.filter(Q(record_number__icontains=term) | Q(record_id=term))
    if values.get("von"):
        events = events.filter(occurred_at__gte=_local_midnight(values["von"]))
    if values.get("bis"):
        events = events.filter(occurred_at__lt=_local_midnight(values["bis"] + dt.timedelta(1)))
    return events


def encode_cursor(event: Event) -> str:
    return f"{event.occurred_at.isoformat()}~{event.pk}"


def decode_cursor(value: str) -> tuple[dt.datetime, int] | None:
    at, sep, pk = (value or "").partition("~")
    if not sep or not pk.isdigit():
        return None
    try:
        when = parse_datetime(at)
    except ValueError:
        return None
    return (when, int(pk)) if when and timezone.is_aware(when) else None


@dataclass
class EventPage:
    rows: list[Event]
    next_cursor: str


def event_page(events: QuerySet[Event], cursor: str = "", size: int = PAGE_SIZE) -> EventPage:
    """One page, newest first, after ``cursor`` (keyset on occurred_at, id; never OFFSET)."""
    events = events.select_related("customer", "brand").order_by("-occurred_at", "-id")
    after = decode_cursor(cursor)
    if after:
        at, pk = after
        events = events.filter(occurred_at__lte=at).filter(
            Q(occurred_at__lt=at) | Q(occurred_at=at, id__lt=pk)
        )
    rows = list(events[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return EventPage(rows, encode_cursor(rows[-1]) if more else "")


def event_runs(event: Event) -> list[RuleRun]:
    """The rules run against the event, each with its planned steps and their outbox rows."""
    return list(
        event.rule_runs.select_related("rule", "rule__brand")
        .prefetch_related(
            # steps keep their order of planning: position, then repetition
            _steps_prefetch()
        )
        .order_by("-matched", "rule_key", "id")
    )


def _steps_prefetch():
    from django.db.models import Prefetch

    return Prefetch(
        "steps",
        queryset=PlannedStep.objects.select_related("outbound").order_by(
            "position", "repetition", "id"
        ),
    )


# --- the forecast: what the gate will do with a waiting row ------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The gate's answer for one channel of a row at the time it is due."""

    channel: str
    address: str
    kind: str  # send | defer | refuse | none (no address)
    until: dt.datetime | None = None
    reason: str = ""

    @property
    def label(self) -> str:
        """One line: "wird gesendet", "verschoben auf Mo 30.11.2026 08:00", ..."""
        if self.kind == SEND:
            return _("wird gesendet")
        if self.kind == DEFER and self.until is not None:
            return _("verschoben auf %(when)s") % {
                "when": date_format(self.until.astimezone(BERLIN), "D d.m.Y H:i")
            }
        if self.kind == NO_ADDRESS:
            return _("keine Adresse")
        return _("abgelehnt")


class ForecastHistory:
    """compliance.gate.SendHistory for a forecast: what the outbox sent, plus what the
    forecast expects to go out before (so three planned promotions in one week meet the
    cap in the calendar as they will at sending)."""

    def __init__(self, *, customer_ids: set[int], now: dt.datetime):
        self.sent = BatchHistory(customer_ids=customer_ids, at=now)
        self.expected: list[tuple[int, str, str, str, dt.datetime]] = []
        self.horizon: dt.datetime | None = None  # the time of the current question

    def expect(self, row: OutboundMessage, channel: str, at: dt.datetime) -> None:
        if row.customer_id is not None:
            self.expected.append((row.customer_id, channel, row.category, row.template_key, at))

    def _expected(self, customer, channel: str):
        return [
            e
            for e in self.expected
            if e[0] == customer.pk
            and e[1] == channel
            and (self.horizon is None or e[4] <= self.horizon)
        ]

    def count_capped_since(self, *, customer, channel: str, since: dt.datetime) -> int:
        sent = self.sent.count_capped_since(customer=customer, channel=channel, since=since)
        return sent + sum(
            1
            for _c, _ch, category, _k, at in self._expected(customer, channel)
            if category in CONSENT_CATEGORIES and at >= since
        )

    def last_sent(self, *, customer, channel: str, template_key: str) -> dt.datetime | None:
        times = [
            at
            for _c, _ch, _cat, key, at in self._expected(customer, channel)
            if key == template_key
        ]
        last = self.sent.last_sent(customer=customer, channel=channel, template_key=template_key)
        if last is not None:
            times.append(last)
        return max(times) if times else None


def _points_by_customer(customer_ids: set[int]) -> dict[int, list[ContactPoint]]:
    points: dict[int, list[ContactPoint]] = {}
    for point in ContactPoint.objects.filter(customer_id__in=customer_ids).order_by(
        "position", "created_at", "pk"
    ):
        points.setdefault(point.customer_id, []).append(point)
    return points


def _candidates(row: OutboundMessage, points) -> list[tuple[str, str]]:
    """(channel, address) in the order dispatch tries them: the current channel, then the
    fallbacks, each with the address dispatch would use."""
    from kommunikation.dispatch import recipient_for

    channels = list(row.channels[row.channel_index :]) or [row.channel]
    result = []
    for index, channel in enumerate(channels):
        address = row.recipient if index == 0 and row.recipient else ""
        result.append((channel, address or recipient_for(row, channel, points=points)))
    return result


class Forecaster:
    """The gate's verdicts for many rows, with the reads done once for all of them."""

    def __init__(self, rows: list[OutboundMessage], *, now: dt.datetime):
        self.now = now
        customer_ids = {r.customer_id for r in rows if r.customer_id is not None}
        self.points = _points_by_customer(customer_ids)
        self.candidates = {row.pk: _candidates(row, self.points) for row in rows}
        addresses = {c for cands in self.candidates.values() for c in cands if c[1]}
        self.records = BatchRecords(customer_ids=customer_ids, addresses=addresses)
        self.history = ForecastHistory(customer_ids=customer_ids, now=now)

    def verdicts(self, row: OutboundMessage, at: dt.datetime) -> list[Verdict]:
        """Channel by channel until one sends or waits (a refusal falls back, as dispatch
        does). Counts the expected send in the history for the rows after it."""
        at = max(at, self.now)
        self.history.horizon = at
        result: list[Verdict] = []
        for channel, address in self.candidates.get(row.pk) or _candidates(row, self.points):
            if not address:
                result.append(
                    Verdict(channel, "", NO_ADDRESS,
                            reason=_("Keine Adresse für %(channel)s.") % {"channel": channel})
                )  # fmt: skip
                continue
            decision = decide(
                customer=row.customer,
                address=address,
                channel=channel,
                category=row.category,
                template_key=row.template_key,
                at=at,
                history=self.history,
                records=self.records,
            )
            result.append(Verdict(channel, address, decision.kind, decision.until, decision.reason))
            if decision.kind != REFUSE:
                self.history.expect(row, channel, decision.until or at)
                break
        return result


@dataclass
class CalendarEntry:
    row: OutboundMessage
    at: dt.datetime  # when it is due (the planned time, or later when already postponed)
    verdicts: list[Verdict]
    planned: PlannedStep | None = None

    @property
    def outcome(self) -> Verdict:
        return self.verdicts[-1]

    @property
    def will_send(self) -> bool:
        return self.outcome.kind == SEND

    @property
    def postponed(self) -> bool:
        return self.outcome.kind == DEFER

    @property
    def refused(self) -> bool:
        return self.outcome.kind in (REFUSE, NO_ADDRESS)


@dataclass
class CalendarDay:
    day: dt.date
    entries: list[CalendarEntry] = field(default_factory=list)


def waiting_rows(brands, *, customer=None, rule=None) -> QuerySet[OutboundMessage]:
    """The outbox rows still waiting in the brands: of a customer (any source) or of a rule."""
    rows = OutboundMessage.objects.filter(brand__in=brands, status=OutboundStatus.QUEUED)
    if customer is not None:
        rows = rows.filter(customer=customer)
    if rule is not None:
        rows = rows.filter(planned_step__run__rule=rule)
    return rows


def forward_calendar(
    rows: QuerySet[OutboundMessage], *, now: dt.datetime, days: int
) -> list[CalendarDay]:
    """Everything due within ``days`` days (and what is due already), by day (Berlin), each
    row with the gate's verdict for its time: sent, postponed (quiet hours, rest days) or
    refused (consent, suppression, frequency caps) and why. Reads only."""
    end = now + dt.timedelta(days=days)
    selected = list(
        rows.filter(next_attempt_at__lt=end)
        .select_related("customer", "brand", "planned_step__run__rule", "planned_step__run__event")
        .order_by("next_attempt_at", "id")
    )
    forecaster = Forecaster(selected, now=now)
    calendar: dict[dt.date, CalendarDay] = {}
    for row in selected:
        at = max(row.next_attempt_at, now)
        entry = CalendarEntry(
            row=row,
            at=at,
            verdicts=forecaster.verdicts(row, at),
            planned=getattr(row, "planned_step", None),
        )
        day = at.astimezone(BERLIN).date()
        calendar.setdefault(day, CalendarDay(day)).entries.append(entry)
    return list(calendar.values())


def calendar_days(value: str | None) -> int:
    """7 or 30 (the switch); anything else is 7."""
    return int(value) if value in {str(d) for d in CALENDAR_DAYS} else CALENDAR_DAYS[0]


# --- the dry run -------------------------------------------------------------------------------


def example_payload(event_type: str) -> dict:
    """The catalogue's example values of the type, as JSON (for the dry run's form)."""
    entry = get_event_type(event_type)
    return jsonable(dict(entry.example)) if entry else {}


@dataclass
class DryRunStep:
    position: int
    repetition: int
    template_key: str
    state: str
    state_label: str
    reason: str
    planned_for: dt.datetime | None
    channels: list[str]
    addresses: dict[str, str]
    verdicts: list[Verdict] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    html: str = ""
    render_error: str = ""


@dataclass
class DryRunResult:
    matched: bool | None  # None: the rule did not run (a historical event, another brand)
    reason: str
    event_outcome: str
    steps: list[DryRunStep]
    other_rules: list[tuple[str, bool, str]]  # the other rules of the event type
    customer: str = ""
    brand: str = ""


class _RolledBack(Exception):
    """Raised inside the dry run's transaction so that nothing it wrote stays."""


def dry_run(
    rule: AutomationRule,
    *,
    brand,
    customer: Customer | None,
    payload: Mapping[str, Any],
    record_id: str = "",
    now: dt.datetime | None = None,
) -> DryRunResult:
    """What the rule would do with an event of its type now: the real engine
    (``record_event`` + ``run_rules``) in a transaction that is rolled back at the end,
    whatever happens. Raises InvalidEvent (field errors) for a payload the type refuses.

    An inactive rule is activated inside the transaction (and so only there). The other
    active rules of the event type run too, as they would; their result is listed."""
    now = now or timezone.now()
    result: DryRunResult | None = None
    try:
        with transaction.atomic():
            result = _dry_run(rule, brand=brand, customer=customer, payload=payload,
                              record_id=record_id, now=now)  # fmt: skip
            raise _RolledBack
    except _RolledBack:
        pass
    assert result is not None
    return result


def _set_active(rule: AutomationRule, active: bool) -> None:
    # save(), not update(): post_save drops the engine's cached rules, so the engine sees
    # the change now and the restored state after the rollback
    row = AutomationRule.objects.get(pk=rule.pk)
    row.active = active
    row.save(update_fields=["active", "updated_at"])


def _dry_run(rule, *, brand, customer, payload, record_id, now) -> DryRunResult:
    from kommunikation.dispatch import RenderError, render

    if not rule.active:
        _set_active(rule, True)
    event, _created = record_event(
        brand=brand,
        customer=customer,
        type=rule.event_type,
        source=DRY_RUN_SOURCE,
        source_key=uuid.uuid4().hex,
        occurred_at=now,
        payload=dict(payload),
        record_id=record_id,
    )
    run_rules(event.pk, now=now, trigger=False)
    event = Event.objects.get(pk=event.pk)
    runs = list(event.rule_runs.prefetch_related(_steps_prefetch()).order_by("rule_key", "id"))
    own = next((r for r in runs if r.rule_id == rule.pk), None)
    steps: list[DryRunStep] = []
    if own is not None:
        planned = list(own.steps.all())
        rows = [p.outbound for p in planned if p.outbound is not None]
        forecaster = Forecaster(rows, now=now)
        for p in planned:
            step = DryRunStep(
                position=p.position,
                repetition=p.repetition,
                template_key=p.template_key,
                state=p.state,
                state_label=p.get_state_display(),
                reason=p.reason,
                planned_for=p.planned_for,
                channels=list(p.channels),
                addresses=dict(p.addresses),
            )
            if p.outbound is not None:
                row = p.outbound
                step.verdicts = forecaster.verdicts(row, p.planned_for or now)
                try:
                    rendered = render(row, row.channel)
                    step.subject, step.text, step.html = (
                        rendered.subject,
                        rendered.text,
                        rendered.html,
                    )
                except RenderError as exc:
                    step.render_error = str(exc)
            steps.append(step)
    if not rule.active:
        _set_active(rule, False)
    return DryRunResult(
        matched=own.matched if own is not None else None,
        reason=own.reason if own is not None else event.outcome_detail,
        event_outcome=event.outcome_detail,
        steps=steps,
        other_rules=[(r.rule_key, r.matched, r.reason) for r in runs if r.rule_id != rule.pk],
        customer=str(customer) if customer else "",
        brand=str(brand),
    )
