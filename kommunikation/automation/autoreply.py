"""Auto-replies to incoming messages (rules on message.received / conversation.created).

A rule with ``auto_reply`` set answers the sender of the incoming message, whoever it is
(a customer or not), through the outbox and the compliance gate like every message, as a
service message in the conversation's thread. The engine calls three functions:

- ``in_order(rules)``: the inbox actions first (routing decides who is responsible), then
  the auto-replies in the order of ``AUTO_REPLY_ORDER``: the absent agent's notice, then
  the out-of-hours notice, then the acknowledgement. With the one-per-window rule below
  the first that goes wins: a customer writing on Saturday to an absent agent hears
  about the absence, not also that the office is closed, nor a plain receipt.
- ``applies(rule, event)``: the kind's own condition, part of the match (RuleRun reason):
  outside the brand's opening hours; the responsible agent (the conversation's assignee,
  else the customer's owner) absent when the message came in.
- ``plan_reply(...)``: the send step. Refused by the engine itself, whatever the rule's
  conditions say, and recorded as a skipped PlannedStep with the reason:
  the RFC 3834 blockers the inbound event carries (auto-submitted, bulk/list,
  noreply, mailer-daemon, no sender), a sender on the brand's own domains (two brands
  answering each other), and a second auto-reply to the same sender and conversation
  within the rule's window (``reply_window_hours``), across all rules. The conversation
  row is locked while this is decided, so two workers cannot both answer.
  The reply carries ``Auto-Submitted: auto-replied`` (the email channel writes it from
  the outbox row), In-Reply-To/References of the incoming mail, and lands in its thread.
"""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from kommunikation.automation.availability import (
    absence_of,
    display_name,
    is_open,
    next_opening,
)
from kommunikation.automation.models import (
    AUTO_REPLY_ORDER,
    INBOUND_EVENTS,
    AutomationRule,
    AutoReply,
    PlannedState,
    PlannedStep,
    StepAction,
)
from kommunikation.models import OutboundMessage, OutboundSource, OutboundStatus

AUTO_REPLIED = "auto-replied"


def _blocker_label(key: str) -> str:
    labels = {
        "auto_submitted": _("Absender ist automatisch (Auto-Submitted / X-Auto-Response-Suppress)"),
        "bulk": _("Massen- oder Listenmail (Precedence / List-Id / List-Unsubscribe)"),
        "noreply": _("Noreply-Absender"),
        "mailer_daemon": _("Mailer-Daemon / Unzustellbarkeitsnachricht"),
        "no_sender": _("kein Absender"),
        "own_address": _("Absender ist eine eigene Adresse der Marke"),
    }
    return labels.get(key, key)


def in_order(rules: list[AutomationRule]) -> list[AutomationRule]:
    """Inbox actions first, then auto-replies by kind (stable: key order within a kind)."""
    return sorted(rules, key=lambda r: AUTO_REPLY_ORDER.get(r.auto_reply, 0))


def responsible(conversation, customer) -> list:
    """Who answers this conversation: its assignee, and the customer's owner."""
    people = []
    if conversation is not None and conversation.assignee_id:
        people.append(conversation.assignee)
    if customer is not None and customer.owner_id and customer.owner not in people:
        people.append(customer.owner)
    return people


def absent_responsible(conversation, customer, brand, at):
    """(agent, absence) of the first responsible person absent at `at`, else (None, None).

    The owner counts even when the conversation went to the substitute already: the
    customer still hears that their contact is away and who stands in."""
    for agent in responsible(conversation, customer):
        absence = absence_of(agent, brand, at)
        if absence is not None:
            return agent, absence
    return None, None


def _conversation(event, *, lock: bool = False):
    from conversations.models import Conversation

    if event.record_kind != "conversation" or not event.record_id.isdigit():
        return None
    queryset = Conversation.objects.filter(pk=int(event.record_id), brand_id=event.brand_id)
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    return queryset.select_related("assignee").first()


def applies(rule: AutomationRule, event) -> tuple[bool, str]:
    """The auto-reply kind's own condition (after the rule's conditions matched)."""
    if event.type not in INBOUND_EVENTS:
        return False, _("Automatische Antworten nur auf eingehende Nachrichten.")
    received = event.occurred_at
    if rule.auto_reply == AutoReply.OUT_OF_HOURS and is_open(event.brand, received):
        return False, _("Eingegangen während der Geschäftszeiten.")
    if rule.auto_reply == AutoReply.ABSENCE:
        conversation = _conversation(event)
        people = responsible(conversation, event.customer)
        if not people:
            return False, _("Niemand ist zuständig (keine Zuweisung, kein Betreuer).")
        agent, _absence = absent_responsible(conversation, event.customer, event.brand, received)
        if agent is None:
            return False, _("%(names)s anwesend.") % {
                "names": ", ".join(display_name(p) for p in people)
            }
    return True, _("Alle Bedingungen erfüllt.")


def _skip(run, step, event, reason: str, *, outbound=None) -> PlannedStep:
    return PlannedStep.objects.create(
        run=run,
        step=step,
        position=step.position,
        brand_id=event.brand_id,
        customer=event.customer,
        record_kind=event.record_kind,
        record_id=event.record_id,
        template_key=step.template_key,
        channels=step.channels,
        state=PlannedState.SKIPPED,
        reason=reason[:500],
    )


def earlier_reply(conversation, sender: str, since: dt.datetime) -> OutboundMessage | None:
    """An auto-reply to this sender in this conversation since `since` (not cancelled)."""
    return (
        OutboundMessage.objects.filter(
            conversation=conversation,
            auto_submitted=AUTO_REPLIED,
            to_address__iexact=sender,
            created_at__gte=since,
        )
        .exclude(status=OutboundStatus.CANCELLED)
        .order_by("-created_at")
        .first()
    )


def reply_context(rule: AutomationRule, event, conversation, context: dict) -> dict:
    """The event's template data plus the absent agent's and the opening hours' data."""
    data = dict(context)
    received = event.occurred_at
    agent, absence = absent_responsible(conversation, event.customer, event.brand, received)
    if absence is not None:
        data.update(
            agent_name=display_name(agent),
            substitute_name=display_name(absence.substitute),
            substitute_email=absence.substitute.email,
            absent_until=absence.ends_at.astimezone(_berlin()).date().isoformat(),
        )
    opening = next_opening(event.brand, received)
    if opening is not None:
        data.update(next_opening=opening.date().isoformat(), next_opening_time=f"{opening:%H:%M}")
    return data


def _berlin():
    from compliance.policy import BERLIN

    return BERLIN


def _threading(event) -> tuple[str, str]:
    """In-Reply-To and References for a reply to the incoming message."""
    from conversations.models import Message

    message = Message.objects.filter(pk=event.payload.get("message_id")).first()
    if message is None or not message.message_id:
        return "", ""
    references = " ".join(p for p in (message.references.strip(), message.message_id) if p)
    return message.message_id, references[-4000:]


def plan_reply(run, rule, step, event, *, context, context_error, result, now) -> None:
    """Plan one auto-reply step, or skip it with the reason (see the module's doc)."""
    if step.action != StepAction.SEND:
        return
    sender = str(event.payload.get("from_address") or "").strip()
    blockers = list(event.payload.get("auto_reply_blockers") or [])
    if sender and event.brand.owns_address(sender):
        blockers.append("own_address")
    if not sender and "no_sender" not in blockers:
        blockers.append("no_sender")
    if str(event.payload.get("channel") or "email") != "email":
        result.skipped += 1
        _skip(run, step, event, _("Automatische Antworten nur auf E-Mails."))
        return
    if blockers:
        result.skipped += 1
        _skip(run, step, event, _("Keine automatische Antwort (RFC 3834): %(why)s.") % {
            "why": ", ".join(_blocker_label(b) for b in dict.fromkeys(blockers))
        })  # fmt: skip
        return
    conversation = _conversation(event, lock=True)
    if conversation is None:
        result.skipped += 1
        _skip(run, step, event, _("Keine Konversation zur Nachricht."))
        return
    if context is None:
        result.skipped += 1
        _skip(run, step, event, context_error)
        return
    window = dt.timedelta(hours=rule.reply_window_hours)
    earlier = earlier_reply(conversation, sender, now - window)
    if earlier is not None:
        result.skipped += 1
        _skip(run, step, event, _(
            "Bereits automatisch geantwortet (Ausgang #%(id)s); höchstens eine automatische "
            "Antwort je %(hours)s Stunden an %(sender)s in dieser Konversation."
        ) % {"id": earlier.pk, "hours": rule.reply_window_hours, "sender": sender})  # fmt: skip
        return
    from kommunikation.outbox import enqueue_outbound

    in_reply_to, references = _threading(event)
    row = enqueue_outbound(
        brand=event.brand,
        customer=event.customer,
        channels=["email"],
        category=step.effective_category,
        idempotency_key=f"autoreply:{rule.pk}.{step.position}:event:{event.pk}",
        source=OutboundSource.RULE,
        template_key=step.template_key,
        context=reply_context(rule, event, conversation, context),
        to_address=sender,
        purpose=rule.purpose,
        in_reply_to=in_reply_to,
        references=references,
        conversation=conversation,
        source_ref=f"event:{event.pk} rule:{rule.key}"[:200],
        priority=rule.priority,
        auto_submitted=AUTO_REPLIED,
        trigger=False,  # run_rules starts one dispatch for the whole event
    )
    result.planned += 1
    result.due_now = True
    PlannedStep.objects.create(
        run=run,
        step=step,
        position=step.position,
        brand_id=event.brand_id,
        customer=event.customer,
        record_kind=event.record_kind,
        record_id=event.record_id,
        template_key=step.template_key,
        channels=["email"],
        addresses={"email": sender},
        planned_for=now,
        state=PlannedState.PLANNED,
        outbound=row,
    )
