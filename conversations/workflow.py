"""Finishing work: status, Wiedervorlage (snooze), bulk changes with undo, and the
response deadline.

Every change here, of one conversation or of all matches of a filter, is recorded in
``ConversationChange`` rows sharing a batch id (the history, and what
``undo_change_batch`` restores), as ``services.record_classification`` does for
classifications. The response deadline (``response_due_at``) has one rule,
``ConversationQuerySet.owing_reply``, applied by ``refresh_response_due`` wherever
something it reads changes (ingest, classification, reply, status).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, DateTimeField, ExpressionWrapper, F, QuerySet, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.models import (
    Channel,
    Conversation,
    ConversationChange,
    Priority,
    Status,
)

Field = ConversationChange.Field
_CHUNK = 1000


# --- the response deadline --------------------------------------------------------------


def sla_hours(*, priority: str, channel: str) -> int:
    """Hours the counterpart may wait for an answer (settings.SLA_HOURS by priority;
    WhatsApp is a chat and gets SLA_HOURS_WHATSAPP)."""
    if channel == Channel.WHATSAPP:
        return settings.SLA_HOURS_WHATSAPP
    return settings.SLA_HOURS.get(priority, 24)


def _due_expression():
    """last_inbound_at + the hours of the row's priority and channel, in SQL."""
    whens = [
        When(channel=Channel.WHATSAPP, then=Value(dt.timedelta(hours=settings.SLA_HOURS_WHATSAPP)))
    ] + [
        When(priority=priority, then=Value(dt.timedelta(hours=hours)))
        for priority, hours in settings.SLA_HOURS.items()
    ]
    delay = Case(*whens, default=Value(dt.timedelta(hours=24)))
    return ExpressionWrapper(F("last_inbound_at") + delay, output_field=DateTimeField())


def refresh_response_due(conversations: QuerySet[Conversation]) -> None:
    """Apply the one rule to ``conversations``: a deadline only where a reply is owed
    (``owing_reply``), none elsewhere. A deadline already running is kept (the first
    unanswered message sets it, a second one does not extend it); a missing one is
    the last inbound message's time plus ``sla_hours``. Two UPDATEs."""
    ids = conversations.order_by().values("pk")
    owed = Conversation.objects.filter(pk__in=ids).owing_reply()
    Conversation.objects.filter(pk__in=ids, response_due_at__isnull=False).exclude(
        pk__in=owed.values("pk")
    ).update(response_due_at=None)
    owed.filter(response_due_at__isnull=True).update(response_due_at=_due_expression())


# --- history and undo -------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeBatch:
    """What one change request changed; ``id`` undoes it (``undo_change_batch``)."""

    id: uuid.UUID
    changed: int
    field: str
    value: str


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


_COLUMNS = {
    Field.STATUS: "status",
    Field.PRIORITY: "priority",
    Field.ASSIGNEE: "assignee_id",
    Field.UNREAD: "unread",
    Field.SNOOZED_UNTIL: "snoozed_until",
}


def _from_text(field: str, text: str):
    if field == Field.ASSIGNEE:
        return int(text) if text else None
    if field == Field.UNREAD:
        return text == "1"
    if field == Field.SNOOZED_UNTIL:
        return dt.datetime.fromisoformat(text) if text else None
    return text


def _change(
    conversations: QuerySet[Conversation], *, field: str, value, actor, extra: dict | None = None
) -> ChangeBatch:
    """Set one field on every given conversation that differs, with a history row each
    (one batch), then the deadline rule. ``extra``: further columns set alongside."""
    column = _COLUMNS[field]
    now = timezone.now()
    batch = uuid.uuid4()
    to_text = _text(value)
    changing = conversations.order_by().exclude(**{column: value}) if value is not None else (
        conversations.order_by().exclude(**{f"{column}__isnull": True})
    )  # fmt: skip
    rows = list(changing.values_list("pk", column))
    history = [
        ConversationChange(
            conversation_id=pk,
            field=field,
            from_value=_text(old),
            to_value=to_text,
            changed_by=actor,
            changed_at=now,
            batch=batch,
        )  # fmt: skip
        for pk, old in rows
    ]
    ConversationChange.objects.bulk_create(history, batch_size=_CHUNK)
    ids = [pk for pk, _old in rows]
    for start in range(0, len(ids), _CHUNK):
        Conversation.objects.filter(pk__in=ids[start : start + _CHUNK]).update(
            **{column: value}, **(extra or {})
        )
    if field in (Field.STATUS, Field.PRIORITY):
        refresh_response_due(Conversation.objects.filter(pk__in=ids))
    return ChangeBatch(batch, len(ids), field, to_text)


@transaction.atomic
def set_status_many(*, conversations: QuerySet[Conversation], status: str, actor) -> ChangeBatch:
    """offen, wartend (waiting on the customer), erledigt, archiviert. Only an open
    conversation owes a reply; archiving or finishing one also ends its Wiedervorlage."""
    if status not in Status.values:
        raise ValidationError(_("Unbekannter Status."))
    extra = {} if status in (Status.OPEN, Status.PENDING) else {"snoozed_until": None}
    return _change(conversations, field=Field.STATUS, value=status, actor=actor, extra=extra)


@transaction.atomic
def set_priority_many(
    *, conversations: QuerySet[Conversation], priority: str, actor
) -> ChangeBatch:
    if priority not in Priority.values:
        raise ValidationError(_("Unbekannte Priorität."))
    return _change(conversations, field=Field.PRIORITY, value=priority, actor=actor)


@transaction.atomic
def assign_many(*, conversations: QuerySet[Conversation], assignee, actor) -> ChangeBatch:
    """Give the conversations to ``assignee`` (None: nobody); only conversations of a
    brand the assignee works for are given to them."""
    from conversations.services import check_can_assign

    check_can_assign(actor=actor, assignee=assignee)
    if assignee is not None:
        conversations = conversations.filter(brand__in=assignee.brands.all())
    return _change(
        conversations, field=Field.ASSIGNEE, value=assignee.pk if assignee else None, actor=actor
    )


@transaction.atomic
def set_unread_many(*, conversations: QuerySet[Conversation], unread: bool, actor) -> ChangeBatch:
    return _change(conversations, field=Field.UNREAD, value=unread, actor=actor)


@transaction.atomic
def undo_change_batch(*, batch: uuid.UUID, actor, brands) -> int:
    """Restore what a batch changed (only within ``brands``), grouped by the previous
    value: a statement per distinct value. The restoring is itself recorded. Returns
    how many conversations were restored."""
    changes = list(
        ConversationChange.objects.filter(batch=batch, conversation__brand__in=brands).values_list(
            "conversation_id", "field", "from_value", "to_value"
        )
    )
    if not changes:
        return 0
    now = timezone.now()
    undo = uuid.uuid4()
    by_value: dict[tuple[str, str], list[int]] = {}
    for pk, field, old, _new in changes:
        by_value.setdefault((field, old), []).append(pk)
    for (field, old), ids in by_value.items():
        for start in range(0, len(ids), _CHUNK):
            Conversation.objects.filter(pk__in=ids[start : start + _CHUNK]).update(
                **{_COLUMNS[field]: _from_text(field, old)}
            )
    ConversationChange.objects.bulk_create(
        [
            ConversationChange(
                conversation_id=pk,
                field=field,
                from_value=new,
                to_value=old,
                changed_by=actor,
                changed_at=now,
                batch=undo,
            )  # fmt: skip
            for pk, field, old, new in changes
        ],
        batch_size=_CHUNK,
    )
    refresh_response_due(Conversation.objects.filter(pk__in=[c[0] for c in changes]))
    return len(changes)


# --- Wiedervorlage ----------------------------------------------------------------------


@transaction.atomic
def snooze(*, conversations: QuerySet[Conversation], until: dt.datetime, actor) -> ChangeBatch:
    """Out of the open list until ``until``; then back unread and on top (``wake_snoozed``).
    A new message from the counterpart ends the Wiedervorlage earlier (ingest)."""
    if until <= timezone.now():
        raise ValidationError(_("Die Wiedervorlage muss in der Zukunft liegen."))
    return _change(conversations, field=Field.SNOOZED_UNTIL, value=until, actor=actor)


@transaction.atomic
def unsnooze(*, conversations: QuerySet[Conversation], actor) -> ChangeBatch:
    return _change(conversations, field=Field.SNOOZED_UNTIL, value=None, actor=actor)


def wake_snoozed(*, now: dt.datetime | None = None, brands=None) -> int:
    """Every Wiedervorlage that is due comes back: unread, open, on top of the list (the
    list is ordered by ``last_message_at``, moved to the time it was due). One UPDATE when
    any is due; run every minute by django-q2 and before the inbox lists (so the list is
    right even when the worker lags). Returns how many woke."""
    now = now or timezone.now()
    due = Conversation.objects.filter(snoozed_until__lte=now)
    if brands is not None:
        due = due.filter(brand__in=brands)
    # a read first (the partial index conv_snoozed): an inbox GET writes only when one is due
    if not due.exists():
        return 0
    return due.update(
        snoozed_until=None,
        unread=True,
        status=Case(When(status=Status.PENDING, then=Value(Status.OPEN)), default=F("status")),
        last_message_at=Greatest(F("last_message_at"), F("snoozed_until")),
    )


def later_today(now: dt.datetime) -> dt.datetime:
    """Quick choices of the snooze menu, in the local time zone (Europe/Berlin)."""
    local = timezone.localtime(now)
    at = local.replace(hour=17, minute=0, second=0, microsecond=0)
    return at if at > local else local + dt.timedelta(hours=3)


def tomorrow_morning(now: dt.datetime) -> dt.datetime:
    local = timezone.localtime(now)
    day = local.date() + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(8)))


def next_monday_morning(now: dt.datetime) -> dt.datetime:
    local = timezone.localtime(now)
    day = local.date() + dt.timedelta(days=7 - local.weekday())
    return timezone.make_aware(dt.datetime.combine(day, dt.time(8)))


SNOOZE_CHOICES = {
    "heute": later_today,
    "morgen": tomorrow_morning,
    "montag": next_monday_morning,
}
