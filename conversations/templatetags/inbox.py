"""Small display helpers of the inbox: ages, SLA markers, quoted replies."""

from __future__ import annotations

import re
from datetime import datetime

from django import template
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from conversations.models import Channel, Classification, Priority, Status

register = template.Library()

_CHOICES = {
    "channel": Channel,
    "classification": Classification,
    "priority": Priority,
    "status": Status,
}


@register.filter
def label(value: str, kind: str) -> str:
    """The German label of a choice; cheaper than get_FOO_display() in a 50-row list."""
    return str(_CHOICES[kind](value).label) if value else ""


@register.filter
def age(when: datetime | None) -> str:
    """Compact age for a list row: 5 Min., 3 Std., 2 T., else the date."""
    if not when:
        return ""
    seconds = (timezone.now() - when).total_seconds()
    if seconds < 60:
        return _("jetzt")
    if seconds < 3600:
        return _("%(n)d Min.") % {"n": seconds // 60}
    if seconds < 86400:
        return _("%(n)d Std.") % {"n": seconds // 3600}
    if seconds < 7 * 86400:
        return _("%(n)d T.") % {"n": seconds // 86400}
    return formats.date_format(timezone.localtime(when), "d.m.y")


@register.filter
def sla_state(conversation) -> str:
    """'overdue', 'soon' (within two hours) or '' for an open conversation waiting for an
    answer (the deadline itself follows ``ConversationQuerySet.owing_reply``)."""
    due = conversation.response_due_at
    if not due or conversation.status != "open":
        return ""
    inbound = conversation.last_inbound_at
    if inbound is None or inbound < conversation.last_message_at:
        return ""  # the last message is ours (a reply, a message the outbox sent)
    left = (due - timezone.now()).total_seconds()
    if left < 0:
        return "overdue"
    return "soon" if left < 2 * 3600 else ""


_QUOTE_START = re.compile(
    r"^(>|-{2,}\s*(Original Message|Ursprüngliche Nachricht)|Am .+ schrieb .+:|On .+ wrote:|"
    r"Von: .+|From: .+)",
    re.IGNORECASE,
)


@register.filter
def split_quote(text: str) -> tuple[str, str]:
    """(own text, quoted rest): the quoted history of a reply is shown collapsed."""
    lines = (text or "").splitlines()
    for i, line in enumerate(lines):
        if i > 0 and _QUOTE_START.match(line.strip()):
            return "\n".join(lines[:i]).rstrip(), "\n".join(lines[i:])
    return (text or "").rstrip(), ""


@register.filter
def reply_subject(subject: str) -> str:
    """The reply form's prefilled subject: "AW: " before the conversation's, once."""
    from conversations.services import _reply_subject

    return _reply_subject(subject)
