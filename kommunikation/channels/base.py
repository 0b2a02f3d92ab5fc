"""The interface every channel adapter implements, and the errors it may raise.

The dispatch worker opens an adapter once per batch (one SMTP connection, one
HTTP client), calls `send` per message and closes it. Adapters translate their
provider's failures into the two errors below; everything else is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outgoing:
    """A rendered message ready for a channel: plain data, no model instances."""

    outbound_id: int
    brand: object  # kommunikation.models.BusinessEntity
    recipient: str
    category: str
    subject: str = ""
    text: str = ""
    html: str = ""
    from_email: str = ""
    reply_to: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    references: str = ""
    template_key: str = ""
    attachments: list[dict] = field(default_factory=list)
    # email copies: Cc in the header, Bcc to the envelope only
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    # RFC 3834 Auto-Submitted header ("auto-replied"); empty: none
    auto_submitted: str = ""
    # set by the dispatch worker for non-transactional messages: the RFC 8058 headers
    # (the visible links are in the rendered footer)
    unsubscribe_url: str = ""
    unsubscribe_mailto: str = ""
    track: bool = False
    # the rendered document of a channel that sends one (a letter's PDF)
    document: bytes = b""
    # WhatsApp: an approved template (name, language code, body parameters in order);
    # None sends ``text`` (and ``attachments``) as a session message
    template: tuple[str, str, list[str]] | None = None


@dataclass
class SendResult:
    provider_id: str = ""


class TransientError(Exception):
    """Try again later: 4xx, timeouts, refused connections, HTTP 5xx/429."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """This message will never go this way; `hard_bounce` puts the address on the suppression list."""

    def __init__(self, message: str, *, hard_bounce: bool = False):
        super().__init__(message)
        self.hard_bounce = hard_bounce


class ChannelAdapter:
    name = ""

    @classmethod
    def reports_delivery(cls) -> bool:
        """Whether the provider confirms delivery (a "delivered" status callback). Only then
        does a rule's fallback wait apply ("WhatsApp not delivered within 1 hour -> SMS"):
        a channel that never reports delivery would always run out its wait. Default no;
        a failure reported after sending moves the chain on either way."""
        return False

    def open(self) -> None:
        """Prepare for a batch (connect); may raise TransientError."""

    def close(self) -> None:
        """End the batch; never raises."""

    def send(self, outgoing: Outgoing) -> SendResult:
        raise PermanentError(f"Kanal {self.name or type(self).__name__} kann nicht senden.")
