"""Nothing a real mail carries is lost: the whole corpus, walked independently of
conversations.mime, against what ingestion stored."""

from __future__ import annotations

import hashlib
import re
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message as StdMessage
from email.policy import Compat32

import pytest

from conversations.ingest import ingest_raw_email
from conversations.mime import parse_email, safe_filename
from conversations.models import Attachment, Message, RawEmail
from tests.conftest import DATA

CORPUS = sorted(
    [
        *(DATA / "emails").glob("*.eml"),
        *(DATA / "stdlib").glob("msg_*.txt"),
        *(DATA / "mime").glob("*.eml"),
    ]
)
MIME = DATA / "mime"


class _AsReceived(Compat32):
    """Header values exactly as received, raw 8-bit bytes as surrogate escapes."""

    def header_fetch_parse(self, name, value):
        return value


AS_RECEIVED = _AsReceived()


def _declared_charsets(msg: StdMessage) -> list[str]:
    found = []
    for part in msg.walk():
        for _name, value in part.raw_items():
            found += [c.lower() for c in re.findall(r"=\?([^?*\s]+)[^?]*\?[bqBQ]\?", str(value))]
        found.append(str(part.get_param("charset") or "").lower())
    return [c for c in dict.fromkeys(found) if c not in ("", "us-ascii", "utf-8")]


def _decode(data: bytes, charsets: list[str]) -> str:
    for charset in charsets:
        charset = {"gb2312": "gb18030", "iso-8859-1": "cp1252"}.get(charset, charset)
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", "replace")


def _name(part: StdMessage, charsets: list[str]) -> str:
    """The filename as a person reads it, from the raw headers."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        raw = next((v for k, v in part.raw_items() if k.lower() == header), None)
        if raw is None:
            continue
        holder = StdMessage(policy=AS_RECEIVED)
        holder[header] = raw
        value = holder.get_param(param, header=header)
        if isinstance(value, tuple):
            charset, _lang, text = value
            if charset is None:
                text = text.rsplit("'", 1)[-1]
            data = text.encode("latin-1", "surrogateescape")
            name = _decode(data, [charset or "utf-8", "utf-8", *charsets])
        elif value and re.search("[\udc80-\udcff]", value):
            name = _decode(value.encode("ascii", "surrogateescape"), ["utf-8", *charsets])
        elif value and "=?" in value:
            name = str(make_header(decode_header(value)))
        else:
            name = value or ""
        if name:
            return name
    return ""


def _leaves(part: StdMessage):
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        for sub in part.get_payload():
            yield from _leaves(sub)
    else:
        yield part


def expected_leaves(raw: bytes) -> tuple[list[tuple], list[tuple]]:
    """(files, body candidates) of the raw MIME tree: (content type, name, sha256 or None).
    A body candidate is a text/plain or text/html leaf without a name, not an
    "attachment"; it is either the message's text or stored. Empty nameless leaves are
    placeholders, not files."""
    msg = message_from_bytes(raw, policy=AS_RECEIVED)
    charsets = _declared_charsets(msg)
    files, candidates = [], []
    for leaf in _leaves(msg):
        content_type = leaf.get_content_type()
        name = _name(leaf, charsets)
        if leaf.get_content_maintype() == "message":  # kept whole, re-serialised
            files.append((content_type, safe_filename(name, "") if name else None, None))
            continue
        if leaf.get_content_maintype() == "multipart":  # without parts: its text is the body
            candidates.append((content_type, None, None))
            continue
        data = leaf.get_payload(decode=True) or b""
        disposition = str(leaf.get("content-disposition", "")).split(";")[0].strip().lower()
        if not name and not data.strip():
            continue
        key = (
            content_type,
            safe_filename(name, "") if name else None,
            hashlib.sha256(data).hexdigest(),
        )
        if content_type in ("text/plain", "text/html") and not name and disposition != "attachment":
            candidates.append(key)
        else:
            files.append(key)
    return files, candidates


def _matches(stored: tuple, wanted: tuple) -> bool:
    return all(w is None or s == w for s, w in zip(stored, wanted, strict=True))


@pytest.mark.django_db
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_leaf_that_is_not_a_body_is_stored_with_its_decoded_name(path, brand_a):
    raw = path.read_bytes()
    files, candidates = expected_leaves(raw)

    result = ingest_raw_email(raw, brand=brand_a, source=path.name)

    assert result.message is not None and result.message.raw_id == result.raw.pk
    stored = [
        (a.content_type, a.filename, a.sha256)
        for a in Attachment.objects.filter(message=result.message)
    ]
    unmatched = list(stored)
    for wanted in files:
        match = next((s for s in unmatched if _matches(s, wanted)), None)
        assert match is not None, f"{wanted} not stored; stored: {stored}"
        unmatched.remove(match)
    # what is left are body candidates that were not taken as the message text
    for extra in unmatched:
        assert any(_matches(extra, c) for c in candidates), f"{extra} stored but not in the mail"
    if len(stored) - len(files) < len(candidates):  # some were taken as the message's text
        assert result.message.text.strip() or result.message.html
    assert result.message.sender_address or "kein gültiger Absender" in result.message.flag_reason


def test_the_walker_sees_six_files_in_the_six_encodings_mail():
    files, _candidates = expected_leaves((MIME / "six_filename_encodings.eml").read_bytes())

    assert [name for _type, name, _sha in files] == [
        "Angebot.pdf",
        "Prüfbericht Köln.pdf",
        "Zählerstände Grünwald.csv",
        "Dosenübersicht.jpg",
        "Maße.xls",
        "Notizen.txt",
    ]


# --- the classes of mail that lost content --------------------------------------------------


def parse(name: str):
    return parse_email((MIME / name).read_bytes())


@pytest.mark.parametrize(
    ("name", "signed", "encrypted", "attachment"),
    [
        ("smime_clear_signed.eml", True, False, ("smime.p7s", "application/pkcs7-signature")),
        (
            "smime_clear_signed_no_disposition.eml",
            True,
            False,
            ("smime.p7s", "application/x-pkcs7-signature"),
        ),
        ("smime_opaque_signed.eml", True, False, ("smime.p7m", "application/pkcs7-mime")),
        (
            "smime_opaque_signed_no_disposition.eml",
            True,
            False,
            ("smime.p7m", "application/x-pkcs7-mime"),
        ),
        ("smime_enveloped.eml", False, True, ("smime.p7m", "application/pkcs7-mime")),
        (
            "smime_enveloped_outlook_no_type.eml",
            False,
            True,
            ("smime.p7m", "application/x-pkcs7-mime"),
        ),
        ("smime_signed_then_enveloped.eml", False, True, ("smime.p7m", "application/x-pkcs7-mime")),
    ],
)
def test_smime_parts_are_attachments_and_mark_the_message(name, signed, encrypted, attachment):
    parsed = parse(name)

    assert (parsed.signed, parsed.encrypted) == (signed, encrypted)
    assert attachment in [(a.filename, a.content_type) for a in parsed.attachments]
    p7 = next(a for a in parsed.attachments if a.filename == attachment[0])
    assert p7.data[:1] == b"\x30"  # the DER of a CMS ContentInfo, not text
    assert "\x00" not in parsed.text and not parsed.text.startswith("0\x82")
    assert parsed.problems == []


def test_clear_signed_mail_shows_its_text_and_its_attachments():
    parsed = parse("smime_clear_signed.eml")

    assert parsed.text.strip() == "Guten Tag, anbei die unterschriebene Auftragsbestätigung."
    assert [a.filename for a in parsed.attachments] == ["Auftragsbestaetigung.pdf", "smime.p7s"]
    assert parsed.attachments[0].data.startswith(b"%PDF-1.4")


def test_a_forwarded_signed_mail_does_not_mark_the_forwarding_one():
    inner = (MIME / "smime_clear_signed.eml").read_bytes()
    raw = (
        b"From: a@b.de\nSubject: Fwd\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=f\n\n"
        b"--f\nContent-Type: text/plain\n\nSiehe unten.\n--f\nContent-Type: message/rfc822\n\n"
        + inner
        + b"\n--f--\n"
    )

    parsed = parse_email(raw)

    assert not parsed.signed
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("legacy_gbk_filenames_outlook_express.eml", ["报价单.doc", "乗车路线.xls"]),
        ("legacy_koi8r_filename_the_bat.eml", ["Счет 17.pdf"]),
        ("unquoted_apostrophe_filename.eml", ["O'Brien_Invoice.pdf"]),
    ],
)
def test_raw_8bit_and_odd_filenames_are_decoded(name, expected):
    parsed = parse(name)

    assert [a.filename for a in parsed.attachments] == expected
    assert parsed.problems == []


def test_six_filename_encodings_give_six_attachments_and_the_html_text():
    parsed = parse("six_filename_encodings.eml")

    assert [a.filename for a in parsed.attachments] == [
        "Angebot.pdf",
        "Prüfbericht Köln.pdf",
        "Zählerstände Grünwald.csv",
        "Dosenübersicht.jpg",
        "Maße.xls",
        "Notizen.txt",
    ]
    # the inline text file is a file, not the message's text
    assert parsed.text.strip() == "Hallo, hier die sechs Dateien für die Anlage."
    assert "Zählerschrank" not in parsed.text


@pytest.mark.parametrize(
    ("name", "attachments"),
    [
        ("rfc2231_strict_parser_raises.eml", ["Zaehler.jpg", "Rechnung März.pdf"]),
        ("rfc2231_disposition_raises.eml", ["Vertrag.pdf"]),
    ],
)
def test_mail_the_strict_parser_rejects_is_read_leniently_and_flagged(name, attachments):
    parsed = parse(name)

    assert parsed.flags == ["lenient"]
    assert parsed.problems[0].startswith("Nachricht nur tolerant gelesen")
    assert parsed.from_address.endswith("@kunde.example")
    assert parsed.subject in ("Zählerfoto und Rechnung", "Unterlagen")
    assert parsed.text.strip().startswith(
        ("Guten Tag, das Foto vom Zähler", "Anbei die Unterlagen")
    )
    assert [a.filename for a in parsed.attachments] == attachments


@pytest.mark.django_db
def test_a_leniently_read_mail_lands_in_the_inbox_flagged_with_the_reason(client, agent_a, brand_a):
    raw = (MIME / "rfc2231_strict_parser_raises.eml").read_bytes()

    result = ingest_raw_email(raw, brand=brand_a)

    assert result.outcome == "flagged"
    message = Message.objects.get()
    assert (message.sender_address, message.subject) == (
        "juergen.mueller@kunde.example",
        "Zählerfoto und Rechnung",
    )
    assert message.parse_flags == ["lenient"] and message.flagged
    assert "tolerant gelesen" in message.flag_reason
    assert message.attachments.count() == 2
    assert message.conversation.flagged
    assert RawEmail.objects.get().state == RawEmail.State.FLAGGED
    client.force_login(agent_a)
    page = client.get(f"/konversationen/{message.conversation_id}/").content.decode()
    assert "tolerant gelesen" in page and "Rechnung März.pdf" in page


@pytest.mark.django_db
def test_the_thread_shows_signed_and_encrypted_badges(client, agent_a, brand_a):
    signed = ingest_raw_email((MIME / "smime_clear_signed.eml").read_bytes(), brand=brand_a)
    encrypted = ingest_raw_email((MIME / "smime_enveloped.eml").read_bytes(), brand=brand_a)
    client.force_login(agent_a)

    signed_page = client.get(f"/konversationen/{signed.conversation.pk}/").content.decode()
    encrypted_page = client.get(f"/konversationen/{encrypted.conversation.pk}/").content.decode()

    assert (signed.message.signed, signed.message.encrypted) == (True, False)
    assert (encrypted.message.signed, encrypted.message.encrypted) == (False, True)
    assert ">signiert<" in signed_page and ">verschlüsselt<" not in signed_page
    assert ">verschlüsselt<" in encrypted_page and "smime.p7m" in encrypted_page
    assert "Auftragsbestaetigung.pdf" in signed_page
    client.cookies["django_language"] = "en"
    english = client.get(f"/konversationen/{encrypted.conversation.pk}/").content.decode()
    assert ">encrypted<" in english


def test_the_corpus_is_documented_with_its_sources():
    readme = (DATA / "README.md").read_text(encoding="utf-8")

    for path in MIME.glob("*.eml"):
        assert path.name in readme
