from __future__ import annotations

from django.core.management.base import BaseCommand

from kommunikation.fallback import fallback_undelivered


class Command(BaseCommand):
    help = "Nicht zugestellte Nachrichten nach ihrer Wartezeit mit dem nächsten Kanal versuchen."

    def handle(self, *args, **options):
        self.stdout.write(str(fallback_undelivered()))
