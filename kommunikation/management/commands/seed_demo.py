from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from conversations.models import Conversation
from kommunikation.demo import seed_demo


class Command(BaseCommand):
    help = (
        "Legt Demodaten an: die fünf Marken des ChargeCars-Seeds mit Postfächern, Mitarbeitenden "
        "(ohne nutzbares Passwort), Kunden, Lieferanten und Konversationen aller Klassifizierungen. "
        "Gleicher --seed auf leerer Datenbank ergibt dieselben Daten. Auf einer Datenbank mit "
        "Konversationen bricht der Befehl ab, außer mit --append (dann kommen weitere dazu; "
        "gelöscht wird nie etwas)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--conversations", type=int, default=600, help="Anzahl Konversationen (600)"
        )
        parser.add_argument(
            "--seed", type=int, default=42, help="Startwert des Zufallsgenerators (42)"
        )
        parser.add_argument(
            "--append",
            action="store_true",
            help="auch dann anlegen, wenn schon Konversationen da sind",
        )
        parser.add_argument(
            "--batch-size", type=int, default=2000, help="Zeilen je INSERT-Stapel (2000)"
        )

    def handle(
        self, *args, conversations: int, seed: int, append: bool, batch_size: int, **options
    ):
        if conversations < 1:
            raise CommandError("--conversations muss mindestens 1 sein.")
        if not append and Conversation.objects.exists():
            raise CommandError(
                "Die Datenbank enthält schon Konversationen. Mit --append kommen Demodaten dazu."
            )
        verbose = options["verbosity"] > 1 or conversations >= 20_000
        summary = seed_demo(
            conversations=conversations,
            seed=seed,
            batch_size=batch_size,
            progress=(lambda text: self.stdout.write(text)) if verbose else None,
        )
        self.stdout.write(self.style.SUCCESS(f"Demodaten angelegt: {summary.line()}"))
