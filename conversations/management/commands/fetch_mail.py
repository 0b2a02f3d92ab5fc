from __future__ import annotations

from django.core.management.base import BaseCommand

from conversations.imap import fetch_all_mailboxes


class Command(BaseCommand):
    help = "Holt neue E-Mails per IMAP aus allen aktiven Postfächern (liest nur, löscht nichts)."

    def handle(self, *args, **options):
        results = fetch_all_mailboxes()
        for mailbox, stats in results:
            if stats.errors:
                self.stderr.write(f"{mailbox}: Fehler: {'; '.join(stats.errors)}")
            else:
                self.stdout.write(f"{mailbox}: {stats.summary()}")
        if not results:
            self.stdout.write("Keine Postfächer mit IMAP-Zugang eingerichtet.")
