from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kommunikation.events.scans import SCANS, run_scans


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            _("Kein Datum im Format JJJJ-MM-TT: %(value)s") % {"value": value}
        ) from None


class Command(BaseCommand):
    help = (
        "Führt die täglichen Scans aus (Geburtstage, Jubiläen, saisonale Grüße, inaktive Kunden, "
        "keine Antwort) und erfasst ihre Ereignisse; ein zweiter Lauf erfasst nichts doppelt."
    )

    def add_arguments(self, parser):
        parser.add_argument("--only", choices=list(SCANS), help="nur dieser Scan")
        parser.add_argument(
            "--date", type=_day, default=None, help="Stichtag JJJJ-MM-TT (Standard: heute, Berlin)"
        )

    def handle(self, *args, only: str | None, date: dt.date | None, **options):
        results = run_scans(only=only, day=date)
        for result in results:
            self.stdout.write(str(result))
        self.stdout.write(
            _("%(scans)s Scans, %(created)s Ereignisse neu erfasst.")
            % {"scans": len(results), "created": sum(r.created for r in results)}
        )
