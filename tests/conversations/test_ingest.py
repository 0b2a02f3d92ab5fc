"""The ingestion service: raw first, dedupe, flag instead of fail, attachments, conversations."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils import timezone

from conversations.ingest import IngestStats, ingest_raw_email, ingest_raw_emails
from conversations.models import (
    Attachment,
    Classification,
    ClassificationChange,
    Conversation,
    Direction,
    Mailbox,
    Message,
    RawEmail,
    Status,
)
from tests.conftest import DATA, NOW
from tests.factories import CustomerFactory, MessageFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]

EMAILS = DATA / "emails"


def ingest_as_batch(raw: bytes, *, source: str = "", **kwargs):
    """The batch path with a batch of one: the same result as ``ingest_raw_email``."""
    [result] = ingest_raw_emails([(raw, source)], **kwargs)
    return result


@pytest.fixture(params=[ingest_raw_email, ingest_as_batch], ids=["einzeln", "stapel"])
def ingest(request):
    """Every test here runs against the single path (webhook) and the batch path."""
    return request.param


def eml(name: str) -> bytes:
    return (EMAILS / name).read_bytes()


def mail(
    *,
    subject="Frage zur Wallbox",
    sender="kunde@beispiel.de",
    message_id="<q1@beispiel.de>",
    body="Guten Tag, eine Frage.",
    date: str | None = None,
    extra="",
) -> bytes:
    date = date or "Fri, 20 Nov 2026 10:00:00 +0100"
    head = f"From: Kunde <{sender}>\nTo: support@laderthuis.nl\nSubject: {subject}\nDate: {date}\n"
    if message_id:
        head += f"Message-ID: {message_id}\n"
    return (head + extra + "Content-Type: text/plain; charset=utf-8\n\n" + body + "\n").encode()


def test_it_stores_the_raw_bytes_a_conversation_and_a_message(ingest, brand_a):
    raw = eml("01_plain_utf8_umlauts.eml")

    result = ingest(raw, brand=brand_a, source="test")

    assert result.outcome == "new"
    stored = RawEmail.objects.get()
    assert bytes(stored.data) == raw
    assert stored.sha256 == hashlib.sha256(raw).hexdigest()
    assert (stored.state, stored.size, stored.source) == (RawEmail.State.PARSED, len(raw), "test")
    conversation = Conversation.objects.get()
    assert conversation.brand == brand_a
    assert conversation.counterpart == "juergen.mueller@kunde-gmbh.de"
    assert conversation.subject_key == "frage zur wallbox – grösse"  # casefolded
    assert conversation.message_count == 1 and conversation.unread
    message = conversation.messages.get()
    assert (message.direction, message.raw, message.flagged) == (Direction.INBOUND, stored, False)
    assert message.message_id == stored.message_id


def test_the_same_bytes_twice_are_one_message(ingest, brand_a):
    raw = eml("06_attachments_umlaut_filenames.eml")

    outcomes = [ingest(raw, brand=brand_a).outcome for _ in range(3)]

    assert outcomes == ["new", "duplicate", "duplicate"]
    assert (RawEmail.objects.count(), Message.objects.count(), Attachment.objects.count()) == (
        1,
        1,
        3,
    )


def test_the_same_message_with_other_trace_headers_is_a_duplicate(ingest, brand_a):
    raw = mail()
    ingest(b"Received: from mx1\nReturn-Path: <k@b.de>\n" + raw, brand=brand_a)

    result = ingest(b"Received: from mx2 by mx3\n" + raw, brand=brand_a)

    assert result.outcome == "duplicate"
    assert Message.objects.count() == 1


def test_the_same_message_id_with_other_content_is_kept_and_flagged(ingest, brand_a):
    ingest(mail(body="Erste Fassung"), brand=brand_a)

    result = ingest(mail(body="Ganz anderer Inhalt"), brand=brand_a)
    again = ingest(mail(body="Ganz anderer Inhalt"), brand=brand_a)

    assert result.outcome == "flagged"
    assert again.outcome == "duplicate"
    assert Message.objects.count() == 2
    flagged = Message.objects.get(flagged=True)
    assert "Message-ID schon vorhanden" in flagged.flag_reason
    assert "Ganz anderer Inhalt" in flagged.text
    assert flagged.conversation.flagged
    assert flagged.raw.state == RawEmail.State.FLAGGED


def test_without_message_id_the_bytes_decide(ingest, brand_a):
    assert ingest(eml("14_no_message_id.eml"), brand=brand_a).outcome == "new"
    assert ingest(eml("14_no_message_id.eml"), brand=brand_a).outcome == "duplicate"
    other = mail(message_id="", body="anders")
    assert ingest(other, brand=brand_a).outcome == "new"


def test_dedupe_is_per_mailbox(ingest, brand_a):
    info = Mailbox.objects.create(brand=brand_a, name="Info", address="info@laderthuis.nl")
    raw = mail()

    assert ingest(raw, brand=brand_a).outcome == "new"
    assert ingest(raw, brand=brand_a, mailbox=info).outcome != "duplicate"
    assert ingest(raw, brand=brand_a, mailbox=info).outcome == "duplicate"
    assert RawEmail.objects.filter(mailbox=info).count() == 1


def test_a_malformed_message_is_flagged_and_visible(ingest, brand_a):
    result = ingest(eml("10_malformed_headers.eml"), brand=brand_a)

    assert result.outcome == "flagged"
    conversation = Conversation.objects.get()
    assert conversation.flagged
    message = conversation.messages.get()
    assert message.flagged and "kein gültiger Absender" in message.flag_reason
    assert RawEmail.objects.get().error


class BrokenStorage(FileSystemStorage):
    """Storage that fails like a full disk. Not our code: a Django storage backend."""

    def _save(self, name, content):
        raise OSError("Kein Platz mehr auf dem Gerät")


def test_a_failure_while_storing_keeps_the_raw_mail_and_a_flagged_message(
    ingest, brand_a, settings
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.BrokenStorage"},
    }
    raw = eml("06_attachments_umlaut_filenames.eml")

    result = ingest(raw, brand=brand_a)

    assert result.outcome == "flagged"
    assert "Kein Platz mehr" in result.reason
    stored = RawEmail.objects.get()
    assert bytes(stored.data) == raw
    assert stored.state == RawEmail.State.FLAGGED and "Kein Platz mehr" in stored.error
    message = Message.objects.get()  # the half-written message was rolled back
    assert message.flagged and message.raw == stored
    assert "Anbei die Unterlagen" in message.text  # the raw text, readable
    assert message.conversation.flagged
    assert Attachment.objects.count() == 0


def test_attachments_are_stored_content_addressed(ingest, brand_a):
    ingest(eml("06_attachments_umlaut_filenames.eml"), brand=brand_a)
    # the same PDF in another mail: a second row, the same file
    ingest(
        eml("06_attachments_umlaut_filenames.eml").replace(b"<anhang@", b"<anhang-2@"),
        brand=brand_a,
    )

    first, second = Attachment.objects.filter(filename="Angebot für Köln.pdf").order_by("id").all()
    assert first.file.name == second.file.name == f"attachments/{first.sha256[:2]}/{first.sha256}"
    with default_storage.open(first.file.name) as handle:
        data = handle.read()
    assert hashlib.sha256(data).hexdigest() == first.sha256
    assert data.startswith(b"%PDF-1.4")
    assert (first.size, first.content_type) == (len(data), "application/pdf")


def test_a_nested_message_and_inline_images_are_attachments(ingest, brand_a):
    ingest(eml("09_forwarded_nested_rfc822.eml"), brand=brand_a)
    ingest(eml("07_html_script_onerror_cid.eml"), brand=brand_a)

    nested = Attachment.objects.get(content_type="message/rfc822")
    assert nested.filename == "Bestellung 4711.eml"
    logo = Attachment.objects.get(content_type="image/png")
    assert (logo.content_id, logo.is_inline) == ("logo@evil.example", True)
    message = logo.message
    assert "<script" not in message.html and message.has_remote_images


def test_a_reply_by_in_reply_to_joins_the_conversation(ingest, brand_a):
    first = ingest(eml("01_plain_utf8_umlauts.eml"), brand=brand_a)
    stats = IngestStats()
    for name in ("02_reply_outlook_aw.eml", "03_reply_re_aw_no_headers.eml"):
        stats.add(ingest(eml(name), brand=brand_a))

    assert stats.threaded == 2
    conversation = Conversation.objects.get()
    assert conversation == first.conversation
    assert conversation.message_count == 3


@pytest.mark.parametrize("prefix", ["12_thread_subject", "13_thread_refs"])
def test_a_thread_of_three(ingest, brand_a, prefix):
    outcomes = [ingest(eml(f"{prefix}_{n}.eml"), brand=brand_a).outcome for n in (1, 2, 3)]

    assert outcomes == ["new", "threaded", "threaded"]
    assert Conversation.objects.get().message_count == 3


def test_the_same_subject_after_14_days_is_a_new_conversation(ingest, brand_a):
    ingest(mail(message_id="<alt@b.de>", date="Fri, 30 Oct 2026 10:00:00 +0100"), brand=brand_a)

    result = ingest(
        mail(subject="AW: Frage zur Wallbox", message_id="<neu@b.de>"),  # 20 Nov 2026: 21 days on
        brand=brand_a,
    )

    assert result.outcome == "new"
    assert Conversation.objects.count() == 2


def test_a_reply_to_our_own_outbound_message_joins_its_conversation(ingest, brand_a):
    ours = MessageFactory(
        conversation__brand=brand_a,
        conversation__subject="Ihre Bestellung 4711",
        direction=Direction.OUTBOUND,
        sender_address="support@laderthuis.nl",
        message_id="<bestellung-4711@laderthuis.nl>",
    )

    result = ingest(
        mail(
            subject="Was anderes",
            message_id="<antwort@kunde.example>",
            extra="In-Reply-To: <bestellung-4711@laderthuis.nl>\n",
        ),
        brand=brand_a,
    )

    assert result.outcome == "threaded"
    assert result.conversation == ours.conversation
    assert ours.conversation.messages.count() == 2


@pytest.mark.parametrize("status", [Status.ARCHIVED, Status.CLOSED, Status.PENDING])
def test_a_new_message_updates_the_conversation(ingest, brand_a, settings, status):
    first = ingest(mail(date="Fri, 20 Nov 2026 09:00:00 +0000"), brand=brand_a)
    conversation = first.conversation
    assert conversation.response_due_at == conversation.last_message_at + timedelta(
        hours=settings.SLA_HOURS["normal"]
    )
    conversation.status = status
    conversation.unread = False
    conversation.response_due_at = None  # answered
    conversation.save()

    ingest(
        mail(
            subject="Re: Frage zur Wallbox",
            message_id="<q2@beispiel.de>",
            body="> alt\nNoch eine Frage!",
            date="Fri, 20 Nov 2026 11:00:00 +0000",
            extra="In-Reply-To: <q1@beispiel.de>\n",
        ),
        brand=brand_a,
    )

    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN
    assert conversation.unread
    assert conversation.message_count == 2
    assert conversation.last_message_at.isoformat() == "2026-11-20T11:00:00+00:00"
    assert conversation.snippet == "Noch eine Frage!"
    assert conversation.response_due_at == conversation.last_message_at + timedelta(hours=24)


def test_an_older_message_does_not_move_the_conversation_back(ingest, brand_a):
    ingest(mail(date="Fri, 20 Nov 2026 12:00:00 +0000"), brand=brand_a)

    ingest(
        mail(
            message_id="<spaet@b.de>",
            body="Verspätet zugestellt",
            date="Fri, 20 Nov 2026 08:00:00 +0000",
            extra="In-Reply-To: <q1@beispiel.de>\n",
        ),
        brand=brand_a,
    )

    conversation = Conversation.objects.get()
    assert conversation.last_message_at.isoformat() == "2026-11-20T12:00:00+00:00"
    assert conversation.snippet == "Guten Tag, eine Frage."


def test_a_date_in_the_future_counts_as_now(ingest, brand_a):
    ingest(mail(date="Fri, 27 Nov 2026 10:00:00 +0000"), brand=brand_a)  # two days after NOW

    conversation = Conversation.objects.get()
    assert conversation.last_message_at == NOW == timezone.now()


def test_the_sender_classifies_and_it_is_marked_automatic(ingest, brand_a):
    customer = CustomerFactory(brand=brand_a, email="juergen.mueller@kunde-gmbh.de")

    ingest(eml("01_plain_utf8_umlauts.eml"), brand=brand_a)
    ingest(eml("08_newsletter_list_unsubscribe.eml"), brand=brand_a)
    ingest(eml("15_auto_generated.eml"), brand=brand_a)
    ingest(eml("09_forwarded_nested_rfc822.eml"), brand=brand_a)  # kollege@laderthuis.nl
    ingest(eml("12_thread_subject_1.eml"), brand=brand_a)

    by_sender = {c.counterpart: c for c in Conversation.objects.all()}
    kunde = by_sender["juergen.mueller@kunde-gmbh.de"]
    assert (kunde.classification, kunde.customer, kunde.classified_automatically) == (
        Classification.CUSTOMER,
        customer,
        True,
    )
    assert by_sender["news@elektro-newsletter.example"].classification == Classification.NEWSLETTER
    assert by_sender["noreply@portal.example"].classification == Classification.NEWSLETTER
    assert by_sender["kollege@laderthuis.nl"].classification == Classification.INTERNAL
    unknown = by_sender["monika.vogel@vogel-bau.de"]
    assert (unknown.classification, unknown.classified_automatically) == ("", False)
    change = ClassificationChange.objects.get(conversation=kunde)
    assert change.automatic and change.to_customer == customer and change.changed_by is None


def test_a_manual_classification_is_not_overwritten_by_a_reply(ingest, brand_a):
    first = ingest(eml("08_newsletter_list_unsubscribe.eml"), brand=brand_a)
    conversation = first.conversation
    conversation.classification = Classification.ADVERTISING
    conversation.classified_automatically = False
    conversation.save()

    ingest(
        mail(
            sender="news@elektro-newsletter.example",
            message_id="<nl-124@x>",
            extra="In-Reply-To: <nl-123@elektro-newsletter.example>\nList-Id: <x>\n",
        ),
        brand=brand_a,
    )

    conversation.refresh_from_db()
    assert conversation.classification == Classification.ADVERTISING
    assert conversation.classification_changes.count() == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a\x00b <x@y.de>\nSubject: NUL\x00im Betreff\nMessage-ID: <n\x00ul@x>\n\nText\x00\n",
        "From: Jörg <jörg@bücher.example>\nSubject: Grüße\n\nÄ\n".encode("latin-1"),
        b"From: x@y.de\nSubject: =?utf-8?b?/w==?= \xff\xfe\nTo: \xc3\x28@x.de\n\n\xed\xa0\x80\n",
        b"From: x@y.de\nSubject: "
        + b"Lang " * 400
        + b"\nMessage-ID: <"
        + b"m" * 2000
        + b"@x>\n\nx\n",
        b"From: " + b"a" * 300 + b"@" + b"b" * 300 + b".de\nSubject: lange Adresse\n\nx\n",
        b"From: x@y.de\nReferences: " + b" ".join(b"<r%d@x>" % i for i in range(300)) + b"\n\nx\n",
        b"",
        b"\x00\x01\x02\xff",
    ],
    ids=[
        "nul",
        "latin1-8bit",
        "broken-utf8",
        "long-headers",
        "long-address",
        "many-refs",
        "empty",
        "binary",
    ],  # fmt: skip
)
def test_hostile_input_is_stored_and_never_raises(ingest, brand_a, raw):
    result = ingest(raw, brand=brand_a)

    assert result.outcome in ("new", "flagged")
    assert bytes(RawEmail.objects.get().data) == raw
    message = Message.objects.get()
    assert message.raw_id == result.raw.pk
    assert "\x00" not in message.text + message.subject


def test_a_reply_from_a_sender_known_by_now_classifies_the_conversation(ingest, brand_a):
    first = ingest(mail(), brand=brand_a)
    assert first.conversation.classification == ""
    customer = CustomerFactory(brand=brand_a, email="kunde@beispiel.de")

    ingest(
        mail(message_id="<q2@beispiel.de>", extra="In-Reply-To: <q1@beispiel.de>\n"),
        brand=brand_a,
    )

    conversation = Conversation.objects.get()
    assert (conversation.classification, conversation.customer) == (
        Classification.CUSTOMER,
        customer,
    )
    assert conversation.message_count == 2
    assert conversation.classification_changes.get().to_customer == customer
