from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db.models import Count
from django.utils import timezone

from kommunikation.models import OutboundMessage, OutboundStatus, SendChannel


class Command(BaseCommand):
    help = (
        "Zeigt den Ausgang: Anzahl nach Status und Kanal, älteste fällige Nachricht, Fehlergründe."
    )

    def handle(self, *args, **options):
        rows = OutboundMessage.objects.all()
        counts = (
            rows.values("status", "channel").annotate(n=Count("id")).order_by("status", "channel")
        )
        statuses, channels = dict(OutboundStatus.choices), dict(SendChannel.choices)
        for item in counts:
            # the German labels, not the stored codes
            status = str(statuses.get(item["status"], item["status"]))
            channel = str(channels.get(item["channel"], item["channel"]))
            self.stdout.write(f"{status:<24} {channel:<9} {item['n']}")
        oldest = rows.due(timezone.now()).order_by("next_attempt_at").first()
        if oldest is not None:
            self.stdout.write(
                f"älteste fällige Nachricht: #{oldest.pk} seit "
                f"{timezone.localtime(oldest.next_attempt_at):%d.%m.%Y %H:%M}"
            )
        reasons = (
            rows.filter(status__in=[OutboundStatus.FAILED, OutboundStatus.REFUSED])
            .values("last_error")
            .annotate(n=Count("id"))
            .order_by("-n")[:10]
        )
        for item in reasons:
            self.stdout.write(f"{item['n']:>6} × {item['last_error'][:120]}")
        self.stdout.write(f"{rows.count()} Nachrichten im Ausgang")
