from __future__ import annotations

from django.core.management.base import BaseCommand

from conversations.workflow import wake_snoozed


class Command(BaseCommand):
    help = "Holt fällige Wiedervorlagen ungelesen und oben in die offene Liste zurück."

    def handle(self, *args, **options):
        self.stdout.write(f"{wake_snoozed()} Wiedervorlagen fällig.")
