from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from compliance.services import Actor
from kommunikation.models import OutboundMessage
from kommunikation.outbox import retry_outbound


class Command(BaseCommand):
    help = "Reiht fehlgeschlagene Nachrichten erneut ein (abgelehnte bleiben abgelehnt)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", help="nur seit diesem Zeitpunkt angelegte (YYYY-MM-DD oder ISO-Zeit)"
        )

    def handle(self, *args, since: str | None, **options):
        since_at = None
        if since:
            try:
                since_at = dt.datetime.fromisoformat(since)
            except ValueError:
                raise CommandError(f"--since: kein Datum: {since!r}") from None
            if timezone.is_naive(since_at):
                since_at = timezone.make_aware(since_at)
        count = retry_outbound(
            OutboundMessage.objects.all(), since=since_at, actor=Actor(label="retry_failed")
        )
        self.stdout.write(f"{count} Nachrichten erneut eingereiht")
