from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from kommunikation.dispatch import dispatch_until_empty


class Command(BaseCommand):
    help = (
        "Sendet fällige Nachrichten aus dem Ausgang (mit --once: ein Durchlauf, sonst fortlaufend)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="einmal alles Fällige senden")
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--interval", type=float, default=5.0, help="Sekunden zwischen Läufen")

    def handle(self, *args, once: bool, batch_size: int | None, interval: float, **options):
        while True:
            result = dispatch_until_empty(limit=batch_size)
            self.stdout.write(
                f"{result.sent} gesendet, {result.deferred} verschoben, "
                f"{result.refused} abgelehnt, {result.failed} fehlgeschlagen, "
                f"{result.retried} später erneut, "
                f"{result.lost} an einen anderen Worker verloren"
            )
            if once:
                return
            time.sleep(interval)
