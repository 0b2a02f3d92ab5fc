from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kommunikation.automation.loading import DEFAULT_FILE, RuleLoadError, load_rules_file
from kommunikation.models import BusinessEntity


class Command(BaseCommand):
    help = (
        "Load automation rules from YAML (seed 002's status_triggers or the rules: format); "
        "existing keys are kept unless --replace."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
        parser.add_argument("--brand", help="Slug: the rules apply to this brand only.")
        parser.add_argument("--replace", action="store_true", help="Overwrite existing keys.")

    def handle(self, *args, file: Path, brand: str | None, replace: bool, **options) -> None:
        target = None
        if brand:
            target = BusinessEntity.objects.filter(slug=brand).first()
            if target is None:
                raise CommandError(f"Unknown brand {brand!r}.")
        if not file.exists():
            raise CommandError(f"{file}: no such file.")
        try:
            stats = load_rules_file(file, brand=target, replace=replace)
        except RuleLoadError as exc:
            raise CommandError("\n".join(exc.errors)) from None
        self.stdout.write(f"{file.name}: {stats}")
