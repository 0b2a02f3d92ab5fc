"""The daily print batch for brands that print their letters themselves.

One PDF per brand and day: a cover sheet listing the letters (recipient, customer
number, subject, pages), then every letter as it was rendered, merged with pypdf. The
letters are claimed for the batch in a short transaction first (two Team-Leads pressing
the button at once get one batch, not two), the PDF is built outside it, and the letters
are then marked sent on their thread entries' timelines. The batch is kept for download.
A brand whose letter connection prints "beidseitig" (duplex) gets a batch in which every
letter starts on a new sheet.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import weasyprint
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from pypdf import PdfReader, PdfWriter

from kommunikation.letters.connection import letter_config
from kommunikation.letters.models import Letter, PostalStatus, PrintBatch
from kommunikation.letters.services import apply_postal_status
from kommunikation.models import BusinessEntity

_FETCHER = weasyprint.URLFetcher(allowed_protocols={"data"}, timeout=1)


def day_end(day: dt.date) -> dt.datetime:
    """The first moment after `day` in the project's time zone (Europe/Berlin)."""
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))


def ready_letters(brands, *, day: dt.date):
    """Letters waiting for the print batch of `day`: that day's, and any left from before."""
    return (
        Letter.objects.ready_to_print()
        .for_brands(brands)
        .filter(created_at__lt=day_end(day))
        .select_related("brand", "outbound__message")
        .order_by("brand__name", "created_at", "id")
    )


def cover_sheet(batch: PrintBatch, letters: list[Letter], *, duplex: bool = False) -> bytes:
    html = render_to_string(
        "kommunikation/print_cover.html",
        {
            "batch": batch,
            "letters": letters,
            "pages": sum(letter.pages for letter in letters),
            "duplex": duplex,
        },
    )
    return weasyprint.HTML(string=html, url_fetcher=_FETCHER, base_url=".").write_pdf()


def batch_pdf(
    batch: PrintBatch, letters: list[Letter], *, duplex: bool = False
) -> tuple[bytes, int]:
    """The batch as one PDF (cover sheet first) and its page count.

    `duplex` (the brand prints on both sides): every document gets an even number of
    pages, a blank back page after an odd one, so each letter starts on a new sheet
    and no letter is printed on the back of another customer's.
    """
    writer = PdfWriter()

    def add(pdf: bytes) -> None:
        # page by page: append() would also merge outlines and named destinations, which
        # the letters do not have, at several times the cost
        pages = PdfReader(io.BytesIO(pdf)).pages
        for page in pages:
            writer.add_page(page)
        if duplex and len(pages) % 2:
            writer.add_blank_page()  # the size of the page before it

    add(cover_sheet(batch, letters, duplex=duplex))
    for letter in letters:
        with letter.pdf.open("rb") as handle:
            add(handle.read())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), len(writer.pages)


def _claim(brand: BusinessEntity, day: dt.date, user, now: dt.datetime):
    with transaction.atomic():
        waiting = ready_letters([brand], day=day)
        if connection.features.has_select_for_update_skip_locked:
            waiting = waiting.select_for_update(skip_locked=True, of=("self",))
        letters = list(waiting)
        if not letters:
            return None, []
        batch = PrintBatch.objects.create(
            brand=brand, day=day, created_by=user, created_at=now, letter_count=len(letters)
        )
        Letter.objects.filter(pk__in=[letter.pk for letter in letters]).update(batch=batch)
    return batch, letters


def make_print_batch(
    *, brand: BusinessEntity, day: dt.date, user=None, now: dt.datetime | None = None
) -> PrintBatch | None:
    """Merge the brand's ready letters of `day` into one kept PDF and mark them sent;
    None when no letter is waiting."""
    now = now or timezone.now()
    batch, letters = _claim(brand, day, user, now)
    if batch is None:
        return None
    duplex = letter_config(brand).print_mode == "duplex"
    try:
        pdf, pages = batch_pdf(batch, letters, duplex=duplex)
    except Exception:
        # nothing printed: the letters wait for the next batch
        Letter.objects.filter(batch=batch).update(batch=None)
        batch.delete()
        raise
    batch.file.save(
        f"druckstapel-{brand.slug}-{day:%Y-%m-%d}-{batch.pk}.pdf", ContentFile(pdf), save=False
    )
    batch.page_count, batch.size = pages, len(pdf)
    batch.save(update_fields=["file", "page_count", "size"])
    detail = _("Druckstapel vom %(day)s") % {"day": f"{day:%d.%m.%Y}"}
    for letter in letters:
        apply_postal_status(letter, PostalStatus.SENT, at=now, detail=detail, row=letter.outbound)
    return batch


@dataclass
class PrintSummary:
    batches: list[PrintBatch]

    @property
    def letters(self) -> int:
        return sum(batch.letter_count for batch in self.batches)

    @property
    def pages(self) -> int:
        return sum(batch.page_count for batch in self.batches)


def print_all(*, day: dt.date, brands=None, user=None) -> PrintSummary:
    """A batch for every brand (of `brands`) with letters waiting."""
    brands = BusinessEntity.objects.all() if brands is None else brands
    waiting = ready_letters(brands, day=day).values_list("brand_id", flat=True).distinct()
    batches = []
    for brand in BusinessEntity.objects.filter(pk__in=set(waiting)).order_by("name"):
        batch = make_print_batch(brand=brand, day=day, user=user)
        if batch is not None:
            batches.append(batch)
    return PrintSummary(batches)
