"""Rules from YAML and back: seed 002's ``status_triggers`` exactly as printed, and the
product's own fuller format (``rules:``), which ``export_rules`` writes.

Seed 002::

    status_triggers:
      quote_sent:
        channels: [email, sms]
        template: quote_notification
        delay: immediate
        follow_up: 3_days

Each status becomes a rule; ``follow_up``, ``reminder`` and ``survey`` become follow-up
steps with the templates and cancel conditions of ``SEED_FOLLOW_UPS``. The statuses are the
order statuses of seed 002; ``SEED_STATUSES`` says which event type each one arrives as
(the new order and the quote have their own events with their own data, the appointment
its starts_at; the rest are order.status_changed with ``to``).

The product's format::

    rules:
      - key: dunning
        name: Mahnwesen
        event: invoice.overdue          # from/to for order.status_changed
        brand: laderthuis               # optional: default all brands
        conditions: [{field: payload.amount, op: ">=", value: 50}]
        category: reminder
        priority: high                  # urgent, high, normal, low
        purpose: noreply                # support, sales, noreply
        address: {type: work, use: first}
        once_per_record: true
        steps:
          - template: payment_reminder
            channels: [email]
            delay: immediate            # or 14_days, 2_hours, 30_minutes, 1_week
            cancel_on: [invoice_paid]
          - template: appointment_reminder_24h
            channels: [sms]
            before: 24_hours            # or after: 7_days (after the date)
            of: starts_at
            at: "09:00"                 # optional time of day (Berlin)
            weekday: monday             # optional: the next such weekday
            repeat: 3                   # optional: again every delay, 3 more times
            mode: all                   # optional: every channel instead of a fallback
          - template: appointment_reminder_2h
            channels: [whatsapp, sms]
            fallback_after: 30m         # optional: not delivered within 30m (or 1h, 2d,
                                        # 90_minutes), the next channel (issue 11 §7)

Rules on incoming messages (message.received / conversation.created) may also say::

      - key: inbound_out_of_hours
        event: message.received
        auto_reply: out_of_hours        # absence, out_of_hours, acknowledgement
        reply_window: 24_hours          # at most one auto-reply per sender and conversation
        category: service
        conditions: [{field: payload.message_subject, op: contains_any, value: [Rechnung]}]
        steps:
          - template: auto_out_of_hours
            channels: [email]
          - action: assign              # owner, user (with user: USERNAME), round_robin,
            assign: round_robin         # substitute
          - action: priority
            priority: high              # urgent, high, normal, low
          - action: tags
            tags: [Buchhaltung]

A step without ``action`` sends a message, as before.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction
from django.utils.translation import gettext as _

from kommunikation.automation.models import (
    PRIORITY_KEYS,
    AddressPosition,
    AddressType,
    AssignTo,
    AutomationRule,
    CancelOn,
    ChannelMode,
    Priority,
    RuleStep,
    StepAction,
    Timing,
    Unit,
    Weekday,
)
from kommunikation.automation.validation import rule_errors, step_errors
from kommunikation.models import BusinessEntity, Category

DEFAULT_FILE = Path(__file__).parent / "library" / "default_rules.yaml"

# seed 002's order statuses: the event type each arrives as, and the status it changes to
SEED_STATUSES: dict[str, tuple[str, str]] = {
    "new_order": ("order.created", ""),
    "quote_sent": ("quote.sent", ""),
    "scheduled": ("appointment.scheduled", ""),
    "completed": ("order.status_changed", "completed"),
    "on_hold": ("order.status_changed", "on_hold"),
    "shipped": ("order.status_changed", "shipped"),
}
# seed 002's follow-up keys per status: template, category ("" = the rule's), cancel conditions
SEED_FOLLOW_UPS: dict[tuple[str, str], tuple[str, str, list[str]]] = {
    ("quote_sent", "follow_up"): (
        "quote_follow_up",
        "service",
        [CancelOn.QUOTE_ACCEPTED, CancelOn.CUSTOMER_REPLIED],
    ),
    ("on_hold", "follow_up"): ("hold_notification", "", [CancelOn.ORDER_MOVED_ON]),
    ("scheduled", "reminder"): (
        "appointment_reminder_24h",
        "reminder",
        [CancelOn.APPOINTMENT_MOVED, CancelOn.APPOINTMENT_CANCELLED],
    ),
    ("completed", "survey"): ("satisfaction_survey", "feedback", [CancelOn.CUSTOMER_REPLIED]),
}
FOLLOW_UP_KEYS = ("follow_up", "reminder", "survey")
# "weekly" follow-ups: the first after a week, then this many more
WEEKLY_REPEATS = 3

_DURATION = re.compile(r"^(\d+)_(minute|hour|day|week)s?(_before)?$")
_WORDS = {"daily": (1, Unit.DAYS), "weekly": (1, Unit.WEEKS)}
_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6, "montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4,
    "samstag": 5, "sonntag": 6,
}  # fmt: skip


class RuleLoadError(Exception):
    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass
class LoadStats:
    created: int = 0
    replaced: int = 0
    kept: int = 0
    keys: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return _("%(created)s Regeln neu, %(replaced)s ersetzt, %(kept)s unverändert behalten.") % {
            "created": self.created,
            "replaced": self.replaced,
            "kept": self.kept,
        }


def parse_duration(text: Any) -> tuple[int, str, bool]:
    """'3_days' -> (3, days, False); '1_day_before' -> (1, days, True); 'weekly' -> (1, weeks)."""
    value = str(text).strip().lower()
    if value in _WORDS:
        amount, unit = _WORDS[value]
        return amount, unit, False
    found = _DURATION.match(value)
    if not found:
        raise ValueError(
            _("„%(value)s“ ist keine Dauer (z. B. immediate, 30_minutes, 2_hours, 3_days, "
              "1_week, weekly, 1_day_before).") % {"value": text}
        )  # fmt: skip
    return int(found.group(1)), found.group(2) + "s", bool(found.group(3))


_WAIT = re.compile(r"^(\d+)\s*(m|min|h|d)$")
_WAIT_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days"}


def parse_wait(text: Any) -> dt.timedelta:
    """A fallback wait: '1h', '30m', '2d', or the long form '90_minutes', '1_hour'."""
    value = str(text).strip().lower()
    found = _WAIT.match(value)
    if found:
        return dt.timedelta(**{_WAIT_UNITS[found.group(2)]: int(found.group(1))})
    try:
        amount, unit, before = parse_duration(value)
    except ValueError:
        before = True
    if before:
        raise ValueError(
            _("fallback_after: „%(value)s“ ist keine Wartezeit (z. B. 30m, 1h, 2d, 90_minutes).")
            % {"value": text}
        )
    return dt.timedelta(**{unit: amount})


def format_wait(wait: dt.timedelta) -> str:
    """The wait as YAML writes it: '2d', '1h', '90m'."""
    minutes = int(wait.total_seconds() // 60)
    if minutes and minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


# --- seed 002 -> the product's format ------------------------------------------------------


def _channels_with_template(key: str, channels: list[str]) -> list[str]:
    from templates_app.models import MessageTemplate

    have = set(MessageTemplate.objects.filter(key=key).values_list("channel", flat=True))
    return [c for c in channels if c in have] or list(channels[:1])


def _template_category(key: str) -> str:
    from templates_app.models import MessageTemplate

    found = MessageTemplate.objects.filter(key=key).values_list("category", flat=True).first()
    return found or Category.TRANSACTIONAL


def from_status_triggers(triggers: dict) -> list[dict]:
    """Seed 002's status_triggers as rules in the product's format."""
    if not isinstance(triggers, dict):
        raise RuleLoadError([_("status_triggers: eine Zuordnung Status -> Regel erwartet.")])
    rules = []
    for status, spec in triggers.items():
        if not isinstance(spec, dict):
            raise RuleLoadError([_("%(status)s: eine Zuordnung erwartet.") % {"status": status}])
        unknown = set(spec) - {"channels", "template", "delay", *FOLLOW_UP_KEYS}
        if unknown:
            raise RuleLoadError(
                [_("%(status)s: unbekannte Angaben %(keys)s.") % {
                    "status": status, "keys": ", ".join(sorted(unknown))}]
            )  # fmt: skip
        event, to_status = SEED_STATUSES.get(status, ("order.status_changed", status))
        channels = list(spec.get("channels") or ["email"])
        template = spec.get("template")
        steps = [
            {"template": template, "channels": channels, "delay": spec.get("delay", "immediate")}
        ]
        for name in FOLLOW_UP_KEYS:
            if name not in spec:
                continue
            follow_template, category, cancel_on = SEED_FOLLOW_UPS.get(
                (status, name), (template, "", [CancelOn.ORDER_MOVED_ON])
            )
            amount, unit, before = parse_duration(spec[name])
            step: dict[str, Any] = {
                "template": follow_template,
                "channels": _channels_with_template(follow_template, channels),
                "cancel_on": [str(c) for c in cancel_on],
            }
            if category:
                step["category"] = category
            if before:
                step.update(before=f"{amount}_{unit}", of="starts_at")
            else:
                step["delay"] = f"{amount}_{unit}"
                if str(spec[name]).strip().lower() == "weekly":
                    step["repeat"] = WEEKLY_REPEATS
            steps.append(step)
        rule = {
            "key": f"status_{status}",
            "name": _("Status „%(status)s“: %(template)s")
            % {"status": status, "template": template},
            "event": event,
            "category": _template_category(template) if template else Category.TRANSACTIONAL,
            "steps": steps,
        }
        if to_status:
            rule["to"] = to_status
        rules.append(rule)
    return rules


# --- the product's format -> models ----------------------------------------------------------


INBOX_STEP_KEYS = {"action", "name", "assign", "user", "priority", "tags"}


def _inbox_step_fields(spec: dict) -> dict[str, Any]:
    """An inbox step: ``action: assign`` with ``assign: owner|user|round_robin|substitute``
    (``user: USERNAME`` for a named person), ``action: priority`` with ``priority``,
    ``action: tags`` with ``tags``."""
    from django.contrib.auth import get_user_model

    unknown = set(spec) - INBOX_STEP_KEYS
    if unknown:
        raise ValueError(_("unbekannte Angaben %(keys)s") % {"keys": ", ".join(sorted(unknown))})
    user = None
    if spec.get("user"):
        user = get_user_model().objects.filter(username=spec["user"]).first()
        if user is None:
            raise ValueError(_("unbekannte Person „%(user)s“") % {"user": spec["user"]})
    assign = str(spec.get("assign") or "")
    if user is not None and not assign:
        assign = AssignTo.USER
    return {
        "action": spec["action"],
        "name": str(spec.get("name") or "")[:80],
        "template_key": "",
        "channels": [],
        "assign_to": assign,
        "assign_user": user,
        "set_priority": str(spec.get("priority") or ""),
        "tags": list(spec.get("tags") or []),
    }


def _step_fields(spec: dict, where: str) -> dict[str, Any]:
    if spec.get("action", StepAction.SEND) != StepAction.SEND:
        return _inbox_step_fields(spec)
    known = {"template", "channels", "delay", "before", "after", "of", "at", "weekday",
             "repeat", "cancel_on", "category", "mode", "name", "action",
             "fallback_after"}  # fmt: skip
    unknown = set(spec) - known
    if unknown:
        raise ValueError(_("unbekannte Angaben %(keys)s") % {"keys": ", ".join(sorted(unknown))})
    values: dict[str, Any] = {
        "template_key": spec.get("template") or "",
        "channels": list(spec.get("channels") or []),
        "cancel_on": list(spec.get("cancel_on") or []),
        "category": spec.get("category") or "",
        "channel_mode": spec.get("mode") or ChannelMode.FALLBACK,
        "name": str(spec.get("name") or "")[:80],
        "repeat": int(spec.get("repeat") or 0),
        "timing": Timing.IMMEDIATE,
        "amount": 0,
        "unit": Unit.DAYS,
        "date_field": "",
        "at_time": None,
        "weekday": None,
        "fallback_after": parse_wait(spec["fallback_after"])
        if spec.get("fallback_after") not in (None, "")
        else None,
    }
    if "before" in spec or "after" in spec:
        which = "before" if "before" in spec else "after"
        amount, unit, _before = parse_duration(spec[which])
        values.update(
            timing=Timing.BEFORE_DATE if which == "before" else Timing.AFTER_DATE,
            amount=amount,
            unit=unit,
            date_field=str(spec.get("of") or ""),
        )
    else:
        delay = str(spec.get("delay", "immediate")).strip().lower()
        if delay not in ("immediate", "0", "now", "sofort"):
            amount, unit, before = parse_duration(delay)
            if before:
                values.update(
                    timing=Timing.BEFORE_DATE,
                    amount=amount,
                    unit=unit,
                    date_field=str(spec.get("of") or "starts_at"),
                )
            else:
                values.update(timing=Timing.AFTER, amount=amount, unit=unit)
    if spec.get("at"):
        values["at_time"] = dt.time.fromisoformat(str(spec["at"]))
        if values["timing"] == Timing.IMMEDIATE:
            values["timing"] = Timing.AFTER
    if spec.get("weekday") not in (None, ""):
        day = spec["weekday"]
        values["weekday"] = day if isinstance(day, int) else _WEEKDAYS[str(day).lower()]
        if values["timing"] == Timing.IMMEDIATE:
            values["timing"] = Timing.AFTER
    return values


def _rule_fields(spec: dict) -> dict[str, Any]:
    known = {"key", "name", "event", "from", "to", "brand", "conditions", "category",
             "priority", "purpose", "address", "once_per_record", "active", "description",
             "steps", "auto_reply", "reply_window"}  # fmt: skip
    unknown = set(spec) - known
    if unknown:
        raise ValueError(_("unbekannte Angaben %(keys)s") % {"keys": ", ".join(sorted(unknown))})
    address = spec.get("address") or {}
    priority = spec.get("priority", "normal")
    return {
        "name": str(spec.get("name") or spec["key"])[:200],
        "event_type": spec.get("event") or "",
        "from_status": spec.get("from") or "",
        "to_status": spec.get("to") or "",
        "conditions": list(spec.get("conditions") or []),
        "category": spec.get("category") or Category.TRANSACTIONAL,
        "priority": PRIORITY_KEYS[priority] if isinstance(priority, str) else int(priority),
        "purpose": spec.get("purpose") or "support",
        "address_type": address.get("type") or AddressType.AUTO,
        "address_position": address.get("use") or AddressPosition.FIRST,
        "once_per_record": bool(spec.get("once_per_record", False)),
        "active": bool(spec.get("active", True)),
        "description": str(spec.get("description") or ""),
        "auto_reply": str(spec.get("auto_reply") or ""),
        "reply_window_hours": _hours(spec.get("reply_window", "24_hours")),
    }


def _hours(value: Any) -> int:
    """A reply window: 24, "24_hours", "1_day"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    amount, unit, before = parse_duration(value)
    if before or unit == Unit.MINUTES:
        raise ValueError(_("reply_window: ganze Stunden oder Tage (z. B. 24_hours)."))
    return amount * {Unit.HOURS: 1, Unit.DAYS: 24, Unit.WEEKS: 168}[unit]


def rules_from_document(data: Any) -> list[dict]:
    """The rule specs of a YAML document in either shape."""
    if not isinstance(data, dict) or not ({"status_triggers", "rules"} & set(data)):
        raise RuleLoadError([_("Erwartet: status_triggers (Seed 002) oder rules.")])
    specs = []
    if "status_triggers" in data:
        specs += from_status_triggers(data["status_triggers"])
    specs += list(data.get("rules") or [])
    return specs


@transaction.atomic
def load_rules(
    data: Any, *, brand: BusinessEntity | None = None, replace: bool = False
) -> LoadStats:
    """Create the rules of a document; existing keys are kept (admin edits survive a
    reload) unless `replace`. Everything is checked first; one error loads nothing."""
    stats = LoadStats()
    errors: list[str] = []
    for spec in rules_from_document(data):
        key = spec.get("key") if isinstance(spec, dict) else None
        if not key:
            errors.append(_("Regel ohne key: %(spec)s") % {"spec": spec})
            continue
        try:
            fields = _rule_fields(spec)
            steps = [_step_fields(s, key) for s in spec.get("steps") or []]
            rule_brand = brand
            if spec.get("brand"):
                rule_brand = BusinessEntity.objects.get(slug=spec["brand"])
        except (ValueError, KeyError, BusinessEntity.DoesNotExist) as exc:
            errors.append(f"{key}: {exc}")
            continue
        if not steps:
            errors.append(_("%(key)s: mindestens ein Schritt.") % {"key": key})
            continue
        existing = AutomationRule.objects.filter(brand=rule_brand, key=key).first()
        if existing is not None and not replace:
            stats.kept += 1
            continue
        rule = existing or AutomationRule(brand=rule_brand, key=key)
        for name, value in fields.items():
            setattr(rule, name, value)
        problems = rule_errors(rule)
        for position, values in enumerate(steps):
            step = RuleStep(position=position, **values)
            errors_of_step = step_errors(
                step, event_type=rule.event_type, auto_reply=rule.auto_reply
            )
            for name, messages in errors_of_step.items():
                problems.setdefault(f"steps.{position}.{name}", []).extend(messages)
        if problems:
            errors += [f"{key}: {name}: {m}" for name, msgs in problems.items() for m in msgs]
            continue
        rule.save()
        rule.steps.all().delete()
        RuleStep.objects.bulk_create(
            [RuleStep(rule=rule, position=i, **values) for i, values in enumerate(steps)]
        )
        stats.keys.append(key)
        if existing is None:
            stats.created += 1
        else:
            stats.replaced += 1
    if errors:
        transaction.set_rollback(True)
        raise RuleLoadError(errors)
    from kommunikation.automation.engine import forget_rules

    forget_rules()
    return stats


def load_rules_file(path: Path, **options) -> LoadStats:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleLoadError([f"{Path(path).name}: {exc}"]) from None
    return load_rules(data, **options)


# --- export ---------------------------------------------------------------------------------


def _duration(amount: int, unit: str) -> str:
    return f"{amount}_{unit}"


def export_inbox_step(step: RuleStep) -> dict[str, Any]:
    out: dict[str, Any] = {"action": step.action}
    if step.name:
        out["name"] = step.name
    if step.action == StepAction.ASSIGN:
        out["assign"] = step.assign_to
        if step.assign_user_id:
            out["user"] = step.assign_user.get_username()
    elif step.action == StepAction.PRIORITY:
        out["priority"] = step.set_priority
    elif step.action == StepAction.TAGS:
        out["tags"] = list(step.tags)
    return out


def export_step(step: RuleStep) -> dict[str, Any]:
    if step.action != StepAction.SEND:
        return export_inbox_step(step)
    out: dict[str, Any] = {"template": step.template_key, "channels": list(step.channels)}
    if step.name:
        out["name"] = step.name
    if step.timing == Timing.AFTER:
        if step.amount:
            out["delay"] = _duration(step.amount, step.unit)
    elif step.timing in (Timing.BEFORE_DATE, Timing.AFTER_DATE):
        which = "before" if step.timing == Timing.BEFORE_DATE else "after"
        out[which] = _duration(step.amount, step.unit)
        out["of"] = step.date_field
    else:
        out["delay"] = "immediate"
    if step.at_time is not None:
        out["at"] = step.at_time.strftime("%H:%M")
    if step.weekday is not None:
        out["weekday"] = Weekday(step.weekday).name.lower()
    if step.repeat:
        out["repeat"] = step.repeat
    if step.cancel_on:
        out["cancel_on"] = list(step.cancel_on)
    if step.category:
        out["category"] = step.category
    if step.channel_mode != ChannelMode.FALLBACK:
        out["mode"] = step.channel_mode
    if step.fallback_after is not None:
        out["fallback_after"] = format_wait(step.fallback_after)
    return out


def export_rule(rule: AutomationRule) -> dict[str, Any]:
    out: dict[str, Any] = {"key": rule.key, "name": rule.name, "event": rule.event_type}
    if rule.brand_id:
        out["brand"] = rule.brand.slug
    if rule.from_status:
        out["from"] = rule.from_status
    if rule.to_status:
        out["to"] = rule.to_status
    if rule.conditions:
        out["conditions"] = rule.conditions
    out["category"] = rule.category
    out["priority"] = Priority(rule.priority).name.lower()
    out["purpose"] = rule.purpose
    out["address"] = {"type": rule.address_type, "use": rule.address_position}
    if rule.once_per_record:
        out["once_per_record"] = True
    if not rule.active:
        out["active"] = False
    if rule.description:
        out["description"] = rule.description
    if rule.auto_reply:
        out["auto_reply"] = rule.auto_reply
        out["reply_window"] = f"{rule.reply_window_hours}_hours"
    out["steps"] = [export_step(s) for s in rule.steps.order_by("position")]
    return out


def export_rules(rules=None) -> str:
    rules = rules if rules is not None else AutomationRule.objects.select_related("brand")
    document = {"rules": [export_rule(r) for r in rules.order_by("event_type", "key")]}
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
