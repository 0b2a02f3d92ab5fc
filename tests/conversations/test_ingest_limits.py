"""Limits of ingestion: size, attachment count, and the memory a large mail takes."""

from __future__ import annotations

import base64
import hashlib
import io
import json

import pytest
from django.core.management import call_command

from conversations.ingest import ingest_raw_email, ingest_raw_emails
from conversations.mime import _hash_lf, content_hash, parse_email
from conversations.models import Attachment, Conversation, Message, RawEmail

pytestmark = pytest.mark.django_db


def with_attachments(count: int, *, size: int = 40) -> bytes:
    parts = [
        "From: Kunde <kunde@beispiel.de>\nTo: support@laderthuis.nl\nSubject: Viele Fotos\n"
        "Message-ID: <fotos-1@beispiel.de>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\n'
        "Anbei die Fotos.\n"
    ]
    for n in range(1, count + 1):
        data = base64.encodebytes(bytes([n]) * size).decode()
        parts.append(
            f'--b\nContent-Type: image/jpeg; name="Foto {n}.jpg"\n'
            f'Content-Disposition: attachment; filename="Foto {n}.jpg"\n'
            f"Content-Transfer-Encoding: base64\n\n{data}"
        )
    parts.append("--b--\n")
    return "".join(parts).encode()


def test_a_mail_above_the_size_limit_is_stored_raw_and_shown_from_its_headers(
    settings, client, agent_a, brand_a
):
    raw = with_attachments(3, size=3000)
    settings.INGEST_MAX_MESSAGE_BYTES = len(raw) - 1

    result = ingest_raw_email(raw, brand=brand_a)

    assert result.outcome == "flagged"
    stored = RawEmail.objects.get()
    assert bytes(stored.data) == raw
    assert stored.state == RawEmail.State.FLAGGED and "zu groß" in stored.error
    message = Message.objects.get()
    assert (message.sender_address, message.subject) == ("kunde@beispiel.de", "Viele Fotos")
    assert message.message_id == "<fotos-1@beispiel.de>"
    assert message.parse_flags == ["too_large"] and message.flagged
    assert not Attachment.objects.exists()
    assert Conversation.objects.get().flagged
    client.force_login(agent_a)
    page = client.get(f"/konversationen/{message.conversation_id}/").content.decode()
    assert "zu groß, nicht zerlegt" in page and "nur in den Rohdaten" in page


def test_attachments_beyond_the_limit_stay_in_the_raw_message_and_flag_it(settings, brand_a):
    settings.INGEST_MAX_ATTACHMENTS = 2
    raw = with_attachments(5)

    [result] = ingest_raw_emails([(raw, "test")], brand=brand_a)

    assert result.outcome == "flagged"
    message = Message.objects.get()
    assert [a.filename for a in message.attachments.all()] == ["Foto 1.jpg", "Foto 2.jpg"]
    assert message.parse_flags == ["attachment_limit"]
    assert "3 weitere Anhänge nicht gespeichert" in message.flag_reason
    assert message.text.strip() == "Anbei die Fotos."
    assert bytes(RawEmail.objects.get().data) == raw


def test_within_the_limits_nothing_is_flagged(brand_a):
    result = ingest_raw_email(with_attachments(5), brand=brand_a)

    assert result.outcome == "new"
    assert Message.objects.get().parse_flags == []
    assert Attachment.objects.count() == 5


@pytest.mark.parametrize("ingest", ["single", "batch"])
def test_a_large_raw_mail_is_stored_byte_for_byte(brand_a, ingest):
    blob = hashlib.sha256(b"x").digest() * 70_000  # 2.2 MB, above LARGE_RAW_BYTES
    raw = with_attachments(1) + base64.encodebytes(blob)
    if ingest == "single":
        result = ingest_raw_email(raw, brand=brand_a)
    else:
        result, _other = ingest_raw_emails([(raw, "a"), (with_attachments(2), "b")], brand=brand_a)

    assert result.outcome == "new"
    assert bytes(RawEmail.objects.get(pk=result.raw.pk).data) == raw
    assert RawEmail.objects.get(pk=result.raw.pk).size == len(raw)


@pytest.mark.parametrize(
    "body",
    [b"a\r\nb\r\n", b"\r\n" * 5, b"x\r", b"\r\r\n\r", b"ab\r\ncd\n\re\r\r\n"],
)
@pytest.mark.parametrize("chunk", [1, 2, 3, 7])
def test_the_chunked_line_ending_hash_equals_the_whole_replace(body, chunk):
    whole, chunked = hashlib.sha256(), hashlib.sha256()
    whole.update(body.replace(b"\r\n", b"\n"))

    _hash_lf(chunked, memoryview(body), chunk=chunk)

    assert chunked.hexdigest() == whole.hexdigest()


def test_content_hash_is_unchanged_for_stored_rows():
    # the hash stored by earlier versions: "sha256 of the header lines kept, the
    # separator and the body, with LF line endings"
    raw = b"Received: x\r\nSubject: a\r\n\r\nText\r\nmehr\r\n"
    expected = hashlib.sha256(b"Subject: a")
    expected.update(b"\n\n")
    expected.update(b"Text\nmehr\n")

    assert content_hash(raw) == expected.hexdigest()


def test_parsing_a_large_attachment_keeps_its_bytes():
    data = bytes(range(256)) * 20_000  # 5 MB: many blocks of the parser's line buffer
    raw = (
        b"From: a@b.de\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nHallo\n--b\nContent-Type: application/octet-stream\n"
        b'Content-Disposition: attachment; filename="gross.bin"\nContent-Transfer-Encoding: base64\n\n'
        + base64.encodebytes(data)
        + b"--b--\n"
    )

    parsed = parse_email(raw)

    assert [a.filename for a in parsed.attachments] == ["gross.bin"]
    assert parsed.attachments[0].data == data


@pytest.mark.django_db(transaction=True)
def test_bench_measures_a_30_mb_mail_in_at_most_four_times_its_size():
    out = io.StringIO()

    call_command("bench", "--only", "largemail", stdout=out)

    metrics = {
        r["metric"]: r["value"] for r in json.loads(out.getvalue().splitlines()[-1])["results"]
    }
    assert 29 < metrics["size"] < 32
    assert metrics["outcome"] == "new" and metrics["attachments"] == 4
    assert 0 < metrics["ratio"] <= 4
