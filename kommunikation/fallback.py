"""Fallback driven by delivery (issue 11 §7): a message's channel list is a chain.

Three ways along it:

1. **At send time** (the dispatch worker, ``dispatch._fail_or_fall_back``, as before): a
   channel that refuses (the compliance gate), has no address, no adapter, or fails
   permanently moves *the same row* to the next channel; nothing went out, so there is
   nothing else to show for it.
2. **Not delivered within the wait**: a row sent on a channel that reports delivery
   (``ChannelAdapter.reports_delivery``) with a wait (``fallback_after``, from the rule's
   step) gets ``fallback_due_at`` when it is sent. ``fallback_undelivered`` (every minute,
   ``manage.py fallback_undelivered``) finds the rows whose wait is over through a partial
   index holding only rows still waiting, and starts the next attempt.
3. **Failed after sending**: a status callback "failed" or "bounced" (WhatsApp, Pingen, an
   ESP) reaches ``conversations.outbound.record_status``, the one owner of timelines, which
   sends ``outbound_status_recorded``; ``on_status_recorded`` starts the next attempt at
   once. A "delivered" (or "read", "opened", "clicked") arriving first ends the wait: no fallback.
   One arriving after the chain moved on is recorded on its timeline and changes nothing
   that went out; a next attempt still waiting (quiet hours) is no longer needed and is
   cancelled with the reason.

A next attempt after a send is **a new outbox row** (``fallback_of`` -> the row before):
the message that went out keeps its own thread entry, provider id and status timeline
(late callbacks still find it), the new one gets its own; its idempotency key is
``fallback:<row before>:<position in the chain>``, unique, so a repeated check or a
callback delivered twice starts nothing twice. It goes through the dispatch worker like
any row: the still-wanted check of its rule (cancel conditions), the compliance gate for
its own channel and category (consent per channel), quiet hours, rendering of the
template for its channel. Each step of the chain is an internal note in the conversation
("WhatsApp nicht zugestellt nach 1 Std. – weiter per SMS."), so the thread shows the whole
chain, steps that never went out (refused by the gate) included.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from compliance.services import Actor
from conversations.models import Message
from conversations.outbound import record_internal_note
from kommunikation.channels import CHANNELS
from kommunikation.models import OutboundMessage, OutboundStatus, SendChannel
from kommunikation.outbox import cancel_outbound, enqueue_outbound_many, new_outbound

log = logging.getLogger(__name__)

FALLBACK_ACTOR = Actor(label="Ausweichversand")
# statuses that say the customer has it, and statuses that say they never will
DELIVERED = frozenset(
    {Message.State.DELIVERED, Message.State.READ, Message.State.OPENED, Message.State.CLICKED}
)
FAILED = frozenset({Message.State.FAILED, Message.State.BOUNCED})
BATCH = 500


@dataclass
class FallbackResult:
    checked: int = 0
    moved_on: int = 0
    delivered: int = 0

    def __str__(self) -> str:
        return _(
            "%(checked)s geprüft, %(moved)s weiter mit dem nächsten Kanal, %(done)s zugestellt."
        ) % {
            "checked": self.checked,
            "moved": self.moved_on,
            "done": self.delivered,
        }


def channel_label(channel: str) -> str:
    return str(SendChannel(channel).label) if channel in SendChannel.values else channel


def wait_label(wait: dt.timedelta) -> str:
    """A wait as the thread says it: "1 Std.", "30 Min.", "1 Std. 30 Min.", "2 Tagen"."""
    minutes = int(wait.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(n)s Tag", "%(n)s Tagen", days) % {"n": days})
    if hours:
        parts.append(_("%(n)s Std.") % {"n": hours})
    if minutes or not parts:
        parts.append(_("%(n)s Min.") % {"n": minutes})
    return " ".join(parts)


def waits_for_delivery(channel: str) -> bool:
    adapter = CHANNELS.get(channel)
    return adapter is not None and adapter.reports_delivery()


def fallback_due(row: OutboundMessage, sent_at: dt.datetime) -> dt.datetime | None:
    """When a row just sent on its channel falls back unless delivered by then (the
    dispatch worker's write-back stores it); None: no wait (no next channel, no wait set,
    or a channel that never confirms delivery)."""
    if not row.fallback_after or row.next_channel is None:
        return None
    if not waits_for_delivery(row.channel):
        return None
    return sent_at + row.fallback_after


# --- the periodic check ---------------------------------------------------------------------


def fallback_batch(*, now: dt.datetime | None = None, limit: int = BATCH) -> FallbackResult:
    """One batch of rows whose wait is over, in one transaction: delivered meanwhile (the
    callback's hook missed nothing, but a check costs nothing) ends the wait, anything else
    starts the next attempt."""
    now = now or timezone.now()
    result = FallbackResult()
    with transaction.atomic():
        due = (
            OutboundMessage.objects.filter(fallback_due_at__lte=now)
            .select_related("message", "conversation", "brand", "customer")
            .order_by("fallback_due_at", "pk")
        )
        if connection.features.has_select_for_update_skip_locked:
            # two checks at once (an overlapping schedule) take different rows
            due = due.select_for_update(skip_locked=True, of=("self",))
        rows = list(due[:limit])
        result.checked = len(rows)
        for row in rows:
            state = row.message.status if row.message is not None else ""
            if state in DELIVERED:
                _end_wait(row)
                result.delivered += 1
                continue
            if state in FAILED:
                why = _failed_note(row, _last_detail(row.message, state))
            else:
                why = _("%(channel)s nicht zugestellt nach %(wait)s") % {
                    "channel": channel_label(row.channel),
                    "wait": wait_label(row.fallback_after or (now - (row.sent_at or now))),
                }
            if _advance(row, why=why, now=now) is not None:
                result.moved_on += 1
        if result.moved_on:
            transaction.on_commit(_trigger_dispatch)
    return result


def fallback_undelivered(*, now: dt.datetime | None = None, limit: int = BATCH) -> FallbackResult:
    """Every row whose wait is over, batch by batch (the schedule's and the command's entry)."""
    total = FallbackResult()
    while True:
        result = fallback_batch(now=now, limit=limit)
        total.checked += result.checked
        total.moved_on += result.moved_on
        total.delivered += result.delivered
        if result.checked < limit:
            return total


# --- the hook on record_status ---------------------------------------------------------------


def on_status_recorded(sender, *, message: Message, status: str, detail: str = "", at=None, **kw):
    """Receiver of ``conversations.signals.outbound_status_recorded``, inside the
    transaction that recorded the status (a new status only: a repeat sends nothing)."""
    if status in DELIVERED:
        delivered(message, at=at)
    elif status in FAILED:
        failed_after_send(message, status=status, detail=detail, at=at)


def delivered(message: Message, *, at: dt.datetime | None = None) -> None:
    """The customer has it: the wait ends (no fallback). After the chain moved on, what went
    out stays out; a next attempt still waiting to go (quiet hours) is cancelled."""
    rows = OutboundMessage.objects.filter(message=message)
    rows.filter(fallback_due_at__isnull=False).update(fallback_due_at=None)
    waiting = OutboundMessage.objects.filter(
        fallback_of__message=message, status=OutboundStatus.QUEUED
    )
    for child in waiting.select_related("fallback_of", "conversation"):
        reason = _("%(channel)s doch noch zugestellt – %(next)s nicht mehr nötig.") % {
            "channel": channel_label(child.fallback_of.channel),
            "next": channel_label(child.channel),
        }
        if cancel_outbound(
            OutboundMessage.objects.filter(pk=child.pk), actor=FALLBACK_ACTOR, reason=reason
        ):
            note(child, reason)  # when we learned it: the provider's time may be long past


def failed_after_send(
    message: Message, *, status: str, detail: str = "", at: dt.datetime | None = None
) -> list[OutboundMessage]:
    """A message that went out failed or bounced: each of its rows with a next channel
    tries it now (the next attempts, new rows)."""
    started = []
    for row in OutboundMessage.objects.filter(message=message, sent_at__isnull=False):
        if row.next_channel is None:
            continue
        with transaction.atomic():
            locked = (
                OutboundMessage.objects.select_for_update(of=("self",))
                .select_related("conversation", "brand", "customer")
                .get(pk=row.pk)
            )
            locked.message = message
            # now, not the provider's time of the failure: the next attempt starts now
            child = _advance(locked, why=_failed_note(locked, detail), now=timezone.now())
        if child is not None:
            started.append(child)
    if started:
        transaction.on_commit(_trigger_dispatch)
    return started


# --- one step along the chain ----------------------------------------------------------------


def _advance(row: OutboundMessage, *, why: str, now: dt.datetime) -> OutboundMessage | None:
    """Start the attempt after `row` (locked by the caller) on its next channel; None when
    there is none or it was started before. The wait of `row` ends either way."""
    _end_wait(row)
    following = row.next_channel
    if following is None or row.fallbacks.exists():
        return None
    child = next_attempt(row, now=now)
    stored, created = enqueue_outbound_many([child])[child.idempotency_key]
    if not created:
        return None
    note(
        row,
        _("%(why)s – weiter per %(next)s.") % {"why": why, "next": channel_label(following)},
        at=now,
    )
    return stored


def next_attempt(row: OutboundMessage, *, now: dt.datetime) -> OutboundMessage:
    """The unsaved row of the next channel after `row`: same message, same addresses, same
    thread; a template is rendered again for the new channel, content written by staff is
    sent as it was."""
    index = row.channel_index + 1
    content = (
        {} if row.template_key else {"subject": row.subject, "text": row.text, "html": row.html}
    )
    child = new_outbound(
        brand=row.brand,
        channels=row.channels,
        category=row.category,
        idempotency_key=f"fallback:{row.pk}:{index}",
        source=row.source,
        customer=row.customer,
        template_key=row.template_key,
        context=row.context,
        language=row.language,
        to_address=row.to_address,
        addresses=row.addresses,
        purpose=row.purpose,
        reply_to=row.reply_to,
        in_reply_to=row.in_reply_to,
        references=row.references,
        attachments=row.attachments,
        cc=row.cc,
        bcc=row.bcc,
        not_before=now,
        source_ref=row.source_ref,
        conversation=row.conversation,
        priority=row.priority,
        auto_submitted=row.auto_submitted,
        **content,
    )
    child.channel_index, child.channel = index, row.channels[index]
    child.fallback_of, child.fallback_after = row, row.fallback_after
    child.created_by_id = row.created_by_id
    return child


def _end_wait(row: OutboundMessage) -> None:
    if row.fallback_due_at is not None:
        OutboundMessage.objects.filter(pk=row.pk).update(fallback_due_at=None)
        row.fallback_due_at = None


def _failed_note(row: OutboundMessage, detail: str) -> str:
    if detail:
        return _("%(channel)s fehlgeschlagen (%(reason)s)") % {
            "channel": channel_label(row.channel),
            "reason": detail,
        }
    return _("%(channel)s fehlgeschlagen") % {"channel": channel_label(row.channel)}


def _last_detail(message: Message, status: str) -> str:
    change = message.status_changes.filter(status=status).order_by("-at").first()
    return change.detail if change is not None else ""


def note(row: OutboundMessage, text: str, *, at: dt.datetime | None = None) -> None:
    """One step of the chain as an internal note in the row's conversation (the thread
    shows the whole chain); a row without a conversation yet has no thread to tell."""
    if row.conversation_id is None:
        return
    record_internal_note(
        conversation=row.conversation, text=text, sender_name=str(FALLBACK_ACTOR.label), at=at
    )


def note_send_failure(row: OutboundMessage, channel: str, reason: str, following: str | None):
    """The dispatch worker's failure of a fallback attempt before it went out (refused by
    the gate, no address, no adapter): in the thread, with where the chain goes next."""
    if row.fallback_of_id is None:
        return
    if following is None:
        text = _("%(channel)s nicht gesendet: %(reason)s – kein weiterer Kanal.")
    else:
        text = _("%(channel)s nicht gesendet: %(reason)s – weiter per %(next)s.")
    note(
        row,
        text
        % {
            "channel": channel_label(channel),
            "reason": reason.rstrip("."),
            "next": channel_label(following or ""),
        },
    )


def _trigger_dispatch() -> None:
    from kommunikation.outbox import trigger_dispatch

    trigger_dispatch()
