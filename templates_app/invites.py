"""Messenger invites (seed 003): a WhatsApp click-to-chat link to the brand's number with
a prefilled first message, for templates (the ``whatsapp_link`` variable).

``https://wa.me/<number>?text=<prefilled>``: the number in international form with digits
only (no "+", spaces or dashes, as WhatsApp's click-to-chat asks), the text URL-encoded.
In a message that is sent, the variable holds our tracked link to this address
(kommunikation.tracking); previews show the address itself.
"""

from __future__ import annotations

from urllib.parse import quote

INVITE_TEXTS = {
    "de": "Hallo {brand}, ich möchte Ihnen gern über WhatsApp schreiben.",
    "en": "Hello {brand}, I would like to chat with you on WhatsApp.",
    "nl": "Hallo {brand}, ik wil u graag via WhatsApp een bericht sturen.",
}
REFERENCE = {"de": "Referenz", "en": "Reference", "nl": "Referentie"}


def click_to_chat_url(number: str, text: str = "") -> str:
    """WhatsApp's click-to-chat address of a number ("" for no number)."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if not digits:
        return ""
    url = f"https://wa.me/{digits}"
    return f"{url}?text={quote(text, safe='')}" if text else url


def invite_text(*, language: str, brand_name: str, reference: str = "") -> str:
    """The prefilled first message, in the message's language; the reference (an order or
    customer number) lets the agent match the chat that starts with it."""
    text = INVITE_TEXTS.get(language, INVITE_TEXTS["de"]).format(brand=brand_name)
    if reference:
        text += f" ({REFERENCE.get(language, REFERENCE['de'])}: {reference})"
    return text
