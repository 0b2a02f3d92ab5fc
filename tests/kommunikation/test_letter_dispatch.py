"""Letters through the outbox: rendered to PDF, sent (Pingen) or held (self-print), and in
the customer's thread with the PDF attached and the postal status on the timeline."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from conversations.models import Message
from kommunikation.dispatch import dispatch_batch
from kommunikation.letters.models import Letter
from kommunikation.models import OutboundStatus
from tests.kommunikation.letters_helpers import (
    LETTER_ID,
    _fresh_tokens,  # noqa: F401  (autouse)
    enqueue_letter,
    letter_customer,
    pingen_brand,
    serve_pingen,
)
from tests.templates_app.conftest import make_template

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine("2026-11-25 12:00 +01:00")]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def timeline(message: Message) -> list[tuple[str, str]]:
    return [(c.status, c.detail) for c in message.status_changes.all()]


def test_a_letter_through_pingen_is_in_the_thread_with_its_pdf(httpserver, brand_a):
    pingen_brand(brand_a, httpserver)
    serve_pingen(httpserver)
    row = enqueue_letter(letter_customer(brand_a))

    result = dispatch_batch()

    assert (result.claimed, result.sent, result.failed) == (1, 1, 0)
    row.refresh_from_db()
    assert (row.status, row.provider_id) == (OutboundStatus.SENT, LETTER_ID)
    assert row.recipient == "Hauptstraße 12, 10115 Berlin"
    message = row.message
    assert (message.channel, message.direction, message.status) == ("letter", "out", "sent")
    assert message.conversation.customer == row.customer
    assert [status for status, _detail in timeline(message)] == ["queued", "sent"]
    (attachment,) = message.attachments.all()
    assert (attachment.filename, attachment.content_type) == (
        f"brief-{row.pk}.pdf",
        "application/pdf",
    )
    text = pdf_text(attachment.file.read())
    assert "Anna Müller" in text and "Hauptstraße 12" in text
    assert "bitte begleichen Sie die offene Rechnung" in text
    assert Letter.objects.get(outbound=row).status == "submitted"


def test_a_self_printed_letter_waits_in_the_thread_until_it_is_printed(brand_a, settings):
    settings.LETTER_MODE = "selfprint"
    row = enqueue_letter(letter_customer(brand_a))

    assert dispatch_batch().sent == 1

    row.refresh_from_db()
    assert row.status == OutboundStatus.SENT  # handed to the print queue: the outbox is done
    message = row.message
    assert message.status == Message.State.QUEUED
    assert message.sent_at is None
    assert timeline(message) == [("queued", ""), ("queued", "zum Druck bereit")]
    assert message.attachments.get().file.read().startswith(b"%PDF")
    letter = Letter.objects.get(outbound=row)
    assert (letter.status, letter.mode) == ("ready", "selfprint")


def test_a_letter_template_goes_out_as_its_rendered_pdf(brand_a, settings):
    settings.LETTER_MODE = "selfprint"
    make_template(
        key="dunning_1", channel="letter", brand=brand_a, event_type="invoice.overdue",
        subject="1. Mahnung", letter_body="Bitte zahlen Sie bis morgen.",
    )  # fmt: skip
    row = enqueue_letter(
        letter_customer(brand_a), subject="", text="", template_key="dunning_1", context={}
    )
    assert dispatch_batch().sent == 1
    row.refresh_from_db()
    assert "Bitte zahlen Sie bis morgen." in pdf_text(row.message.attachments.get().file.read())
    assert Letter.objects.get(outbound=row).subject == "1. Mahnung"


def test_a_customer_without_a_postal_address_gets_no_letter(brand_a, settings):
    settings.LETTER_MODE = "selfprint"
    row = enqueue_letter(letter_customer(brand_a, street="", city=""))
    assert dispatch_batch().failed == 1
    row.refresh_from_db()
    assert row.status == OutboundStatus.FAILED
    assert not Letter.objects.exists()


def test_the_letter_pdf_is_stored_once_for_the_letter_and_its_thread_entry(brand_a, settings):
    from pathlib import Path

    settings.LETTER_MODE = "selfprint"
    row = enqueue_letter(letter_customer(brand_a))

    assert dispatch_batch().sent == 1

    row.refresh_from_db()
    letter = Letter.objects.get(outbound=row)
    attachment = row.message.attachments.get()
    assert attachment.file.name == letter.pdf.name
    assert attachment.size == letter.pdf.size
    import hashlib

    assert attachment.sha256 == hashlib.sha256(letter.pdf.read()).hexdigest()
    stored = [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
    assert len(stored) == 1 and stored[0].read_bytes().startswith(b"%PDF")
