from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from kommunikation.automation.loading import export_rules
from kommunikation.automation.models import AutomationRule


class Command(BaseCommand):
    help = "Write the automation rules as YAML (the format load_rules reads) to stdout or FILE."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", nargs="?", type=Path)
        parser.add_argument("--brand", help="Slug: only this brand's rules.")

    def handle(self, *args, file: Path | None, brand: str | None, **options) -> None:
        rules = AutomationRule.objects.select_related("brand")
        if brand:
            rules = rules.filter(brand__slug=brand)
        text = export_rules(rules)
        if file is None:
            self.stdout.write(text, ending="")
        else:
            file.write_text(text, encoding="utf-8")
            self.stdout.write(f"{rules.count()} Regeln nach {file} geschrieben.")
