"""SMS length: GSM 03.38 (7-bit) or UCS-2, and how many segments a text takes."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

# GSM 03.38 basic character set (one septet each).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs an escape plus the character, i.e. two septets.
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # capacity of one segment at this length (160/153 or 70/67)
    characters: int

    @property
    def remaining(self) -> int:
        """Units left in the last segment."""
        return self.segments * self.per_segment - self.units if self.segments else self.per_segment


def sms_info(text: str) -> SmsInfo:
    """Encoding and segment count the way handsets and gateways count them.

    A single GSM-7 SMS holds 160 septets, a concatenated one 153 per part (the user data
    header takes 7); UCS-2 holds 70, or 67 per part. One character outside GSM 03.38
    switches the whole message to UCS-2.
    """
    if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text):
        units = sum(2 if c in GSM_EXTENSION else 1 for c in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return SmsInfo(encoding, units, 1 if units else 0, single, len(text))
    return SmsInfo(encoding, units, -(-units // multi), multi, len(text))


def sms_limit_error(text: str, max_segments: int | None = None) -> str | None:
    """Why this text is too long for the configured gateway, or None when it fits.

    ``max_segments``: the brand's own limit (BusinessEntity.sms_segment_limit); default
    SMS_MAX_SEGMENTS."""
    info = sms_info(text)
    limit = max_segments or settings.SMS_MAX_SEGMENTS
    max_chars = settings.SMS_MAX_CHARS
    if max_chars and info.characters > max_chars:
        return _("Die SMS hat %(n)s Zeichen; erlaubt sind höchstens %(max)s.") % {
            "n": info.characters,
            "max": max_chars,
        }
    if info.segments > limit:
        return _(
            "Die SMS braucht %(n)s Teile (%(encoding)s, %(units)s Einheiten); "
            "erlaubt sind höchstens %(max)s."
        ) % {
            "n": info.segments,
            "encoding": info.encoding,
            "units": info.units,
            "max": limit,
        }
    return None
