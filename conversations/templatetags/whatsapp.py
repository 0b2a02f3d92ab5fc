"""The inbox's WhatsApp markers: how long the customer has been waiting, against seed
001's response targets (ideally within 15 minutes, within 4 hours at most)."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from conversations.models import Channel

register = template.Library()


def waiting_state(conversation, now=None) -> tuple[str, int] | None:
    """("ok" | "warn" | "late", minutes waited) for an open WhatsApp conversation whose
    last message is the customer's; None when nobody waits for us. "ok" within the
    ideal target, "warn" until the latest target, "late" beyond it."""
    inbound = conversation.last_inbound_at
    if (
        conversation.channel != Channel.WHATSAPP
        or conversation.status != "open"
        or inbound is None
        or inbound < conversation.last_message_at  # the last message is ours
        or conversation.response_due_at is None  # answered
    ):
        return None
    minutes = max(0, int(((now or timezone.now()) - inbound).total_seconds() // 60))
    if minutes <= settings.SLA_MINUTES_WHATSAPP_IDEAL:
        return "ok", minutes
    if minutes <= settings.SLA_HOURS_WHATSAPP * 60:
        return "warn", minutes
    return "late", minutes


@register.simple_tag
def wa_target(conversation) -> str:
    """A list row's marker: "wartet 12 Min." coloured by the targets ('' when none)."""
    state = waiting_state(conversation)
    if state is None:
        return ""
    kind, minutes = state
    waited = (
        _("%(n)d Min.") % {"n": minutes}
        if minutes < 60
        else _("%(h)d Std. %(m)d Min.") % {"h": minutes // 60, "m": minutes % 60}
    )
    title = _("Reaktionsziel WhatsApp: ideal %(ideal)s Minuten, höchstens %(most)s Stunden.") % {
        "ideal": settings.SLA_MINUTES_WHATSAPP_IDEAL,
        "most": settings.SLA_HOURS_WHATSAPP,
    }
    return format_html(
        '<span class="wa-target wa-{}" title="{}">{}</span>',
        kind,
        title,
        _("wartet %(waited)s") % {"waited": waited},
    )
