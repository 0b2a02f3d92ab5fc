from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kommunikation.letters.printing import print_all
from kommunikation.models import BusinessEntity


def _day(value: str) -> dt.date:
    try:
        day, month, year = (int(part) for part in value.split("."))
        return dt.date(year, month, day)
    except ValueError:
        raise CommandError(f"--date erwartet TT.MM.JJJJ, nicht {value!r}") from None


class Command(BaseCommand):
    help = (
        "Fasst die druckbereiten Briefe eines Tages je Marke zu einem Druckstapel (ein PDF mit "
        "Deckblatt) zusammen und markiert sie als versendet."
    )

    def add_arguments(self, parser):
        parser.add_argument("--brand", help="nur diese Marke (Kürzel)")
        parser.add_argument("--date", type=_day, help="Drucktag TT.MM.JJJJ (heute)")

    def handle(self, *args, brand: str | None, date: dt.date | None, **options):
        brands = BusinessEntity.objects.all()
        if brand:
            brands = brands.filter(slug=brand)
            if not brands.exists():
                raise CommandError(f"Keine Marke mit dem Kürzel {brand!r}.")
        day = date or timezone.localdate()
        summary = print_all(day=day, brands=brands)
        for batch in summary.batches:
            self.stdout.write(
                f"{batch.brand.slug}: {batch.letter_count} Briefe, {batch.page_count} Seiten "
                f"-> {batch.file.name}"
            )
        self.stdout.write(
            f"{len(summary.batches)} Druckstapel für {day:%d.%m.%Y}: "
            f"{summary.letters} Briefe, {summary.pages} Seiten."
        )
