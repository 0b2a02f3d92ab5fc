"""Rule steps that change the conversation of an incoming message: assign, priority, tags.

Seed 002's "channel routing" and seed 001's Vertretungsregeln. The engine calls
``apply_step`` for every step whose action is not "send"; the change itself goes through
``conversations.rule_changes.apply_rule_changes`` (history note and audit entry), never a
field write from here. What a step did or why it did nothing is a PlannedStep ("done" or
"skipped") with the reason, as the Automatisierung page shows it.

Assignment (``assign_to``):
- ``owner``: the customer's owner; ``user``: the named person;
- ``round_robin``: the next of the brand's present agents (active, Agent role, staff of
  the brand, not absent now) after the one the latest round-robin assignment of the brand
  went to;
- ``substitute``: when the responsible agent (assignee, else the customer's owner) is
  absent, their substitute.
The first three only assign a conversation that has nobody yet (a later message must not
move it around); when the chosen person is absent, their substitute gets it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from kommunikation.automation.autoreply import _conversation, absent_responsible
from kommunikation.automation.availability import absence_of, display_name, present_agents
from kommunikation.automation.models import (
    INBOUND_EVENTS,
    AssignTo,
    PlannedState,
    PlannedStep,
    StepAction,
)


def _record(run, step, event, *, state: str, reason: str) -> PlannedStep:
    return PlannedStep.objects.create(
        run=run,
        step=step,
        position=step.position,
        brand_id=event.brand_id,
        customer=event.customer,
        record_kind=event.record_kind,
        record_id=event.record_id,
        template_key="",
        channels=[],
        state=state,
        reason=reason[:500],
    )


def _last_round_robin(brand_id: int) -> int | None:
    from compliance.models import AuditEntry
    from conversations.rule_changes import ROUND_ROBIN_ASSIGNED

    changes = (
        AuditEntry.objects.filter(brand_id=brand_id, action=ROUND_ROBIN_ASSIGNED)
        .order_by("-id")
        .values_list("changes", flat=True)
        .first()
    )
    return (changes or {}).get("assignee")


def next_round_robin(brand, at):
    """The present agent after the latest round-robin assignee (by id, wrapping)."""
    agents = present_agents(brand, at)
    if not agents:
        return None
    last = _last_round_robin(brand.pk)
    if last is None:
        return agents[0]
    later = [a for a in agents if a.pk > last]
    return later[0] if later else agents[0]


def _stand_in(user, event, at) -> tuple[object, str]:
    """The user, or their substitute when they are absent (with the explanation)."""
    absence = absence_of(user, event.brand, at)
    if absence is None:
        return user, ""
    return absence.substitute, _("Vertretung für %(name)s, abwesend bis %(until)s") % {
        "name": display_name(user),
        "until": absence.ends_at.astimezone(_berlin()).strftime("%d.%m.%Y %H:%M"),
    }


def _berlin():
    from compliance.policy import BERLIN

    return BERLIN


def _assignee(step, event, conversation, at) -> tuple[object | None, str, str]:
    """(person, why, reason for doing nothing)."""
    mode = step.assign_to
    if mode == AssignTo.SUBSTITUTE:
        agent, absence = absent_responsible(conversation, event.customer, event.brand, at)
        if agent is None:
            return None, "", _("Niemand Zuständiges ist abwesend.")
        person, why = _stand_in(agent, event, at)
        if person == conversation.assignee:
            return None, "", _("Bereits der Vertretung zugewiesen.")
        return person, why, ""
    if conversation.assignee_id:
        return (
            None,
            "",
            _("Bereits zugewiesen an %(name)s.") % {"name": display_name(conversation.assignee)},
        )
    if mode == AssignTo.OWNER:
        owner = event.customer.owner if event.customer is not None else None
        if owner is None:
            return None, "", _("Kein Kunde mit Betreuer/in.")
        return _stand_in(owner, event, at) + ("",)
    if mode == AssignTo.USER:
        if step.assign_user is None:
            return None, "", _("Keine Person angegeben.")
        return _stand_in(step.assign_user, event, at) + ("",)
    if mode == AssignTo.ROUND_ROBIN:
        agent = next_round_robin(event.brand, at)
        if agent is None:
            return None, "", _("Kein Agent der Marke ist anwesend.")
        return agent, _("reihum"), ""
    return None, "", _("Unbekannte Zuweisung „%(mode)s“.") % {"mode": mode}


def apply_step(run, rule, step, event, *, result, now) -> None:
    """Carry out one inbox step of a matched rule for an incoming message's event."""
    from conversations.rule_changes import apply_rule_changes

    if event.type not in INBOUND_EVENTS:
        result.skipped += 1
        _record(run, step, event, state=PlannedState.SKIPPED,
                reason=_("Nur bei eingehenden Nachrichten."))  # fmt: skip
        return
    conversation = _conversation(event, lock=True)
    if conversation is None:
        result.skipped += 1
        _record(run, step, event, state=PlannedState.SKIPPED,
                reason=_("Keine Konversation zur Nachricht."))  # fmt: skip
        return
    label = rule.name or rule.key
    # one note per rule and event: the steps of a rule extend the first one's note
    note = getattr(run, "inbox_note", None)
    changes = None
    try:
        if step.action == StepAction.ASSIGN:
            person, why, nothing = _assignee(step, event, conversation, now)
            if person is None:
                result.skipped += 1
                _record(run, step, event, state=PlannedState.SKIPPED, reason=nothing)
                return
            changes = apply_rule_changes(
                conversation=conversation, rule_label=label, assignee=person, why=why,
                round_robin=step.assign_to == AssignTo.ROUND_ROBIN, note=note,
            )  # fmt: skip
        elif step.action == StepAction.PRIORITY:
            changes = apply_rule_changes(
                conversation=conversation, rule_label=label, priority=step.set_priority,
                note=note,
            )  # fmt: skip
        elif step.action == StepAction.TAGS:
            changes = apply_rule_changes(
                conversation=conversation, rule_label=label, tags=list(step.tags or []),
                note=note,
            )  # fmt: skip
    except ValidationError as exc:
        result.skipped += 1
        _record(run, step, event, state=PlannedState.SKIPPED, reason="; ".join(exc.messages))
        return
    if changes is None or not changes.lines:
        result.skipped += 1
        _record(run, step, event, state=PlannedState.SKIPPED,
                reason=_("Nichts zu ändern (schon so)."))  # fmt: skip
        return
    run.inbox_note = changes.note
    result.planned += 1
    _record(run, step, event, state=PlannedState.DONE, reason="; ".join(changes.lines))
