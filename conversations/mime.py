"""Parsing raw RFC 5322 bytes into plain data, tolerant of what real mail contains.

Pure functions, no database: ``parse_email(raw) -> ParsedEmail``. Headers are
decoded (RFC 2047, raw 8-bit in UTF-8 or windows-1252), bodies are decoded in
their declared charset with a fallback chain for wrong or unknown ones,
filenames are decoded (RFC 2231 and the non-standard RFC 2047 form Outlook
writes) and made safe, and a nested ``message/rfc822`` is kept whole as an
attachment. Problems worth an agent's attention are collected in ``problems``.

Nothing a mail carries is dropped: every leaf that is not the text or HTML body is an
attachment (S/MIME signatures and encrypted ``smime.p7m`` included, which also mark
the message ``signed`` / ``encrypted``); raw 8-bit filenames are decoded in the
charsets the message itself uses; a message the stdlib's strict header parser chokes
on is read again leniently (``compat32`` with raw header values) and flagged. Limits:
above ``max_bytes`` only the header block is read; beyond ``max_attachments`` the rest
stays in the raw message, flagged.
"""

from __future__ import annotations

import binascii
import contextlib
import functools
import hashlib
import importlib.util
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage, Message
from email.policy import Compat32
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from conversations.sanitize import html_to_text, sanitize_html

FALLBACK_CHARSETS = ("utf-8", "windows-1252", "latin-1")
CHARSET_ALIASES = {
    "unknown-8bit": "windows-1252",
    "x-unknown": "windows-1252",
    "x-user-defined": "windows-1252",
    "iso-8859-8-i": "iso-8859-8",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "ansi_x3.110-1983": "latin-1",
    "utf8": "utf-8",
    "cp-850": "cp850",
    # Outlook and others label windows-1252 text as latin-1; browsers (WHATWG) read
    # these labels as windows-1252 for that reason, so do we (the en dash 0x96 ...).
    "iso-8859-1": "windows-1252",
    "iso8859-1": "windows-1252",
    "latin-1": "windows-1252",
    "latin1": "windows-1252",
    "l1": "windows-1252",
}

# C1 control characters never mean anything in mail text; where they appear, a
# windows-1252 text was decoded as latin-1 (RFC 2047 words labelled iso-8859-1).
_C1_AS_CP1252 = {}
for _code in range(0x80, 0xA0):
    with contextlib.suppress(UnicodeDecodeError):
        _C1_AS_CP1252[_code] = bytes([_code]).decode("windows-1252")


def fix_c1(value: str) -> str:
    return value.translate(_C1_AS_CP1252)


# Headers added in transit: they differ between two copies of the same message
# (fetched over IMAP, exported from another client), so they do not count as content.
TRACE_HEADERS = {
    b"received", b"return-path", b"delivered-to", b"x-original-to", b"x-received",
    b"x-spam-status", b"x-spam-score", b"x-spam-flag", b"x-spam-level", b"x-spam-checker-version",
    b"authentication-results", b"arc-seal", b"arc-message-signature",
    b"arc-authentication-results", b"x-gm-message-state", b"x-google-smtp-source",
    b"x-virus-scanned", b"status", b"x-status", b"x-uid", b"x-keywords", b"content-length",
    b"x-mozilla-status", b"x-mozilla-status2", b"lines",
}  # fmt: skip

KEPT_HEADERS = {
    "from", "to", "cc", "reply-to", "subject", "date", "message-id", "in-reply-to",
    "references", "list-id", "list-unsubscribe", "list-unsubscribe-post", "precedence",
    "auto-submitted", "x-auto-response-suppress", "x-mailer", "user-agent", "importance",
    "x-priority", "return-path", "sender", "content-type",
}  # fmt: skip

_MSGID = re.compile(r"<[^<>\s]+>")
# raw 8-bit bytes in a header, as the parser hands them over (surrogate escapes)
_SURROGATES = re.compile("[\udc80-\udcff]")


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""
    is_inline: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class ParsedEmail:
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_name: str = ""
    from_address: str = ""
    reply_to: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    date: datetime | None = None
    text: str = ""
    html: str = ""
    has_remote_images: bool = False
    attachments: list[ParsedAttachment] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    is_bulk: bool = False
    is_auto_generated: bool = False
    signed: bool = False  # S/MIME or PGP/MIME signature (not verified)
    encrypted: bool = False  # S/MIME enveloped data or PGP/MIME: readable in a mail client only
    problems: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # ParseFlag keys: lenient, too_large, ...
    notes: list[str] = field(default_factory=list)  # recovered from, not worth a flag

    @property
    def thread_ids(self) -> list[str]:
        """Every Message-ID this message refers to, nearest first."""
        ids = []
        if self.in_reply_to:
            ids.append(self.in_reply_to)
        ids.extend(reversed(self.references))
        return list(dict.fromkeys(ids))


def content_hash(raw: bytes) -> str:
    """sha256 of the message without its trace headers (Received, Return-Path, ...)."""
    crlf = raw.find(b"\r\n\r\n")
    lf = raw.find(b"\n\n")
    if crlf >= 0:
        end, sep = crlf, b"\r\n\r\n"
    elif lf >= 0:
        end, sep = lf, b"\n\n"
    else:
        end, sep = len(raw), b""
    kept: list[bytes] = []
    skipping = False
    for line in raw[:end].splitlines():
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line.strip())
            continue
        name = line.split(b":", 1)[0].strip().lower()
        skipping = name in TRACE_HEADERS or line.startswith(b"From ")
        if not skipping:
            kept.append(line.rstrip())
    digest = hashlib.sha256(b"\n".join(kept))
    digest.update(sep.replace(b"\r", b""))
    _hash_lf(digest, memoryview(raw)[end + len(sep) :])
    return digest.hexdigest()


def _hash_lf(digest, body: memoryview, chunk: int = 1 << 20) -> None:
    """``digest.update(body.replace(b"\r\n", b"\n"))`` a megabyte at a time: a large
    mail is not copied twice just to be hashed."""
    carry = b""
    for start in range(0, len(body), chunk):
        piece = carry + bytes(body[start : start + chunk])
        carry = b""
        if piece.endswith(b"\r"):  # its \n may start the next chunk
            piece, carry = piece[:-1], b"\r"
        digest.update(piece.replace(b"\r\n", b"\n"))
    digest.update(carry)


def quick_message_id(raw: bytes) -> str:
    """The Message-ID from the header block, without a full parse (for dedupe first)."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if i >= 0]
    head = raw[: min(ends)] if ends else raw
    match = re.search(rb"(?im)^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", head)
    if not match:
        return ""
    return normalize_message_id(match.group(1).decode("ascii", "replace"))


def normalize_message_id(value: str) -> str:
    value = " ".join(value.replace("\x00", "").split())  # PostgreSQL refuses NUL
    found = _MSGID.search(value)
    if found:
        return found.group(0)[:998]
    value = value.strip().strip("<>")
    return f"<{value}>"[:998] if value else ""


def message_ids(value: str) -> list[str]:
    return [m[:998] for m in _MSGID.findall((value or "").replace("\x00", ""))]


def fix_surrogates(value: str) -> str:
    """Headers with raw 8-bit bytes arrive as surrogate escapes: decode them properly."""
    if not _SURROGATES.search(value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    for charset in FALLBACK_CHARSETS:
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


class _CachingHeaderRegistry(HeaderRegistry):
    """Performance: the stdlib parses a header anew on every access (``get_content_type``
    alone runs several times per part while looking for the body); header objects are
    immutable, so the same (name, value) is parsed once per process."""

    @functools.lru_cache(maxsize=2048)  # noqa: B019 - one module-level instance, never freed anyway
    def __call__(self, name, value):
        return super().__call__(name, value)

    # Values like Date and Message-ID differ in every message, so the cache above misses;
    # then the stdlib builds a new header class for the name each time (slow): once is enough.
    @functools.lru_cache(maxsize=256)  # noqa: B019
    def __getitem__(self, name):
        return super().__getitem__(name)


POLICY = policy.default.clone(header_factory=_CachingHeaderRegistry())

# Headers the default policy parses into structured objects (addresses, dates, MIME
# parameters): their text form is normalised by the parser, so they always go through it.
_STRUCTURED_HEADERS = frozenset(policy.default.header_factory.registry) - {"subject"}


class _BoundaryMatcher:
    """Matches a line exactly like the stdlib's per-boundary regular expression
    ``(?P<sep>--boundary)(?P<end>--)?(?P<ws>[ \\t]*)(?P<linesep>\\r\\n|\\r|\\n)?$``."""

    _TAIL = re.compile(r"(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$")

    def __init__(self, separator: str) -> None:
        self.separator = separator

    def match(self, line: str) -> re.Match | None:
        if not line.startswith(self.separator):
            return None
        return self._TAIL.match(line, len(self.separator))


class _FeedparserRe:
    """``re`` for the private feed parser: the boundary pattern without a compile."""

    _HEAD = "(?P<sep>"
    _TAIL = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"

    def __getattr__(self, name: str):
        return getattr(re, name)

    def compile(self, pattern, flags=0):
        if (
            isinstance(pattern, str)
            and not flags
            and pattern.startswith(self._HEAD)
            and pattern.endswith(self._TAIL)
        ):
            escaped = pattern[len(self._HEAD) : -len(self._TAIL)]
            separator = re.sub(r"\\(.)", r"\1", escaped, flags=re.DOTALL)
            if re.escape(separator) == escaped:
                return _BoundaryMatcher(separator)
        return re.compile(pattern, flags)


# The end of ``_parsegen``: a leaf's payload is collected line by line and joined once.
# For a large attachment the list of line objects takes nearly twice the part's size
# next to the joined copy; joined in blocks of lines instead, the peak is the part's
# size twice (the blocks, then the payload).
_LEAF_PAYLOAD = """        lines = []
        for line in self._input:
            if line is NeedMoreData:
                yield NeedMoreData
                continue
            lines.append(line)
        self._cur.set_payload(EMPTYSTRING.join(lines))
"""
_LEAF_PAYLOAD_IN_BLOCKS = """        lines = []
        blocks = []
        for line in self._input:
            if line is NeedMoreData:
                yield NeedMoreData
                continue
            lines.append(line)
            if len(lines) >= 4096:
                blocks.append(EMPTYSTRING.join(lines))
                lines = []
        blocks.append(EMPTYSTRING.join(lines))
        del lines
        self._cur.set_payload(EMPTYSTRING.join(blocks))
"""


def _private_feedparser():
    """A private copy of ``email.feedparser`` (the stdlib's code, its own module globals)
    whose ``re`` is ``_FeedparserRe``. Performance: the stdlib compiles a new regular
    expression for every multipart boundary, and boundaries are unique per message; that
    compile alone costs more than half a millisecond, more than the rest of the parse.
    Memory: a leaf's payload is joined in blocks (``_LEAF_PAYLOAD_IN_BLOCKS``); where the
    stdlib's code differs from the expected text, it is used unchanged."""
    spec = importlib.util.find_spec("email.feedparser")
    module = importlib.util.module_from_spec(spec)
    source = spec.loader.get_source(spec.name)
    if source.count(_LEAF_PAYLOAD) == 1:
        source = source.replace(_LEAF_PAYLOAD, _LEAF_PAYLOAD_IN_BLOCKS)
    exec(compile(source, spec.origin, "exec"), module.__dict__)  # noqa: S102 - the stdlib's own code
    module.re = _FeedparserRe()
    return module


_feedparser = _private_feedparser()


class _Part(EmailMessage):
    """A MIME part whose idea of "attachment" keeps files out of the body: a text part
    with a file name is a file even when sent ``inline`` (Apple Mail, many scanners),
    so ``get_body`` does not take a .txt or .html attachment for the message text."""

    def is_attachment(self) -> bool:
        # the stdlib's reads a header object; this works with the lenient policy's strings
        # too. Performance: most parts have no Content-Disposition at all.
        if _raw_header(self, "content-disposition") and self.get_content_disposition() == (
            "attachment"
        ):
            return True
        return self.get_content_maintype() == "text" and bool(_raw_filename(self))


class _RawHeaderPolicy(Compat32):
    """compat32, with header values exactly as received: raw 8-bit bytes stay surrogate
    escapes (compat32 would turn them into U+FFFD) and nothing is parsed on access, so
    reading a header can never raise. The lenient second parse and filename parameters
    use it."""

    def header_fetch_parse(self, name, value):
        return value


LENIENT = _RawHeaderPolicy()

_CHUNK = 8192  # what Parser.parse feeds


def parse_message(raw: bytes, policy=POLICY) -> EmailMessage:
    """``BytesParser(policy=POLICY).parsebytes(raw)``, step for step, but faster and
    smaller: decoded chunk by chunk (ASCII with surrogate escapes is one character per
    byte, so the chunks are exactly the stdlib's), never as one copy of the whole mail,
    and parsed as fed, so the parser's line buffer never holds the whole mail either."""
    parser = _feedparser.FeedParser(_factory=_Part, policy=policy)
    view = memoryview(raw)
    for start in range(0, len(raw), _CHUNK):
        parser.feed(str(view[start : start + _CHUNK], "ascii", "surrogateescape"))
    view.release()
    return parser.close()


def _header(msg: Message, name: str) -> str:
    """A header as text; never raises, whatever the header contains."""
    raw = _raw_header(msg, name)
    if not raw:
        return ""
    if _SURROGATES.search(raw):
        # raw 8-bit bytes (UTF-8 or windows-1252) where only ASCII is allowed
        text = fix_surrogates(raw)
    elif name.lower() not in _STRUCTURED_HEADERS and raw.isascii() and "=?" not in raw:
        # Performance: unstructured ASCII text without encoded words is what the header
        # parser would return anyway (unfolded; whitespace is collapsed below); it costs
        # a large share of the parse time otherwise.
        text = raw
    else:
        try:
            text = str(msg.get(name))
        except Exception:
            text = raw
    if "=?" in text and "?=" in text:  # encoded words the parser left alone (bad folding)
        try:
            decoded = str(make_header(decode_header(text)))
            if "\ufffd" not in decoded:
                text = decoded
        except Exception:
            pass
    if "\ufffd" in text and "=?" in raw:  # an encoded word with broken bytes: show it as sent
        text = raw
    return " ".join(fix_c1(text).split())


def _raw_header(msg: Message, name: str) -> str:
    """The first header of that name, unparsed. Performance: the headers are indexed once
    per message (the parsed message is never changed afterwards)."""
    index = msg.__dict__.get("_raw_header_index")
    if index is None:
        index = {}
        for key, value in msg.raw_items():
            index.setdefault(key.lower(), str(value))
        msg.__dict__["_raw_header_index"] = index
    return index.get(name.lower(), "")


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(name, address) pairs; tolerant of malformed lists."""
    try:
        header = msg.get(name)
        if header is None:
            return []
        addresses = getattr(header, "addresses", None)
        if addresses is not None:
            return [
                (fix_c1(fix_surrogates(a.display_name)), fix_surrogates(a.addr_spec).lower())
                for a in addresses
                if a.addr_spec and "@" in a.addr_spec
            ]
    except Exception:
        pass
    raw = _header(msg, name)
    return [(n, a.lower()) for n, a in getaddresses([raw]) if "@" in a]


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Text in its declared charset, or the first fallback that fits. Returns (text, problem)."""
    charset = (declared or "").strip().strip('"').lower()
    charset = CHARSET_ALIASES.get(charset, charset)
    if charset in ("us-ascii", "ascii", ""):
        charset = "utf-8"  # 8-bit data labelled ascii is nearly always UTF-8 or cp1252
    try:
        return data.decode(charset), None
    except LookupError:
        problem = f"unbekannter Zeichensatz {declared!r}"
    except UnicodeDecodeError:
        problem = f"Text passt nicht zum Zeichensatz {declared!r}" if declared else None
    for fallback in FALLBACK_CHARSETS:
        if fallback == charset:
            continue
        try:
            return data.decode(fallback), problem
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), problem  # unreachable: latin-1 decodes everything


def _part_text(part: Message) -> tuple[str, str | None]:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return decode_bytes(payload, part.get_content_charset())


_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def safe_filename(name: str, fallback: str) -> str:
    name = fix_surrogates(name or "")
    if "=?" in name:
        with contextlib.suppress(Exception):
            name = str(make_header(decode_header(name)))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_FILENAME.sub("_", name).strip(" .")
    return name[:200] or fallback


_EXTENSIONS = {
    "application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif",
    "text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics",
    "message/rfc822": ".eml", "application/zip": ".zip",
    "application/pkcs7-mime": ".p7m", "application/x-pkcs7-mime": ".p7m",
    "application/pkcs7-signature": ".p7s", "application/x-pkcs7-signature": ".p7s",
}  # fmt: skip

# S/MIME (RFC 8551): a detached signature of a multipart/signed, and the opaque form
# where the whole content (signed or encrypted) is one application/pkcs7-mime part
SMIME_SIGNATURE_TYPES = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature"})
SMIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
# the CMS content type right after the outer SEQUENCE: id-signedData / id-envelopedData
_CMS_SIGNED = bytes.fromhex("06092a864886f70d010702")
_CMS_ENVELOPED = bytes.fromhex("06092a864886f70d010703")
_CMS_AUTH_ENVELOPED = bytes.fromhex("060b2a864886f70d0109100117")


def _parts(msg: Message):
    """Every part, containers included; a nested message/rfc822 is a leaf (kept whole),
    so a forwarded signed mail does not make the forwarding one signed."""
    yield msg
    if msg.get_content_maintype() == "multipart":
        payload = msg.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                yield from _parts(sub)


def _is_attachment_disposition(part: Message) -> bool:
    return (part.get_content_disposition() or "") == "attachment"


def parse_email(
    raw: bytes, *, max_bytes: int | None = None, max_attachments: int | None = None
) -> ParsedEmail:
    """Parse raw bytes. Raises only for input the stdlib cannot read at all, even leniently.

    Above ``max_bytes`` only the header block is read (sender, subject, threading) and
    the message is flagged ``too_large``; beyond ``max_attachments`` attachments the
    rest is left in the raw message and it is flagged ``attachment_limit``.
    """
    if max_bytes is not None and len(raw) > max_bytes:
        return _parse_head_only(raw, max_bytes)
    try:
        return _parse(raw, POLICY, max_attachments)
    except Exception as exc:  # the strict header parser raised (RFC 2231 oddities, ...)
        error = f"{type(exc).__name__}: {exc}"[:200]
    parsed = _parse(raw, LENIENT, max_attachments)
    parsed.problems.insert(
        0, f"Nachricht nur tolerant gelesen, der strenge Parser scheiterte ({error})"
    )
    parsed.flags.insert(0, "lenient")
    return parsed


def _parse(raw: bytes, policy, max_attachments: int | None) -> ParsedEmail:
    msg = parse_message(raw, policy)
    parsed = ParsedEmail()
    _read_headers(msg, parsed)
    _extract_bodies_and_attachments(msg, parsed, max_attachments)
    if not raw.strip():
        parsed.problems.append("leere Nachricht")
    for defect in msg.defects:
        name = type(defect).__name__
        if name in ("MissingHeaderBodySeparatorDefect", "StartBoundaryNotFoundDefect",
                    "CloseBoundaryNotFoundDefect", "MultipartInvariantViolationDefect"):  # fmt: skip
            parsed.problems.append(f"fehlerhafter Aufbau ({name})")
    if not msg.keys():
        parsed.problems.append("keine Kopfzeilen")
    _strip_nul(parsed)
    return parsed


def _header_end(raw: bytes) -> int:
    """Where the header block ends (the first empty line), or the length."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if i >= 0]
    return min(ends) if ends else len(raw)


_HEAD_LIMIT = 1024 * 1024


def _parse_head_only(raw: bytes, max_bytes: int) -> ParsedEmail:
    """The header block only: too large to be taken apart here, but visible and threaded."""
    head = raw[: min(_header_end(raw), _HEAD_LIMIT)] + b"\n\n"
    parsed = ParsedEmail()
    try:
        _read_headers(parse_message(head), parsed)
    except Exception:
        parsed = ParsedEmail()
        _read_headers(parse_message(head, LENIENT), parsed)
    size, limit = _megabytes(len(raw)), _megabytes(max_bytes)
    parsed.problems.insert(
        0,
        f"Nachricht zu groß ({size} MB, Grenze {limit} MB): nicht zerlegt, Text und Anhänge "
        "nur in den Rohdaten",
    )
    parsed.flags.insert(0, "too_large")
    _strip_nul(parsed)
    return parsed


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f}".replace(".", ",")


def _read_headers(msg: Message, parsed: ParsedEmail) -> None:
    problems = parsed.problems
    parsed.message_id = normalize_message_id(_header(msg, "Message-ID"))
    in_reply_to = message_ids(_header(msg, "In-Reply-To"))
    parsed.in_reply_to = in_reply_to[0] if in_reply_to else ""
    parsed.references = message_ids(_header(msg, "References"))
    parsed.subject = _header(msg, "Subject")[:500]

    senders = _addresses(msg, "From") or _addresses(msg, "Sender")
    if senders:
        parsed.from_name, parsed.from_address = senders[0]
    else:
        name, address = parseaddr(_header(msg, "From"))
        parsed.from_name = name
        if "@" in address:
            parsed.from_address = address.lower()
        else:
            problems.append("kein gültiger Absender")
    reply_to = _addresses(msg, "Reply-To")
    parsed.reply_to = reply_to[0][1] if reply_to else ""
    parsed.to = [a for _n, a in _addresses(msg, "To")]
    parsed.cc = [a for _n, a in _addresses(msg, "Cc")]

    date_text = _header(msg, "Date")
    if date_text:
        try:
            parsed.date = parsedate_to_datetime(date_text)
            if parsed.date.tzinfo is None:
                parsed.date = None  # "-0000": unknown zone, the receive time is better
        except (TypeError, ValueError, IndexError, OverflowError):
            problems.append(f"unlesbares Datum {date_text!r}")

    parsed.headers = [
        (k, _header(msg, k)) for k in dict.fromkeys(msg.keys()) if k.lower() in KEPT_HEADERS
    ]
    parsed.is_bulk = bool(
        _header(msg, "List-Unsubscribe")
        or _header(msg, "List-Id")
        or _header(msg, "Precedence").lower() in ("bulk", "list", "junk")
    )
    auto = _header(msg, "Auto-Submitted").lower()
    parsed.is_auto_generated = bool(auto and auto != "no") or bool(
        _header(msg, "X-Auto-Response-Suppress")
    )


def _strip_nul(parsed: ParsedEmail) -> None:
    """PostgreSQL refuses NUL in text and JSON; it never carries meaning in mail text."""
    for name in ("subject", "from_name", "from_address", "reply_to", "text", "html",
                 "message_id", "in_reply_to"):  # fmt: skip
        value = getattr(parsed, name)
        if "\x00" in value:
            setattr(parsed, name, value.replace("\x00", ""))
    parsed.references = [r.replace("\x00", "") for r in parsed.references]
    parsed.to = [a.replace("\x00", "") for a in parsed.to]
    parsed.cc = [a.replace("\x00", "") for a in parsed.cc]
    parsed.headers = [(k.replace("\x00", ""), v.replace("\x00", "")) for k, v in parsed.headers]
    for attachment in parsed.attachments:
        attachment.filename = attachment.filename.replace("\x00", "")
        attachment.content_id = attachment.content_id.replace("\x00", "")


def _mark_security(part: Message, parsed: ParsedEmail, data: bytes | None = None) -> None:
    """S/MIME and PGP/MIME: signed and/or encrypted (nothing is verified or decrypted)."""
    content_type = part.get_content_type()
    if content_type == "multipart/signed" or content_type in SMIME_SIGNATURE_TYPES:
        parsed.signed = True
    elif content_type == "multipart/encrypted":
        parsed.encrypted = True
    elif content_type in SMIME_TYPES and data is not None:
        smime_type = str(part.get_param("smime-type") or "").lower()
        head = data[:32]
        if smime_type == "signed-data" or (not smime_type and _CMS_SIGNED in head):
            parsed.signed = True
        elif smime_type in ("enveloped-data", "authenveloped-data") or (
            not smime_type and (_CMS_ENVELOPED in head or _CMS_AUTH_ENVELOPED in head)
        ):
            parsed.encrypted = True


def _body_parts(msg: EmailMessage) -> tuple[Message | None, Message | None]:
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    if text_part is None and html_part is None:
        if msg.get_content_maintype() == "text" and not _is_attachment_disposition(msg):
            # a single-part message of another text type (text/enriched, ...), or one
            # with a file name: its text is all there is to read
            text_part = msg
        elif msg.get_content_maintype() == "multipart" and not isinstance(msg.get_payload(), list):
            text_part = msg  # a "multipart" without any parts: its body is what there is
    return text_part, html_part


def _extract_bodies_and_attachments(
    msg: EmailMessage, parsed: ParsedEmail, max_attachments: int | None
) -> None:
    text_part, html_part = _body_parts(msg)
    if text_part is not None:
        parsed.text, problem = _part_text(text_part)
        if problem:
            parsed.notes.append(problem)
    if html_part is not None:
        html, problem = _part_text(html_part)
        if problem and problem not in parsed.notes:
            parsed.notes.append(problem)
        parsed.html, parsed.has_remote_images = sanitize_html(html)
        if not parsed.text.strip():
            parsed.text = html_to_text(html)

    charsets = _LazyCharsets(msg)
    body_parts = {id(p) for p in (text_part, html_part) if p is not None}
    skipped = 0
    for index, part in enumerate(_parts(msg), start=1):
        content_type = part.get_content_type()
        leaf = part.get_content_maintype() != "multipart" or not isinstance(
            part.get_payload(), list
        )
        if not leaf:
            _mark_security(part, parsed)
            continue
        if id(part) in body_parts:
            continue
        if max_attachments is not None and len(parsed.attachments) >= max_attachments:
            _mark_security(part, parsed)
            skipped += 1
            continue
        if content_type == "message/rfc822":
            data = _nested_message_bytes(part)
            inner_subject = ""
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                inner_subject = _header(inner[0], "Subject")
            name = safe_filename(_filename(part, charsets) or inner_subject, f"Nachricht-{index}")
            if not name.lower().endswith(".eml"):
                name += ".eml"
        elif part.get_content_maintype() == "message" and isinstance(part.get_payload(), list):
            # a delivery report's status blocks, message/external-body, ...: kept as text
            data = b"\n".join(_nested_message_bytes_of(sub) for sub in part.get_payload())
            name = safe_filename(_filename(part, charsets), f"Anhang-{index}.txt")
        else:
            data = _payload_bytes(part)
            filename = _filename(part, charsets)
            if _is_blank(data) and (part.get_content_maintype() == "multipart" or not filename):
                continue  # an empty placeholder or a multipart without parts: nothing to keep
            _mark_security(part, parsed, data)
            ext = _EXTENSIONS.get(content_type, ".bin")
            name = safe_filename(filename, f"Anhang-{index}{ext}")
        content_id = _header(part, "Content-ID").strip().strip("<>")
        parsed.attachments.append(
            ParsedAttachment(
                filename=name,
                content_type=content_type,
                data=data,
                content_id=content_id[:255],
                is_inline=bool(content_id) and not _is_attachment_disposition(part),
            )
        )
    if skipped:
        parsed.problems.append(
            f"{skipped} weitere Anhänge nicht gespeichert (Grenze {max_attachments} Anhänge), "
            "nur in den Rohdaten"
        )
        parsed.flags.append("attachment_limit")


def _is_blank(data: bytes) -> bool:
    # Performance: no stripped copy of a large attachment just to see it is not empty
    return len(data) <= 4096 and not data.strip()


def _payload_bytes(part: Message) -> bytes:
    """The decoded content of a leaf. Base64, the bulk of any large mail, is decoded
    straight from the parsed text: the stdlib first makes a bytes copy, splits it into
    lines and joins them again (three more copies of the part)."""
    payload = part.get_payload()
    if (
        isinstance(payload, str)
        and str(part.get("content-transfer-encoding", "")).strip().lower() == "base64"
    ):
        try:
            return binascii.a2b_base64(payload)  # skips line breaks; ASCII str only
        except (binascii.Error, ValueError):  # bad padding, 8-bit junk: the stdlib's repair
            pass
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    return data


# charsets a legacy client (Outlook Express, old webmailers) writes raw 8-bit names in:
# the ones the message declares itself, for its parts and in its encoded words
_ENCODED_WORD_CHARSET = re.compile(r"=\?([^?*\s]+)(?:\*[^?]*)?\?[bBqQ]\?")
_ASCII_CHARSETS = frozenset({"us-ascii", "ascii", "utf-8", ""})


class _LazyCharsets:
    """``_message_charsets(msg)``, worked out only for a filename that needs it."""

    def __init__(self, msg: Message) -> None:
        self.msg = msg
        self._found: list[str] | None = None

    def __iter__(self):
        if self._found is None:
            self._found = _message_charsets(self.msg)
        return iter(self._found)


def _message_charsets(msg: Message) -> list[str]:
    found: list[str] = []
    for part in _parts(msg):
        for _name, value in part.raw_items():
            found.extend(m.lower() for m in _ENCODED_WORD_CHARSET.findall(str(value)))
        with contextlib.suppress(Exception):
            found.append((part.get_param("charset") or "").lower())
    return [c for c in dict.fromkeys(found) if c not in _ASCII_CHARSETS]


def _raw_filename(part: Message) -> str | tuple:
    """The filename parameter (Content-Disposition, else Content-Type name) as sent:
    a str that may hold raw 8-bit bytes as surrogate escapes, or RFC 2231's
    (charset, language, value). Read with compat32's tolerant parameter parser from the
    raw header, so nothing is replaced by U+FFFD and nothing raises."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = _raw_header(part, header)
        if not value or "name" not in value.lower():
            continue
        holder = Message(policy=LENIENT)
        holder[header] = value
        try:
            found = holder.get_param(param, header=header)
        except Exception:
            continue
        if isinstance(found, tuple) and found[0] is None and "'" in found[2]:
            # "utf-8'" and the like: a charset'language' prefix without its value
            found = (None, None, found[2].rsplit("'", 1)[1])
        if found and (not isinstance(found, tuple) or found[2]):
            return found
    return ""


def _filename(part: Message, charsets: Iterable[str]) -> str:
    """The decoded filename: RFC 2231 in its charset, RFC 2047 words, raw 8-bit bytes
    in UTF-8 or a charset the message uses (GBK from Outlook Express), else windows-1252."""
    value = _raw_filename(part)
    if isinstance(value, tuple):
        charset, _language, text = value
        data = text.encode("latin-1", "surrogateescape")  # percent-decoded as latin-1
        return _decode_name(data, [charset or "", *charsets])
    if _SURROGATES.search(value):
        own = [(part.get_param("charset") or "") if part.get_content_maintype() == "text" else ""]
        return _decode_name(value.encode("ascii", "surrogateescape"), [*own, *charsets])
    if "=?" in value:
        with contextlib.suppress(Exception):
            return str(make_header(decode_header(value)))
    return value


def _decode_name(data: bytes, charsets: list[str]) -> str:
    candidates = [CHARSET_ALIASES.get(c.strip().lower(), c.strip().lower()) for c in charsets]
    for charset in dict.fromkeys(c for c in [*candidates[:1], "utf-8", *candidates[1:]] if c):
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    text, _problem = decode_bytes(data, "windows-1252")
    return text


def _nested_message_bytes(part: Message) -> bytes:
    inner = part.get_payload()
    if isinstance(inner, list) and inner:
        data = _nested_message_bytes_of(inner[0])
        if data:
            return data
    payload = part.get_payload(decode=True)
    return payload or b""


def _nested_message_bytes_of(inner: Message) -> bytes:
    try:
        return inner.as_bytes(policy=policy.SMTP.clone(linesep="\n"))
    except Exception:
        try:
            return inner.as_string(policy=policy.compat32).encode("utf-8", "surrogateescape")
        except Exception:
            return b""
