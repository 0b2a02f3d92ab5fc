"""The print-batch bench: 100 self-printed letters through the outbox, then one batch.

The letters go the real way (outbox, dispatch, DIN 5008 PDF, thread entry with the PDF)
on a throwaway brand; what is measured is ``make_print_batch``: the cover sheet, the
merge of the letters' PDFs and marking each letter sent on its timeline. The brand is
deleted with all its data (and files) afterwards.
"""

from __future__ import annotations

import time
import uuid

from django.test import override_settings
from django.utils import timezone

from conversations.models import Conversation
from kommunikation.dispatch import dispatch_until_empty
from kommunikation.letters.models import Letter, PrintBatch
from kommunikation.letters.printing import make_print_batch
from kommunikation.models import BusinessEntity, Customer, OutboundMessage
from kommunikation.outbox import enqueue_outbound

BODY = (
    "Sehr geehrte Damen und Herren,\n\nunsere Rechnung ist seit 14 Tagen fällig. Bitte "
    "überweisen Sie den offenen Betrag bis zum genannten Datum.\n\nMit freundlichen Grüßen"
)


def print_batch_bench(n: int = 100) -> list[tuple[str, float, str]]:
    """(metric, value, unit) rows for a print batch of n letters."""
    slug = f"bench-brief-{uuid.uuid4().hex[:8]}"
    brand = BusinessEntity.objects.create(
        name="Bench Briefe", slug=slug, street="Beispielweg 1", postal_code="10115", city="Berlin"
    )
    try:
        with override_settings(LETTER_MODE="selfprint"):
            for i in range(n):
                customer = Customer.objects.create(
                    brand=brand, number=f"K-{i:05d}", first_name="Kundin", last_name=f"Nr. {i}",
                    street=f"Hauptstraße {i + 1}", postal_code="10115", city="Berlin",
                )  # fmt: skip
                # every fifth letter is longer: two pages
                text = BODY + ("\n\nWeitere Einzelheiten zur Forderung." * 45 if i % 5 == 0 else "")
                enqueue_outbound(
                    brand=brand, customer=customer, channels="letter", category="transactional",
                    idempotency_key=f"{slug}:{i}", source="system",
                    subject=f"Zahlungserinnerung RE-{i:05d}", text=text, trigger=False,
                )  # fmt: skip
            started = time.perf_counter()
            dispatch_until_empty()
            rendered = time.perf_counter() - started
            started = time.perf_counter()
            batch = make_print_batch(brand=brand, day=timezone.localdate())
            seconds = time.perf_counter() - started
        assert batch is not None and batch.letter_count == n
        return [
            (f"{n} Briefe ausgeben und rendern (Ausgang)", round(rendered, 2), "s"),
            (f"Druckstapel mit {n} Briefen", round(seconds, 2), "s"),
            (f"Druckstapel mit {n} Briefen: Seiten", batch.page_count, ""),
            (f"Druckstapel mit {n} Briefen: Größe", round(batch.size / 1e6, 2), "MB"),
        ]
    finally:
        for letter in Letter.objects.filter(brand=brand):
            letter.pdf.delete(save=False)
        for batch in PrintBatch.objects.filter(brand=brand):
            batch.file.delete(save=False)
        Conversation.objects.filter(brand=brand).delete()
        OutboundMessage.objects.filter(brand=brand).delete()
        Customer.objects.filter(brand=brand).delete()
        brand.delete()
