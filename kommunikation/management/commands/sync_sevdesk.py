from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from kommunikation.sevdesk.sync import sync_all


class Command(BaseCommand):
    help = (
        "Gleicht Kontakte, Rechnungen und Aufträge aus sevDesk ab (geänderte seit dem letzten "
        "Stand; --full: alle) und macht aus Änderungen Ereignisse."
    )

    def add_arguments(self, parser):
        parser.add_argument("--brand", help="nur diese Marke (Kürzel)")
        parser.add_argument(
            "--full", action="store_true", help="alles abfragen, nicht nur Änderungen"
        )

    def handle(self, *args, brand: str | None, full: bool, **options):
        results = sync_all(brand_slug=brand, full=full)
        if not results:
            raise CommandError(
                "Keine aktive sevDesk-Verbindung mit Token"
                + (f" für die Marke {brand}" if brand else "")
                + "."
            )
        for result in results:
            (self.stderr if result.error else self.stdout).write(result.summary())
        failed = sum(1 for r in results if r.error)
        self.stdout.write(f"{len(results)} Verbindungen abgeglichen, {failed} mit Fehler.")
        if failed:
            raise CommandError(f"{failed} sevDesk-Verbindung(en) mit Fehler.")
