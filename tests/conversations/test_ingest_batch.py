"""The batch path: messages of one batch dedupe and thread into each other, in order, with
the same outcome as one by one; a batch that cannot be stored is retried one by one."""

from __future__ import annotations

import pytest
from django.core.files.storage import FileSystemStorage

from conversations.benchmarks import generate_emails
from conversations.ingest import batched, ingest_raw_email, ingest_raw_emails
from conversations.models import (
    Attachment,
    Classification,
    ClassificationChange,
    Conversation,
    Message,
    RawEmail,
    SenderRule,
)
from tests.conftest import DATA, NOW
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW)]

EMAILS = DATA / "emails"


def eml(name: str) -> bytes:
    return (EMAILS / name).read_bytes()


def mail(*, message_id: str, subject="Frage zur Wallbox", body="Eine Frage.", extra="") -> bytes:
    return (
        "From: Kunde <kunde@beispiel.de>\nTo: support@laderthuis.nl\n"
        f"Subject: {subject}\nDate: Fri, 20 Nov 2026 10:00:00 +0100\nMessage-ID: {message_id}\n"
        f"{extra}Content-Type: text/plain; charset=utf-8\n\n{body}\n"
    ).encode()


def batch(raws: list[bytes], brand, **kwargs) -> list[str]:
    items = [(raw, f"test#{n}") for n, raw in enumerate(raws)]
    return [r.outcome for r in ingest_raw_emails(items, brand=brand, **kwargs)]


def test_replies_thread_into_messages_earlier_in_the_same_batch(brand_a):
    names = [
        "01_plain_utf8_umlauts.eml",
        "12_thread_subject_1.eml",
        "13_thread_refs_1.eml",
        "02_reply_outlook_aw.eml",  # In-Reply-To the first
        "12_thread_subject_2.eml",  # only the subject
        "13_thread_refs_2.eml",
        "03_reply_re_aw_no_headers.eml",
        "12_thread_subject_3.eml",
        "13_thread_refs_3.eml",
    ]

    outcomes = batch([eml(n) for n in names], brand_a)

    assert outcomes == ["new"] * 3 + ["threaded"] * 6
    assert sorted(Conversation.objects.values_list("message_count", flat=True)) == [3, 3, 3]
    first = Message.objects.get(raw__source="test#0").conversation
    assert set(first.messages.values_list("raw__source", flat=True)) == {
        "test#0",
        "test#3",
        "test#6",
    }


def test_a_reply_in_the_batch_joins_a_conversation_stored_before(brand_a):
    ingest_raw_email(mail(message_id="<q1@b.de>"), brand=brand_a)

    outcomes = batch(
        [
            mail(message_id="<q2@b.de>", subject="AW: egal", extra="In-Reply-To: <q1@b.de>\n"),
            mail(message_id="<q3@b.de>", subject="AW: egal", extra="In-Reply-To: <q2@b.de>\n"),
            mail(message_id="<q4@b.de>", subject="Re: Frage zur Wallbox", body="Nachtrag"),
        ],
        brand_a,
    )

    assert outcomes == ["threaded", "threaded", "threaded"]
    conversation = Conversation.objects.get()
    assert conversation.message_count == 4
    assert conversation.snippet == "Nachtrag"


def test_duplicates_within_a_batch_are_stored_once(brand_a):
    first = mail(message_id="<d1@b.de>")
    other = mail(message_id="<d1@b.de>", body="Ganz anderer Inhalt")

    outcomes = batch([first, first, b"Received: from mx2\n" + first, other, other, first], brand_a)

    assert outcomes == ["new", "duplicate", "duplicate", "flagged", "duplicate", "duplicate"]
    assert RawEmail.objects.count() == Message.objects.count() == 2
    flagged = Message.objects.get(flagged=True)
    assert "Message-ID schon vorhanden" in flagged.flag_reason
    assert "Ganz anderer Inhalt" in flagged.text
    results = list(ingest_raw_emails([(first, ""), (other, "")], brand=brand_a))
    assert [r.outcome for r in results] == ["duplicate", "duplicate"]
    assert {r.raw.pk for r in results} == set(RawEmail.objects.values_list("pk", flat=True))


class BrokenStorage(FileSystemStorage):
    """Storage that fails like a full disk. Not our code: a Django storage backend."""

    def _save(self, name, content):
        raise OSError("Kein Platz mehr auf dem Gerät")


def test_a_batch_that_cannot_be_stored_is_retried_one_by_one(brand_a, settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": f"{__name__}.BrokenStorage"}}
    raws = [
        mail(message_id="<f1@b.de>"),
        eml("06_attachments_umlaut_filenames.eml"),  # its attachment cannot be written
        mail(message_id="<f2@b.de>", subject="AW: x", extra="In-Reply-To: <f1@b.de>\n"),
    ]

    outcomes = batch(raws, brand_a)

    assert outcomes == ["new", "flagged", "threaded"]
    assert RawEmail.objects.count() == 3
    broken = Message.objects.get(flagged=True)
    assert "Kein Platz mehr" in broken.flag_reason and broken.raw.source == "test#1"
    assert broken.conversation.flagged and broken.conversation.message_count == 1
    assert Conversation.objects.get(flagged=False).message_count == 2
    assert Attachment.objects.count() == 0


def test_a_batch_of_many_needs_few_queries(brand_a, django_assert_max_num_queries):
    raws = generate_emails(150, seed=5, domain="laderthuis.nl")

    with django_assert_max_num_queries(30):  # SQLite splits bulk inserts
        outcomes = batch(raws, brand_a, batch_size=200)

    assert len(outcomes) == 150 and "flagged" not in outcomes
    assert Message.objects.count() == 150


def test_a_batch_ends_at_its_count_or_once_its_bytes_add_up():
    sizes = [1, 1, 1, 1, 1, 50, 1, 30, 30, 1]

    batches = list(batched([b"x" * n for n in sizes], size=4, max_bytes=60))

    assert [[len(raw) for raw in b] for b in batches] == [[1, 1, 1, 1], [1, 50, 1, 30], [30, 1]]
    assert list(batched([], size=4)) == []


def _corpus() -> list[bytes]:
    """Realistic mail with everything the batch must get right between its messages."""
    raws = generate_emails(160, seed=7, domain="laderthuis.nl")
    raws += [eml(p.name) for p in sorted(EMAILS.glob("*.eml"))]
    raws.insert(40, raws[10])  # the same bytes again, later
    raws.insert(90, b"Received: from mx9\n" + raws[20])  # the same message via another relay
    raws.insert(100, raws[30].replace(b"\n\n", b"\n\nNachtrag: ", 1))  # same ID, new content
    raws.insert(120, b"\x00\x01\x02\xff")
    return raws


def _picture() -> dict:
    """What the inbox looks like, independent of primary keys."""

    def key(message: Message) -> str:
        return message.message_id or message.raw.sha256

    conversations = []
    for conversation in Conversation.objects.all():
        messages = list(conversation.messages.select_related("raw").order_by("id"))
        conversations.append(
            (
                tuple(key(m) for m in messages),
                conversation.message_count,
                conversation.classification,
                conversation.customer_id,
                conversation.classified_automatically,
                conversation.flagged,
                conversation.snippet,
                conversation.subject_key,
                conversation.counterpart,
                conversation.classification_changes.count(),
                sorted(Attachment.objects.filter(message__in=messages).values_list("sha256")),
                [(m.flagged, m.flag_reason, m.raw.state, m.raw.error, m.sent_at) for m in messages],
            )
        )
    return {
        "conversations": sorted(conversations, key=repr),
        "raw": sorted(RawEmail.objects.values_list("sha256", "state", "message_id")),
    }


def test_a_batch_gives_the_same_inbox_as_one_message_after_the_other(brand_a):
    customer = CustomerFactory(brand=brand_a, email="juergen.mueller@kunde-gmbh.de")
    SenderRule.objects.create(
        brand=brand_a,
        kind=SenderRule.Kind.DOMAIN,
        pattern="elektro-newsletter.example",
        classification=Classification.ADVERTISING,
    )
    raws = _corpus()

    one_by_one = [ingest_raw_email(raw, brand=brand_a, source="x").outcome for raw in raws]
    expected = _picture()
    Conversation.objects.filter(brand=brand_a).delete()
    RawEmail.objects.filter(brand=brand_a).delete()

    in_batches = batch(raws, brand_a, batch_size=37)  # replies across batches too

    assert in_batches == one_by_one
    assert _picture() == expected
    assert {"new", "threaded", "duplicate", "flagged"} <= set(in_batches)
    assert Conversation.objects.filter(customer=customer).exists()
    assert ClassificationChange.objects.filter(to_classification="advertising").exists()
