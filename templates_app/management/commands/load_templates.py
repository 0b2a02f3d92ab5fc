from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from templates_app.loading import LibraryError, load_library


class Command(BaseCommand):
    help = "Lädt die Vorlagenbibliothek (YAML) – wiederholbar: Unverändertes bleibt, Geändertes wird eine neue Version."

    def add_arguments(self, parser):
        parser.add_argument(
            "files", nargs="*", type=Path, help="YAML-Dateien (Standard: die ganze Bibliothek)"
        )

    def handle(self, *args, files: list[Path], **options):
        try:
            stats = load_library(files or None)
        except LibraryError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(str(stats))
