"""Save-time checks of rules, steps and conditions: refused with the reason, in German.

A rule whose template does not exist, or whose template needs variables the rule's event
type does not offer, would fail every message it plans; it is refused here instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from kommunikation.automation.models import (
    INBOUND_EVENTS,
    AssignTo,
    AutoReply,
    CancelOn,
    ChannelMode,
    StepAction,
    Timing,
    Unit,
)
from kommunikation.automation.textops import TEXT_OPS, value_errors
from kommunikation.events.catalogue import ORDER_STATUSES, get_event_type
from kommunikation.models import Category, SendChannel

# customer fields a condition may read; value_tier and activity come with segmentation
# (issue 9 section 5) and are read defensively until every installation has them
CUSTOMER_FIELDS = (
    "kind",
    "segment",
    "value_tier",
    "activity",
    "language",
    "vip",
    "is_company",
    "country",
    "number",
    "owner",  # the owner's username
)
OPERATORS = (
    "equals", "not_equals", "in", "not_in", ">=", "<=", ">", "<", "exists", "missing",
    *TEXT_OPS,
)  # fmt: skip
# what an inbox step may set as the conversation's priority
CONVERSATION_PRIORITIES = ("urgent", "high", "normal", "low")
# categories an auto-reply may have: a service message, never one that needs consent
AUTO_REPLY_CATEGORIES = (Category.TRANSACTIONAL, Category.SERVICE)
STATUS_EVENTS = ("order.status_changed",)


def condition_errors(conditions: Any) -> list[str]:
    """Problems of a condition list; each names the condition by its number (1-based)."""
    if conditions in (None, ""):
        return []
    if not isinstance(conditions, list):
        return [_("Bedingungen: bitte eine Liste von Bedingungen angeben.")]
    errors: list[str] = []
    for number, cond in enumerate(conditions, start=1):
        where = _("Bedingung %(n)s") % {"n": number}
        if not isinstance(cond, dict):
            errors.append(_("%(where)s: ein Objekt mit field, op, value.") % {"where": where})
            continue
        unknown = set(cond) - {"field", "op", "value"}
        if unknown:
            errors.append(
                _("%(where)s: unbekannte Angaben %(keys)s.")
                % {"where": where, "keys": ", ".join(sorted(unknown))}
            )
        field, op = cond.get("field"), cond.get("op", "equals")
        if not isinstance(field, str) or not _field_known(field):
            errors.append(
                _(
                    "%(where)s: unbekanntes Feld „%(field)s“ (brand, customer.<%(customer)s>, "
                    "payload.NAME, record.status)."
                )
                % {"where": where, "field": field, "customer": "|".join(CUSTOMER_FIELDS)}
            )
        if op not in OPERATORS:
            errors.append(
                _("%(where)s: unbekannter Vergleich „%(op)s“, erlaubt: %(ops)s.")
                % {"where": where, "op": op, "ops": ", ".join(OPERATORS)}
            )
            continue
        value = cond.get("value")
        if op in ("exists", "missing"):
            if "value" in cond:
                errors.append(
                    _("%(where)s: %(op)s braucht keinen Wert.") % {"where": where, "op": op}
                )
        elif "value" not in cond:
            errors.append(_("%(where)s: ein Wert fehlt.") % {"where": where})
        elif op in TEXT_OPS:
            problem = value_errors(op, value)
            if problem:
                errors.append(f"{where}: {problem}")
        elif op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                errors.append(
                    _("%(where)s: %(op)s braucht eine Liste.") % {"where": where, "op": op}
                )
        elif op in (">=", "<=", ">", "<") and (
            isinstance(value, bool) or not isinstance(value, int | float | str)
        ):
            errors.append(
                _("%(where)s: %(op)s braucht eine Zahl oder ein Datum.")
                % {"where": where, "op": op}
            )
    return errors


def _field_known(field: str) -> bool:
    if field in ("brand", "record.status", "record.kind"):
        return True
    if field.startswith("customer."):
        return field.removeprefix("customer.") in CUSTOMER_FIELDS
    return field.startswith("payload.") and len(field) > len("payload.")


def rule_errors(rule) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    entry = get_event_type(rule.event_type) if rule.event_type else None
    if entry is None:
        errors["event_type"] = [_("Unbekannter Ereignistyp „%(key)s“.") % {"key": rule.event_type}]
    for name in ("from_status", "to_status"):
        value = getattr(rule, name)
        if not value:
            continue
        if rule.event_type not in STATUS_EVENTS:
            errors[name] = [_("Nur bei Statusänderungen (order.status_changed).")]
        elif value not in ORDER_STATUSES:
            errors[name] = [
                _("Unbekannter Status „%(value)s“, erlaubt: %(allowed)s.")
                % {"value": value, "allowed": ", ".join(ORDER_STATUSES)}
            ]
    problems = condition_errors(rule.conditions)
    if problems:
        errors["conditions"] = problems
    if rule.auto_reply:
        if rule.auto_reply not in AutoReply.values:
            errors["auto_reply"] = [_("Unbekannte Art der automatischen Antwort.")]
        elif rule.event_type not in INBOUND_EVENTS:
            errors["auto_reply"] = [
                _("Automatische Antworten nur bei %(events)s.")
                % {"events": ", ".join(INBOUND_EVENTS)}
            ]
        if rule.category not in AUTO_REPLY_CATEGORIES:
            errors["category"] = [
                _(
                    "Eine automatische Antwort ist eine Service-Nachricht (transactional oder service)."
                )
            ]
        if not rule.reply_window_hours:
            errors["reply_window_hours"] = [_("Mindestens eine Stunde.")]
    return errors


def inbox_step_errors(step, *, event_type: str) -> dict[str, list[str]]:
    """Problems of a step that changes the conversation (assign, priority, tags)."""
    errors: dict[str, list[str]] = {}
    if event_type and event_type not in INBOUND_EVENTS:
        errors["action"] = [
            _("Zuweisen, Priorität und Schlagworte nur bei %(events)s.")
            % {"events": ", ".join(INBOUND_EVENTS)}
        ]
    if step.action == StepAction.ASSIGN:
        if step.assign_to not in AssignTo.values:
            errors["assign_to"] = [
                _("Erlaubt: %(allowed)s.") % {"allowed": ", ".join(AssignTo.values)}
            ]
        elif step.assign_to == AssignTo.USER and step.assign_user_id is None:
            errors["assign_user"] = [_("Welche Person?")]
    elif step.action == StepAction.PRIORITY:
        if step.set_priority not in CONVERSATION_PRIORITIES:
            errors["set_priority"] = [
                _("Erlaubt: %(allowed)s.") % {"allowed": ", ".join(CONVERSATION_PRIORITIES)}
            ]
    elif step.action == StepAction.TAGS:
        tags = step.tags
        if (
            not isinstance(tags, list)
            or not tags
            or not all(isinstance(t, str) and t.strip() and len(t) <= 40 for t in tags)
        ):
            errors["tags"] = [_("Eine Liste von Schlagworten (je höchstens 40 Zeichen).")]
    return errors


def step_errors(step, *, event_type: str, auto_reply: str = "") -> dict[str, list[str]]:
    """Problems of one step for a rule of `event_type` (templates included)."""
    if step.action not in StepAction.values:
        return {"action": [_("Unbekannte Aktion.")]}
    if step.action != StepAction.SEND:
        errors = inbox_step_errors(step, event_type=event_type)
        if step.fallback_after is not None:
            errors["fallback_after"] = [_("Nur für Schritte, die eine Nachricht senden.")]
        return errors
    errors: dict[str, list[str]] = {}
    channels = step.channels
    if auto_reply and step.category and step.category not in AUTO_REPLY_CATEGORIES:
        errors["category"] = [_("Eine automatische Antwort ist eine Service-Nachricht.")]
    if not isinstance(channels, list) or not channels:
        errors["channels"] = [_("Mindestens ein Kanal.")]
        channels = []
    else:
        unknown = [c for c in channels if c not in SendChannel.values]
        if unknown or len(set(channels)) != len(channels):
            errors["channels"] = [
                _("Unbekannte oder doppelte Kanäle: %(channels)s (erlaubt: %(allowed)s).")
                % {
                    "channels": ", ".join(map(str, channels)),
                    "allowed": ", ".join(SendChannel.values),
                }
            ]
            channels = []
    if auto_reply and "channels" not in errors and channels != ["email"]:
        errors["channels"] = [_('Automatische Antworten gehen per E-Mail: ["email"].')]
        channels = []
    if auto_reply and step.timing != Timing.IMMEDIATE:
        errors["timing"] = [_("Eine automatische Antwort geht sofort.")]
    if step.channel_mode not in ChannelMode.values:
        errors["channel_mode"] = [_("Unbekannte Kanalwahl.")]
    if step.category and step.category not in Category.values:
        errors["category"] = [_("Unbekannte Art.")]
    cancel_on = step.cancel_on or []
    if not isinstance(cancel_on, list) or any(c not in CancelOn.values for c in cancel_on):
        errors["cancel_on"] = [_("Erlaubt: %(allowed)s.") % {"allowed": ", ".join(CancelOn.values)}]
    errors.update(_timing_errors(step))
    errors.update(fallback_errors(step, channels))
    if step.template_key and channels and event_type:
        problems = template_errors(step.template_key, channels, event_type)
        if problems:
            errors["template_key"] = problems
    elif not step.template_key:
        errors["template_key"] = [_("Pflichtfeld.")]
    return errors


# the fallback wait (issue 11 §7): long enough for a delivery report to arrive (they take
# seconds to minutes), whole minutes (the check runs every minute), at most a month
FALLBACK_MIN = dt.timedelta(minutes=5)
FALLBACK_MAX = dt.timedelta(days=30)


def fallback_errors(step, channels: list[str]) -> dict[str, list[str]]:
    """Problems of a step's fallback wait: one that can never apply, or makes no sense."""
    wait = step.fallback_after
    if wait is None:
        return {}
    if not isinstance(wait, dt.timedelta):
        return {"fallback_after": [_("Eine Dauer, z. B. 1:00:00 für eine Stunde.")]}
    if wait < FALLBACK_MIN or wait > FALLBACK_MAX:
        return {
            "fallback_after": [
                _("Zwischen 5 Minuten und 30 Tagen (Zustellberichte brauchen einige Minuten).")
            ]
        }
    if wait.total_seconds() % 60:
        return {"fallback_after": [_("In ganzen Minuten (geprüft wird jede Minute).")]}
    if step.channel_mode != ChannelMode.FALLBACK:
        return {
            "fallback_after": [_("Nur bei „in Reihenfolge, mit Ausweichkanal“: sonst gibt es "
                                 "keinen nächsten Kanal.")]
        }  # fmt: skip
    if isinstance(step.channels, list) and len(step.channels) < 2:
        return {"fallback_after": [_("Mindestens zwei Kanäle: nach dem letzten gibt es keinen.")]}
    return {}


def _timing_errors(step) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if step.timing not in Timing.values:
        return {"timing": [_("Unbekannter Zeitpunkt.")]}
    if step.unit not in Unit.values:
        errors["unit"] = [_("Unbekannte Einheit.")]
    if step.timing in (Timing.BEFORE_DATE, Timing.AFTER_DATE) and not step.date_field:
        errors["date_field"] = [_("Welches Datum des Ereignisses (z. B. starts_at)?")]
    no_delay = not step.amount and step.at_time is None and step.weekday is None
    if step.timing == Timing.AFTER and no_delay:
        errors["amount"] = [_("Nach wie vielen Minuten, Stunden oder Tagen?")]
    if step.repeat and not (step.timing == Timing.AFTER and step.amount):
        errors["repeat"] = [_("Wiederholungen nur mit einem Abstand nach dem Ereignis.")]
    return errors


def template_errors(key: str, channels: Iterable[str], event_type: str) -> list[str]:
    """Why templates of `key` cannot serve a rule of `event_type` on these channels."""
    from templates_app.models import MessageTemplate, TemplateVariant
    from templates_app.rendering import TEMPLATE_FIELDS, check_source

    entry = get_event_type(event_type)
    if entry is None:
        return []
    templates = list(MessageTemplate.objects.filter(key=key))
    if not templates:
        return [_("Unbekannte Vorlage „%(key)s“.") % {"key": key}]
    errors: list[str] = []
    have = {t.channel for t in templates}
    missing = [c for c in channels if c not in have]
    if missing:
        errors.append(
            _("Vorlage „%(key)s“ gibt es nicht für %(channels)s (nur %(have)s).")
            % {"key": key, "channels": ", ".join(missing), "have": ", ".join(sorted(have))}
        )
    variables = entry.variables
    foreign = [t for t in templates if t.event_type != event_type and t.channel in channels]
    for variant in TemplateVariant.objects.filter(template__in=foreign).select_related("template"):
        version = variant.active_version
        if version is None:
            continue
        content = version.content()
        for field in TEMPLATE_FIELDS:
            source = content.get(field) or ""
            problems = check_source(source, variables) if source else []
            if problems:
                errors.append(
                    _(
                        "Vorlage „%(key)s“ (%(channel)s, %(language)s) braucht, was "
                        "%(event)s nicht bietet: %(problem)s"
                    )
                    % {
                        "key": key,
                        "channel": variant.template.channel,
                        "language": variant.template.language,
                        "event": event_type,
                        "problem": problems[0],
                    }
                )
                break
    return errors
