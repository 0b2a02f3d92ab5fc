from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from conversations.ingest import IngestContext, IngestStats, ingest_raw_emails
from conversations.sources import iter_raw_emails
from kommunikation.services import default_brand, resolve_brand


class Command(BaseCommand):
    help = "Liest E-Mails aus .eml-Dateien, mbox-Dateien, Maildir-Ordnern und Verzeichnissen ein."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        parser.add_argument("--brand", help="Kürzel der Marke (Standard: die erste Marke)")

    def handle(self, *args, paths: list[Path], brand: str | None, verbosity: int, **options):
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise CommandError(f"Nicht gefunden: {', '.join(missing)}")
        target = resolve_brand(brand) if brand else default_brand()
        context = IngestContext()
        stats = IngestStats()
        items = ((raw, source) for path in paths for source, raw in iter_raw_emails(path))
        for result in ingest_raw_emails(items, brand=target, context=context):
            stats.add(result)
            if result.outcome == "flagged" and verbosity >= 1:
                self.stderr.write(f"markiert: {result.raw.source}: {result.reason}")
        self.stdout.write(f"{target.name}: {stats.summary()} ({stats.total} gelesen)")
