"""A call task's life: planned by the ``call`` channel, in the thread, done with an outcome.

- ``plan_call`` (the channel's send): the task, due in the next call-window slot, committed
  at once so a retry of the same send finds it instead of planning the call twice.
- ``thread_calls`` (the dispatch write-back, right after the thread entries were recorded):
  the task points at its thread entry, which waits ("queued", "Anruf geplant für ...")
  until the call is made.
- ``record_call_outcome``: erreicht, nicht erreicht, Rückruf vereinbart, falsche Nummer;
  each on the thread entry's timeline (``conversations.outbound``, the one writer of
  timelines) with who and when. "nicht erreicht" plans the next attempt in the next slot,
  after the last one the outbox row goes on with its next channel (the rule's fallback);
  "falsche Nummer" flags the number (kept, never deleted) and goes on at once.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from conversations.documents import hold_sent
from conversations.models import Message
from conversations.outbound import record_note, record_status
from kommunikation.calls.models import CallOutcome, CallTask, CallTaskStatus
from kommunikation.calls.window import next_attempt_slot, next_call_slot
from kommunikation.models import ContactPoint, OutboundMessage, OutboundStatus, SendChannel

State = Message.State


class CallTaskClosed(Exception):
    """The task was completed meanwhile (by a colleague, in another tab)."""


def when(at: dt.datetime) -> str:
    """25.11.2026 12:00 (local time), as the thread shows it."""
    return date_format(timezone.localtime(at), "d.m.Y H:i")


def who(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else _("System")


# --- planning (the channel) -------------------------------------------------------------


def plan_call(*, outbound_id: int, brand, phone: str, script: str, topic: str = "") -> CallTask:
    """The call task for an outbox row's current step: the one planned already (a retry
    of the send), else a new one due in the next call-window slot, committed on its own."""
    row = OutboundMessage.objects.select_related("customer").get(pk=outbound_id)
    existing = CallTask.objects.filter(outbound=row, channel_index=row.channel_index).first()
    if existing is not None:
        return existing
    customer = row.customer
    point = None
    if customer is not None:
        point = ContactPoint.objects.filter(customer=customer, channel="phone", value=phone).first()
    now = timezone.now()
    with transaction.atomic():
        return CallTask.objects.create(
            brand=brand,
            outbound=row,
            channel_index=row.channel_index,
            customer=customer,
            contact_point=point,
            conversation=row.conversation,
            phone=phone,
            topic=(topic or row.template_key)[:200],
            script=script,
            due_at=next_call_slot(now, brand=brand),
            max_attempts=settings.CALL_MAX_ATTEMPTS,
            # the customer's own contact person calls, where the customer has one
            assignee=getattr(customer, "owner", None),
            created_at=now,
        )


def thread_calls(rows: list[OutboundMessage]) -> None:
    """In the dispatch write-back, after the thread entries were recorded: each call task
    knows its thread entry, and the entry waits ("queued") until the call is made."""
    tasks = {
        (task.outbound_id, task.channel_index): task
        for task in CallTask.objects.filter(outbound_id__in=[row.pk for row in rows])
    }
    for row in rows:
        task = tasks.get((row.pk, row.channel_index))
        if task is None or row.message is None:
            continue
        CallTask.objects.filter(pk=task.pk).update(
            message=row.message, conversation=row.message.conversation
        )
        hold_sent(
            row.message,
            detail=_("Anruf geplant für %(when)s") % {"when": when(task.due_at)},
            at=row.sent_at,
        )


# --- outcomes ------------------------------------------------------------------------------


def record_call_outcome(
    *,
    task: CallTask,
    outcome: str,
    user,
    callback_at: dt.datetime | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> CallTask:
    """Record how a call went (see the module's doc); the task as it is now.

    Raises CallTaskClosed when the task is no longer open, ValueError for a callback
    without its time.
    """
    outcome = CallOutcome(outcome)
    at = at or timezone.now()
    if outcome == CallOutcome.CALLBACK and callback_at is None:
        raise ValueError("a callback needs its date and time")
    with transaction.atomic():
        # locked: two colleagues finishing the same task do not both record an outcome
        current = CallTask.objects.select_for_update().get(pk=task.pk)
        if not current.is_open:
            raise CallTaskClosed
        current.outcome = outcome
        current.last_call_by, current.last_call_at = user, at
        if note.strip():
            current.note = "\n".join(filter(None, [current.note, note.strip()]))
        fields = ["outcome", "last_call_by", "last_call_at", "note"]
        signed = _("%(who)s, %(when)s") % {"who": who(user), "when": when(at)}
        status, text = _apply(current, outcome, at=at, callback_at=callback_at, fields=fields)
        text = f"{text} – {signed}"
        if note.strip():
            text = f"{text}: {note.strip()}"
        current.save(update_fields=fields)
        _to_timeline(current, status, text, at)
    task.__dict__.update(current.__dict__)
    return current


def _apply(
    task: CallTask, outcome: str, *, at: dt.datetime, callback_at, fields: list[str]
) -> tuple[str, str]:
    """Change the (locked) task for the outcome; the thread status and text it gets."""
    label = CallOutcome(outcome).label
    if outcome == CallOutcome.REACHED:
        _close(task, CallTaskStatus.DONE, at, fields)
        return State.DELIVERED, _("Anruf: %(outcome)s") % {"outcome": label}
    if outcome == CallOutcome.CALLBACK:
        task.callback_at = task.due_at = callback_at
        fields += ["callback_at", "due_at"]
        return State.DELIVERED, _("Anruf: Rückruf vereinbart für %(when)s") % {
            "when": when(callback_at)
        }
    if outcome == CallOutcome.NOT_REACHED:
        task.attempts += 1
        fields.append("attempts")
        attempt = _("Versuch %(n)s von %(max)s") % {"n": task.attempts, "max": task.max_attempts}
        if task.attempts < task.max_attempts:
            task.due_at = next_attempt_slot(at, brand=task.brand)
            fields.append("due_at")
            return State.SENT, _(
                "Anruf: nicht erreicht (%(attempt)s), nächster Versuch %(when)s"
            ) % {
                "attempt": attempt,
                "when": when(task.due_at),
            }
        reason = _("Anruf: nicht erreicht (%(attempt)s)") % {"attempt": attempt}
        return State.FAILED, _fall_back(task, reason, at, fields)
    # wrong number: the number is flagged (kept, never deleted); the next channel at once
    if task.contact_point_id is not None:
        ContactPoint.objects.filter(pk=task.contact_point_id).update(
            wrong_number=True, bouncing=True
        )
    reason = _("Anruf: falsche Nummer %(phone)s") % {"phone": task.phone}
    return State.FAILED, _fall_back(task, reason, at, fields)


def _close(task: CallTask, status: str, at: dt.datetime, fields: list[str]) -> None:
    task.status, task.closed_at = status, at
    fields += ["status", "closed_at"]


def _fall_back(task: CallTask, reason: str, at: dt.datetime, fields: list[str]) -> str:
    """The call channel is done with this message: its outbox row goes on with the next
    channel of its chain (``OutboundMessage.channels`` / ``channel_index``, as the dispatch
    worker's ``_fail_or_fall_back`` does for a send that failed), else the task failed."""
    following = continue_with_next_channel(task, reason=reason, at=at)
    if following is None:
        _close(task, CallTaskStatus.FAILED, at, fields)
        return _("%(reason)s – kein weiterer Kanal") % {"reason": reason}
    _close(task, CallTaskStatus.FALLEN_BACK, at, fields)
    return _("%(reason)s – weiter mit %(channel)s") % {
        "reason": reason,
        "channel": _channel_label(following),
    }


def _channel_label(channel: str) -> str:
    try:
        return str(SendChannel(channel).label)
    except ValueError:
        return channel


def continue_with_next_channel(task: CallTask, *, reason: str, at: dt.datetime) -> str | None:
    """Queue the task's outbox row again on its next channel; that channel, or None when
    the chain ends here (or the row moved on already).

    The row was "sent" (handed to staff as this task). Matched on its status and its
    place in the chain, so a row that moved on meanwhile is not moved twice. It leaves
    the call's thread entry behind (the next channel's message is a new entry) but keeps
    the conversation: the whole chain shows in one thread. Each step passes the
    compliance gate for its own channel when the worker claims it.
    """
    from kommunikation.outbox import trigger_dispatch

    row = OutboundMessage.objects.get(pk=task.outbound_id)
    following = row.next_channel
    if following is None:
        return None
    moved = OutboundMessage.objects.filter(
        pk=row.pk, status=OutboundStatus.SENT, channel_index=task.channel_index
    ).update(
        channel_index=task.channel_index + 1,
        channel=following,
        recipient="",
        status=OutboundStatus.QUEUED,
        next_attempt_at=at,
        message=None,
        provider_id="",
        lease_until=None,
        last_error=(
            _("%(channel)s: %(reason)s – weiter mit %(next)s.")
            % {"channel": row.channel, "reason": reason, "next": following}
        )[:2000],
    )
    if not moved:
        return None
    transaction.on_commit(trigger_dispatch)
    return following


def _to_timeline(task: CallTask, status: str, text: str, at: dt.datetime) -> None:
    """The outcome on the call's thread entry: the call was made ("sent", once), then the
    outcome's status with the text; a status the entry has already gets the text as a note."""
    if task.message_id is None:
        return
    message = task.message
    if status != State.SENT:
        record_status(message, State.SENT, at, detail=_("Anruf"))
    if not record_status(message, status, at, detail=text):
        record_note(message, text, at)


# --- assignment and counts -------------------------------------------------------------------


def assign_call_task(*, task: CallTask, assignee) -> None:
    """Give the task to a colleague of its brand (None: to nobody)."""
    if assignee is not None and not task.brand.staff.filter(pk=assignee.pk).exists():
        raise ValueError("works for another brand")
    task.assignee = assignee
    task.save(update_fields=["assignee"])


def call_task_counts(user, now: dt.datetime | None = None) -> dict[str, int]:
    """Open, overdue and the user's own open call tasks of the user's brands: one query."""
    now = now or timezone.now()
    return (
        CallTask.objects.for_user(user)
        .open()
        .aggregate(
            open=Count("id"),
            overdue=Count("id", filter=Q(due_at__lt=now)),
            mine=Count("id", filter=Q(assignee=user)),
        )
    )


def call_task_summary(user, now: dt.datetime | None = None) -> list[dict]:
    """The team lead's view of the open tasks: per assignee (and nobody), open and overdue."""
    now = now or timezone.now()
    rows = (
        CallTask.objects.for_user(user)
        .open()
        .order_by()
        .values("assignee")
        .annotate(open=Count("id"), overdue=Count("id", filter=Q(due_at__lt=now)))
    )
    people = get_user_model().objects.in_bulk([r["assignee"] for r in rows if r["assignee"]])
    summary = [
        {"assignee": people.get(r["assignee"]), "open": r["open"], "overdue": r["overdue"]}
        for r in rows
    ]
    return sorted(summary, key=lambda r: (-r["overdue"], -r["open"], who(r["assignee"])))
