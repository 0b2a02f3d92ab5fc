from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from conversations.ingest import IngestContext, IngestStats, ingest_raw_emails
from conversations.sources import Skipped, iter_raw_emails
from kommunikation.services import default_brand, resolve_brand

# names of skipped files listed in the summary; all of them go to stderr
SKIPPED_SHOWN = 5


class Command(BaseCommand):
    help = (
        "Liest E-Mails aus .eml-Dateien, mbox-Dateien, Maildir-Ordnern und Verzeichnissen ein "
        "(ohne --brand: jede in die Marke ihres Empfängers)."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        parser.add_argument(
            "--brand", help="Kürzel der Marke für alle Nachrichten (Standard: nach Empfänger)"
        )
        parser.add_argument(
            "--fallback-brand",
            help="Kürzel der Marke für Nachrichten ohne passenden Empfänger "
            "(Standard: die erste Marke)",
        )

    def handle(
        self,
        *args,
        paths: list[Path],
        brand: str | None,
        fallback_brand: str | None,
        verbosity: int,
        **options,
    ):
        # a broken symlink or a symlink loop given by name is skipped like one found below
        missing = [str(p) for p in paths if not p.is_symlink() and not p.exists()]
        if missing:
            raise CommandError(f"Nicht gefunden: {', '.join(missing)}")
        target = resolve_brand(brand) if brand else None
        fallback = resolve_brand(fallback_brand) if fallback_brand else default_brand()
        context = IngestContext(fallback_brand=fallback)
        stats = IngestStats()
        skipped: list[Skipped] = []
        items = ((raw, source) for path in paths for source, raw in iter_raw_emails(path, skipped))
        for result in ingest_raw_emails(items, brand=target, context=context):
            stats.add(result)
            if result.outcome == "flagged" and verbosity >= 1:
                self.stderr.write(f"markiert: {result.raw.source}: {result.reason}")
        for item in skipped:
            self.stderr.write(_("übersprungen: %(path)s: %(reason)s") % vars(item))
        self.stdout.write(self._summary(stats, skipped, target=target, fallback=fallback))

    def _summary(self, stats: IngestStats, skipped: list[Skipped], *, target, fallback) -> str:
        line = f"{stats.summary()} ({stats.total} gelesen)"
        if target is not None:
            line = f"{target.name}: {line}"
        elif len(stats.by_brand) <= 1:
            line = f"{next(iter(stats.by_brand), fallback.name)}: {line}"
        else:
            brands = ", ".join(f"{name} {n}" for name, n in sorted(stats.by_brand.items()))
            line += "; " + _("nach Marke: %(brands)s") % {"brands": brands}
        if target is None and stats.unrouted:
            line += "; " + _("%(n)d ohne passende Marke → %(brand)s") % {
                "n": stats.unrouted,
                "brand": fallback.name,
            }
        if skipped:
            names = ", ".join(item.path for item in skipped[:SKIPPED_SHOWN])
            if len(skipped) > SKIPPED_SHOWN:
                names += ", …"
            line += "; " + ngettext(
                "%(n)d übersprungen (keine lesbare Datei): %(names)s",
                "%(n)d übersprungen (keine lesbaren Dateien): %(names)s",
                len(skipped),
            ) % {"n": len(skipped), "names": names}
        return line
