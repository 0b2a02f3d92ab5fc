from __future__ import annotations

from django.core.management.base import BaseCommand

from conversations.models import Conversation
from conversations.workflow import refresh_response_due


class Command(BaseCommand):
    help = (
        "Setzt die Antwortfrist aller Konversationen neu: nur wo eine Antwort geschuldet "
        "ist (offen, von Kunde, Lieferant oder unbekanntem Absender, letzte Nachricht vom "
        "Gegenüber); sonst wird sie entfernt. Laufende Fristen bleiben."
    )

    def handle(self, *args, **options):
        refresh_response_due(Conversation.objects.all())
        due = Conversation.objects.filter(response_due_at__isnull=False).count()
        self.stdout.write(f"{due} Konversationen mit Antwortfrist.")
