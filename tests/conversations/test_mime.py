"""Parsing raw bytes into plain data: pure functions, no database."""

from __future__ import annotations

from email.parser import BytesParser

import pytest

from conversations.benchmarks import generate_emails
from conversations.mime import (
    POLICY,
    content_hash,
    decode_bytes,
    normalize_message_id,
    parse_email,
    parse_message,
    quick_message_id,
    safe_filename,
)
from tests.conftest import DATA

EMAILS = DATA / "emails"
STDLIB = DATA / "stdlib"


def parse(name: str):
    return parse_email((EMAILS / name).read_bytes())


def test_it_decodes_encoded_words_and_utf8_bodies():
    parsed = parse("01_plain_utf8_umlauts.eml")

    assert parsed.subject == "Frage zur Wallbox – Größe"
    assert (parsed.from_name, parsed.from_address) == (
        "Jürgen Müller",
        "juergen.mueller@kunde-gmbh.de",
    )
    assert parsed.problems == []


def test_latin1_labelled_outlook_text_is_read_as_windows_1252():
    parsed = parse("02_reply_outlook_aw.eml")

    # 0x96 in an iso-8859-1 encoded word is Outlook's en dash, not a control character
    assert parsed.subject == "AW: Frage zur Wallbox – Größe"
    assert "Herr Müller" in parsed.text
    assert parsed.in_reply_to == "<frage-1@kunde-gmbh.de>"
    assert parsed.thread_ids == ["<frage-1@kunde-gmbh.de>"]


def test_a_body_in_the_wrong_charset_falls_back_without_a_flag():
    parsed = parse("04_wrong_charset_cp1252.eml")

    assert "ü" in parsed.text or "ä" in parsed.text or "ö" in parsed.text
    assert "\ufffd" not in parsed.text
    assert parsed.problems == []
    assert parsed.notes  # recorded on the raw row, not worth an agent's attention


def test_an_unknown_charset_falls_back():
    parsed = parse("05_unknown_charset.eml")

    assert "\ufffd" not in parsed.text and parsed.text.strip()
    assert any("x-fantasie-8" in note for note in parsed.notes)


def test_raw_8bit_headers_are_decoded():
    parsed = parse("11_raw_8bit_header_latin1.eml")

    assert parsed.subject == "Anfrage wegen Zählerschrank"


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        ("Grüße".encode(), "utf-8", "Grüße"),
        ("Grüße".encode("cp1252"), "utf-8", "Grüße"),
        ("Grüße – bis bald".encode("cp1252"), "iso-8859-1", "Grüße – bis bald"),
        ("Grüße".encode(), "us-ascii", "Grüße"),
        ("Grüße".encode(), "", "Grüße"),
        ("Grüße".encode("cp1252"), "x-gibts-nicht", "Grüße"),
        ("Grüße".encode("cp850"), "cp-850", "Grüße"),
        (b"\x81\x8d", "windows-1252", "\x81\x8d"),  # undefined in cp1252: latin-1 at last
    ],
)
def test_decode_bytes_never_fails(data, declared, expected):
    text, _problem = decode_bytes(data, declared)

    assert text == expected


def test_attachments_keep_umlaut_filenames_and_lose_paths():
    parsed = parse("06_attachments_umlaut_filenames.eml")

    assert [a.filename for a in parsed.attachments] == [
        "Angebot für Köln.pdf",  # RFC 2231
        "Prüfbericht.pdf",  # RFC 2047 inside a quoted parameter, as Outlook writes it
        "passwd",  # "../../etc/passwd"
    ]
    assert parsed.attachments[0].data.startswith(b"%PDF-1.4")
    assert parsed.text.strip() == "Anbei die Unterlagen."


def test_html_is_sanitised_and_cid_images_are_inline_attachments():
    parsed = parse("07_html_script_onerror_cid.eml")

    assert "<script" not in parsed.html and "onerror" not in parsed.html
    assert "javascript:" not in parsed.html and "<iframe" not in parsed.html
    assert 'src="cid:logo@evil.example"' in parsed.html
    assert parsed.has_remote_images
    # no text part: text derived from the HTML
    assert "Hallo Gewinner" in parsed.text and "pwned" not in parsed.text
    (logo,) = parsed.attachments
    assert (logo.filename, logo.content_id, logo.is_inline) == (
        "logo.png",
        "logo@evil.example",
        True,
    )


def test_bulk_and_auto_generated_signals():
    assert parse("08_newsletter_list_unsubscribe.eml").is_bulk
    auto = parse("15_auto_generated.eml")
    assert auto.is_auto_generated and not auto.is_bulk
    assert not parse("01_plain_utf8_umlauts.eml").is_bulk


def test_a_nested_message_is_kept_whole_as_an_attachment():
    parsed = parse("09_forwarded_nested_rfc822.eml")

    (nested,) = parsed.attachments
    assert nested.content_type == "message/rfc822"
    assert nested.filename == "Bestellung 4711.eml"
    inner = parse_email(nested.data)
    assert inner.subject == "Bestellung 4711"


def test_malformed_headers_are_problems_not_exceptions():
    parsed = parse("10_malformed_headers.eml")

    assert "kein gültiger Absender" in parsed.problems
    assert any("gestern irgendwann" in p for p in parsed.problems)
    assert parsed.date is None


def test_references_and_in_reply_to_give_the_thread_ids_nearest_first():
    parsed = parse("13_thread_refs_3.eml")

    assert parsed.thread_ids == ["<na-2@stadtwerke-nord.example>", "<na-1@stadtwerke-nord.example>"]


@pytest.mark.parametrize("path", sorted(STDLIB.glob("msg_*.txt")), ids=lambda p: p.name)
def test_pythons_own_test_messages_parse(path):
    parsed = parse_email(path.read_bytes())

    assert parsed.text or parsed.html or parsed.attachments
    for attachment in parsed.attachments:
        assert attachment.filename and "/" not in attachment.filename


def test_a_digest_keeps_every_message():
    parsed = parse_email((STDLIB / "msg_02.txt").read_bytes())

    nested = [a for a in parsed.attachments if a.content_type == "message/rfc822"]
    assert len(nested) == 5


def test_a_gif_attachment_survives_decoding():
    parsed = parse_email((STDLIB / "msg_07.txt").read_bytes())

    (gif,) = parsed.attachments
    assert gif.filename == "dingusfish.gif"
    assert gif.data.startswith(b"GIF89a") or gif.data.startswith(b"GIF87a")


def test_nul_bytes_never_reach_the_text_fields():
    raw = b"From: a\x00b <x@y.de>\nSubject: Hallo\x00Welt\n\nText\x00mit NUL\n"

    parsed = parse_email(raw)

    assert "\x00" not in parsed.subject + parsed.text + parsed.from_name


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@b>", "<a@b>"),
        ("  <a@b>  (comment)", "<a@b>"),
        ("a@b", "<a@b>"),
        ("", ""),
    ],
)
def test_normalize_message_id(value, expected):
    assert normalize_message_id(value) == expected


def test_quick_message_id_reads_folded_headers():
    raw = b"Subject: x\r\nMessage-ID:\r\n <folded@example.org>\r\n\r\nbody"

    assert quick_message_id(raw) == "<folded@example.org>"


def test_content_hash_ignores_trace_headers_and_line_endings():
    one = b"Received: from a\r\nSubject: x\r\nMessage-ID: <1@a>\r\n\r\nText\r\n"
    two = b"Received: from b\n  by c\nReturn-Path: <x@y>\nSubject: x\nMessage-ID: <1@a>\n\nText\n"
    other = b"Subject: x\nMessage-ID: <1@a>\n\nAnderer Text\n"

    assert content_hash(one) == content_hash(two) != content_hash(other)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\Rechnung.pdf", "Rechnung.pdf"),
        ("=?utf-8?B?UHLDvGZiZXJpY2h0LnBkZg==?=", "Prüfbericht.pdf"),
        ('a<b>:"c".txt', "a_b_c_.txt"),
        ("...", "Anhang"),
        ("", "Anhang"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name, "Anhang") == expected


def _structure(message) -> list:
    return [
        (
            part.get_content_type(),
            part.items(),
            part.preamble,
            part.epilogue,
            [type(d).__name__ for d in part.defects],
            None if part.is_multipart() else part.get_payload(),
        )
        for part in message.walk()
    ]


def test_the_fast_parser_builds_the_same_message_as_the_stdlib():
    corpus = [p.read_bytes() for p in sorted([*EMAILS.glob("*.eml"), *STDLIB.iterdir()])]
    corpus += generate_emails(60, seed=3, domain="bench.example")
    corpus += [
        b'Content-Type: multipart/mixed; boundary="a.b*c(d)+e?"\n\n--a.b*c(d)+e?\n\nx\n'
        b"--a.b*c(d)+e?  \n\ny\n--a.b*c(d)+e?--\r\nepilog\n",
        b"Content-Type: multipart/mixed; boundary=zz\n\n--zz\n\nnicht geschlossen\n",
        b'Content-Type: multipart/alternative; boundary=""\n\n--\n\nleer\n----\n',
        # leaves of more lines than one block of the private parser's payload buffer
        b"Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\n"
        + b"".join(b"Zeile %d\r\n" % n for n in range(10_000))
        + b"--q\n\n"
        + b"x\n" * 4096
        + b"--q--\n",
        b"Subject: ohne Teile\n\n" + b"".join(b"%d\n" % n for n in range(8193)),
    ]

    for raw in corpus:
        ours = parse_message(raw)
        theirs = BytesParser(policy=POLICY).parsebytes(raw)
        assert _structure(ours) == _structure(theirs)
