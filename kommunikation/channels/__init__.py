"""Channel adapters: one module per kind, one small interface, one registry."""

from __future__ import annotations

from kommunikation.channels.base import ChannelAdapter
from kommunikation.channels.call import CallChannel
from kommunikation.channels.email import EmailChannel
from kommunikation.channels.letter import LetterChannel
from kommunikation.channels.push import PushChannel
from kommunikation.channels.sms import SmsChannel
from kommunikation.channels.whatsapp import WhatsAppChannel

CHANNELS: dict[str, type[ChannelAdapter]] = {
    "call": CallChannel,
    "email": EmailChannel,
    "letter": LetterChannel,
    "push": PushChannel,
    "sms": SmsChannel,
    "whatsapp": WhatsAppChannel,
}
