"""SMS in the inbox: the composer of an SMS thread and answering from it.

The answer takes the one way out every reply takes: a thread entry "queued"
(conversations.outbound.record_queued) and an outbox row the dispatch worker sends through
the brand's SMS provider (kommunikation.channels.sms). The length is checked here as the
adapter checks it (GSM-7 or UCS-2 segments against the brand's limit), so the agent hears
it at once instead of reading it on a failed message; the composer counts the same way
while typing (static/js/sms.js).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from conversations.models import Channel, Conversation, Message
from conversations.outbound import record_queued
from kommunikation.contact import normalize_phone


def composer_context(conversation: Conversation) -> dict:
    """What the SMS composer shows: the brand's sender id and segment limit."""
    brand = conversation.brand
    return {"sms_sender": brand.sms_sender_id, "sms_max_segments": brand.sms_segment_limit}


@transaction.atomic
def queue_sms_reply(*, conversation: Conversation, author, text: str) -> Message:
    """Queue an SMS answer to the conversation's number; refuses a text above the brand's
    segment limit. A staff answer to the customer's own message: category "service" (no
    consent needed) and, unlike automated SMS, not held back by the gate's quiet hours."""
    from kommunikation.outbox import enqueue_outbound
    from templates_app.sms import sms_limit_error

    if conversation.channel != Channel.SMS:
        raise ValidationError(_("Keine SMS-Konversation."))
    brand = conversation.brand
    text = text.strip()
    if not text:
        raise ValidationError(_("Bitte einen Text eingeben."))
    problem = sms_limit_error(text, brand.sms_segment_limit)
    if problem:
        raise ValidationError(problem)
    if not brand.sms_sender_id:
        raise ValidationError(
            _("Für %(brand)s ist keine SMS-Absenderkennung eingetragen.") % {"brand": brand}
        )
    try:
        phone = normalize_phone(conversation.counterpart)
    except ValueError as exc:
        raise ValidationError(_("Diese Konversation hat keine Mobilnummer.")) from exc
    message = record_queued(
        conversation=conversation,
        channel=Channel.SMS,
        recipient=phone,
        subject="",
        text=text,
        author=author,
        sender_name=brand.name,
        sender_address=brand.sms_sender_id,
        message_id="",
    )
    enqueue_outbound(
        brand=brand,
        customer=conversation.customer,
        channels="sms",
        category="service",  # an answer to the customer's own request
        source="reply",
        message=message,
        to_address=phone,
        text=text,
        idempotency_key=f"reply:{message.pk}",
        created_by=author,
    )
    return message
