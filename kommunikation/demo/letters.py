"""Letters in the demo (issue 11 §3): two customers of the first brand with a postal address
get a letter in their thread with its DIN 5008 PDF: one sent through Pingen with its postal
status ("der Post übergeben"), one printed in the office in the day's print batch.

Nothing is sent anywhere: the letters are handed over as the dispatch worker does after the
letter channel accepted them (the same write-back puts them in the threads), and Pingen's
status arrives as its webhook would bring it.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from kommunikation.dispatch import Rendered, write_back_sent
from kommunikation.letters.models import LetterMode, PostalStatus
from kommunikation.letters.printing import make_print_batch
from kommunikation.letters.services import apply_postal_status, record_letter
from kommunikation.models import BusinessEntity, Customer, OutboundMessage, OutboundStatus
from kommunikation.outbox import enqueue_outbound
from templates_app.letters import letter_for_text

LETTERS = [
    (
        LetterMode.PINGEN,
        "Zahlungserinnerung RE-DEMO-0815",
        "leider konnten wir zu unserer Rechnung RE-DEMO-0815 vom 3. November noch keinen "
        "Zahlungseingang feststellen. Bitte überweisen Sie den Betrag von 249,00 € bis zum "
        "10. Dezember.\n\nSollten Sie bereits gezahlt haben, betrachten Sie dieses Schreiben "
        "bitte als gegenstandslos.",
    ),
    (
        LetterMode.SELFPRINT,
        "Ihre Garantieurkunde",
        "anbei erhalten Sie die Garantieurkunde zu Ihrer Wallbox. Bitte bewahren Sie sie "
        "gut auf; für einen Garantiefall genügt eine Kopie.",
    ),
]


def _hand_over(row: OutboundMessage, *, mode: str, subject: str, text: str, at: dt.datetime):
    """The letter channel's part and the worker's write-back, without a provider."""
    pdf = letter_for_text(brand=row.brand, customer=row.customer, subject=subject, text=text)
    customer = row.customer
    address = f"{customer.street}, {customer.postal_code} {customer.city}"
    token = uuid.uuid4()
    OutboundMessage.objects.filter(pk=row.pk).update(
        status=OutboundStatus.SENDING, claim_token=token, recipient=address,
        created_at=at - dt.timedelta(minutes=2),
    )  # fmt: skip
    row.refresh_from_db()
    letter = record_letter(
        outbound_id=row.pk, brand=row.brand, mode=mode, pdf=pdf, subject=subject,
        address=address, status=PostalStatus.SUBMITTED if mode == LetterMode.PINGEN
        else PostalStatus.READY,
        provider_id=f"demo-{uuid.uuid5(uuid.NAMESPACE_URL, row.idempotency_key)}"
        if mode == LetterMode.PINGEN else "",
    )  # fmt: skip
    row.provider_id = letter.provider_id or f"druck-{letter.pk}"
    row.sent_at = at
    write_back_sent([(row, Rendered(subject=subject, text=text, html="", pdf=pdf))])
    return letter


def seed_letter_demo(brand: BusinessEntity | None = None) -> int:
    """Two demo letters (idempotent: none when the brand has its demo letters); how many."""
    brand = brand or BusinessEntity.objects.order_by("pk").first()
    if brand is None:
        return 0
    customers = list(
        Customer.objects.customers()
        .filter(brand=brand)
        .exclude(street="")
        .exclude(city="")
        .order_by("pk")[: len(LETTERS)]
    )
    now = timezone.now()
    made = 0
    for n, (customer, (mode, subject, text)) in enumerate(zip(customers, LETTERS, strict=False)):
        key = f"demo-letter:{brand.slug}:{n}"
        if OutboundMessage.objects.filter(idempotency_key=key).exists():
            continue
        row = enqueue_outbound(
            brand=brand, channels="letter", category="transactional", idempotency_key=key,
            source="system", customer=customer, subject=subject, text=text, trigger=False,
        )  # fmt: skip
        # the Pingen letter went out yesterday, the one to print this morning
        at = now - (dt.timedelta(days=1) if mode == LetterMode.PINGEN else dt.timedelta(hours=3))
        letter = _hand_over(row, mode=mode, subject=subject, text=text, at=at)
        if mode == LetterMode.PINGEN:
            # Pingen's webhooks of the hours after: accepted, printed, handed to the post
            for hours, status in ((1, PostalStatus.ACCEPTED), (3, PostalStatus.PRINTING),
                                  (5, PostalStatus.SENT)):  # fmt: skip
                apply_postal_status(letter, status, at=at + dt.timedelta(hours=hours))
        made += 1
    if made:
        make_print_batch(brand=brand, day=timezone.localdate(now), now=now)
    return made
