"""Email through Django's email backend: SMTP by default, any ESP through anymail.

One connection per batch. Our own Message-ID (generated at enqueue, on the
brand's domain) goes out in the header, so replies thread back and a message
re-sent after a crash carries the same id.

Over Django's SMTP backend, the common message (text and HTML, ASCII addresses,
no attachments) is written as bytes here and handed to the open smtplib
connection: the same MIME structure Django would build (multipart/alternative,
utf-8, 8bit or quoted-printable for over-long lines), for a tenth of the CPU.
Everything else (attachments, non-ASCII addresses, anymail ESPs) goes through
EmailMultiAlternatives.

A brand may send through its own mailbox account instead (a Mailbox with ``smtp_send``:
Microsoft 365 or Google Workspace with XOAUTH2, or its password): the message whose From
is that mailbox's address goes through it, else through the brand's first such mailbox.
Those connections open on first use in the batch.
"""

from __future__ import annotations

import contextlib
import quopri
import smtplib
import uuid
from email.header import Header
from email.utils import formataddr, formatdate

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from kommunikation.channels.base import (
    ChannelAdapter,
    Outgoing,
    PermanentError,
    SendResult,
    TransientError,
)
from kommunikation.tracking import add_tracking


def _is_hard_bounce(code: int, text: str) -> bool:
    """5xx for the recipient: "no such user" (550/551/553, enhanced 5.1.x) is hard."""
    return code in (550, 551, 553) or text.lstrip().startswith("5.1.")


def _decode(raw) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


class EmailChannel(ChannelAdapter):
    name = "email"

    @classmethod
    def reports_delivery(cls) -> bool:
        # an ESP through anymail sends "delivered" webhooks (kommunikation/tracking.py);
        # plain SMTP knows only that the server took the mail
        return settings.EMAIL_BACKEND.startswith("anymail.")

    def __init__(self):
        self.connection = None
        self.mailboxes = None  # brand id -> its sending mailboxes, loaded once per batch
        self.mailbox_connections = {}  # mailbox id -> its open SMTP backend

    def open(self) -> None:
        from conversations.mailbox_smtp import sending_mailboxes

        self.mailboxes = sending_mailboxes()
        self.connection = get_connection(fail_silently=False)
        if self.mailboxes:
            # some brands send through their own account: the shared server connects
            # when a message needs it (it may not even exist, as with Microsoft 365 alone)
            return
        try:
            self.connection.open()
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TransientError(f"SMTP-Server nicht erreichbar: {exc}") from exc

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.connection.close()
        self.connection = None
        for backend in self.mailbox_connections.values():
            with contextlib.suppress(OSError, smtplib.SMTPException):
                backend.close()
        self.mailbox_connections = {}
        self.mailboxes = None

    def connection_for(self, out: Outgoing):
        """The brand's own mailbox account when it sends, else the batch's connection."""
        from conversations.mail_oauth import MailAuthError
        from conversations.mailbox_smtp import (
            MailboxSMTPBackend,
            mailbox_for,
            recent_refusal,
            record_send_error,
            sending_mailboxes,
        )

        if self.mailboxes is None:
            self.mailboxes = sending_mailboxes()
        mailbox = mailbox_for(self.mailboxes.get(out.brand.pk, []), out.from_email)
        if mailbox is None:
            return self.connection
        refused = recent_refusal(mailbox)  # one sign-in attempt a minute, not one per mail
        if refused:
            raise TransientError(f"{mailbox}: {refused}")
        backend = self.mailbox_connections.get(mailbox.pk)
        if backend is None or backend.connection is None:
            backend = MailboxSMTPBackend(mailbox)
            try:
                backend.open()
            except MailAuthError as exc:
                # the admin must act (secret, consent, permissions): retried until then
                record_send_error(mailbox, str(exc))
                raise TransientError(f"{mailbox}: {exc}") from exc
            except (OSError, smtplib.SMTPException) as exc:
                raise TransientError(f"SMTP-Server nicht erreichbar: {exc}") from exc
            self.mailbox_connections[mailbox.pk] = backend
        return backend

    def content(self, out: Outgoing) -> tuple[dict[str, str], str, str]:
        """Extra headers, text and HTML as they go out (RFC 8058 headers, tracking).

        The visible footer (imprint, unsubscribe and preference links) is the brand
        layout's, rendered before (templates_app.rendering.email_layout)."""
        headers = {"Message-ID": out.message_id}
        if out.in_reply_to:
            headers["In-Reply-To"] = out.in_reply_to
        if out.references:
            headers["References"] = out.references
        if out.auto_submitted:
            # RFC 3834: an auto-reply says so, and asks Exchange not to answer it in turn
            headers["Auto-Submitted"] = out.auto_submitted
            headers["X-Auto-Response-Suppress"] = "All"
        text, html = out.text, out.html
        if out.unsubscribe_url:
            # RFC 8058: an https link and a mailto; mailbox providers POST to the link
            links = [f"<{out.unsubscribe_url}>"]
            if out.unsubscribe_mailto:
                links.append(f"<{out.unsubscribe_mailto}>")
            headers["List-Unsubscribe"] = ", ".join(links)
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if html and out.track:
            html = add_tracking(html, outbound_id=out.outbound_id)
        return headers, text, html

    def build(self, out: Outgoing, connection=None) -> EmailMultiAlternatives:
        brand = out.brand
        headers, text, html = self.content(out)
        message = EmailMultiAlternatives(
            subject=out.subject,
            body=text,
            from_email=formataddr((brand.name, out.from_email)),
            to=[out.recipient],
            cc=out.cc or None,
            bcc=out.bcc or None,
            reply_to=[out.reply_to] if out.reply_to else None,
            headers=headers,
            connection=connection or self.connection,
        )
        if html:
            message.attach_alternative(html, "text/html")
        for item in out.attachments:
            with default_storage.open(item["path"], "rb") as handle:
                message.attach(item["filename"], handle.read(), item.get("content_type"))
        # anymail reads these; plain SMTP ignores them
        message.tags = [t for t in (out.category, out.template_key) if t]
        message.metadata = {"outbound_id": str(out.outbound_id), "brand": brand.slug}
        message.track_opens = message.track_clicks = out.track
        return message

    def fast_path(self, out: Outgoing, connection=None) -> bool:
        """Plain SMTP and a message mime_bytes() writes exactly as Django would."""
        return (
            isinstance(connection or self.connection, SMTPBackend)
            and not out.attachments
            and not (out.cc or out.bcc)
            and f"{out.from_email}{out.recipient}{out.reply_to}".isascii()
        )

    def _send_bytes(self, out: Outgoing, connection=None) -> None:
        headers, text, html = self.content(out)
        data = mime_bytes(
            subject=out.subject,
            from_name=out.brand.name,
            from_email=out.from_email,
            to=out.recipient,
            reply_to=out.reply_to,
            headers=headers,
            text=text,
            html=html,
        )
        connection = connection or self.connection
        if connection.connection is None:
            connection.open()
        connection.connection.sendmail(out.from_email, [out.recipient], data)

    def send(self, out: Outgoing) -> SendResult:
        if self.connection is None:
            self.open()
        message = None
        connection = self.connection_for(out)
        try:
            if self.fast_path(out, connection):
                self._send_bytes(out, connection)
            else:
                message = self.build(out, connection)
                message.send()
        except smtplib.SMTPRecipientsRefused as exc:
            code, raw = next(iter(exc.recipients.values()))
            text = _decode(raw)
            if 400 <= code < 500:
                raise TransientError(f"Empfänger vorübergehend abgelehnt: {code} {text}") from exc
            raise PermanentError(
                f"Empfänger abgelehnt: {code} {text}", hard_bounce=_is_hard_bounce(code, text)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            text = _decode(exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                self.close()
                raise TransientError(f"SMTP {exc.smtp_code} {text}") from exc
            raise PermanentError(f"SMTP {exc.smtp_code} {text}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            # disconnected, refused, timed out: the connection is gone, open a new one next time
            self.close()
            raise TransientError(f"SMTP-Verbindung unterbrochen: {exc}") from exc
        except AnymailRecipientsRefused as exc:
            raise PermanentError(f"Empfänger abgelehnt: {exc}", hard_bounce=True) from exc
        except AnymailAPIError as exc:
            status = exc.status_code or 0
            if status == 429 or status >= 500 or status == 0:
                retry_after = None
                if exc.response is not None:
                    try:
                        retry_after = float(exc.response.headers.get("Retry-After", ""))
                    except ValueError:
                        retry_after = None
                raise TransientError(f"Anbieter: {exc}", retry_after=retry_after) from exc
            raise PermanentError(f"Anbieter: {exc}") from exc
        status = getattr(message, "anymail_status", None)
        provider_id = getattr(status, "message_id", None)
        return SendResult(provider_id="" if provider_id is None else str(provider_id))


def _header(name: str, value: str) -> str:
    """One header line's value: ASCII as it is (folded when long), else RFC 2047 words."""
    if "\n" in value or "\r" in value:
        value = " ".join(value.split())  # one line, as a header must be
    if value.isascii() and len(name) + len(value) < 76:
        return value
    charset = "us-ascii" if value.isascii() else "utf-8"
    return Header(value, charset, header_name=name).encode(linesep="\r\n")


def _address(name: str, address: str) -> str:
    return formataddr((name, address), charset="utf-8") if name else address


def _part(content_type: str, body: str) -> list[str]:
    """A text part as Django writes it: utf-8, 8bit, quoted-printable for lines over 998."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    encoding = "7bit" if body.isascii() else "8bit"
    if any(len(line.encode()) > 998 for line in body.split("\n")):
        encoding = "quoted-printable"
        body = quopri.encodestring(body.encode()).decode("ascii")
    return [
        f'Content-Type: {content_type}; charset="utf-8"',
        "MIME-Version: 1.0",
        f"Content-Transfer-Encoding: {encoding}",
        "",
        body.replace("\n", "\r\n"),
    ]


def mime_bytes(
    *,
    subject: str,
    from_name: str,
    from_email: str,
    to: str,
    reply_to: str,
    headers: dict[str, str],
    text: str,
    html: str,
) -> bytes:
    """The message Django's EmailMultiAlternatives would send, written directly."""
    lines = [
        f"Subject: {_header('Subject', subject)}",
        f"From: {_address(from_name, from_email)}",
        f"To: {to}",
    ]
    if reply_to:
        lines.append(f"Reply-To: {reply_to}")
    lines.append(f"Date: {formatdate(localtime=settings.EMAIL_USE_LOCALTIME)}")
    lines += [f"{name}: {_header(name, value)}" for name, value in headers.items()]
    if not html:
        body = _part("text/plain", text)
        return "\r\n".join(body[:3] + lines + body[3:]).encode()
    boundary = f"==============={uuid.uuid4().int}=="
    lines[:0] = [f'Content-Type: multipart/alternative; boundary="{boundary}"', "MIME-Version: 1.0"]
    lines.append("")
    if text:  # as Django: an empty body leaves out the text part
        lines += [f"--{boundary}", *_part("text/plain", text)]
    lines += [f"--{boundary}", *_part("text/html", html), f"--{boundary}--", ""]
    return "\r\n".join(lines).encode()
