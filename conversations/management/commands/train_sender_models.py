from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from conversations.learning import train_brand
from kommunikation.models import BusinessEntity


class Command(BaseCommand):
    help = "Baut das Lernmodell für neue Absender je Marke aus den von Menschen klassifizierten Konversationen neu auf."

    def add_arguments(self, parser):
        parser.add_argument("--marke", help="nur diese Marke (Kurzname)")

    def handle(self, *args, marke: str | None = None, **options):
        brands = BusinessEntity.objects.order_by("pk")
        if marke:
            brands = brands.filter(slug=marke)
            if not brands.exists():
                raise CommandError(f"Marke {marke!r} gibt es nicht.")
        count = 0
        for brand in brands:
            row = train_brand(brand)
            self.stdout.write(f"{brand.slug}: {row.documents} Konversationen gelernt")
            count += 1
        self.stdout.write(f"{count} Marken trainiert.")
