from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction
from django_q.models import Schedule

from config.schedules import SCHEDULES


class Command(BaseCommand):
    help = (
        "Gleicht die django-q2-Zeitpläne mit config/schedules.py ab: legt an oder ändert nach "
        "Namen und löscht jeden Zeitplan, der dort nicht (mehr) steht."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        names = []
        for name, func, cron, _why in SCHEDULES:
            names.append(name)
            Schedule.objects.update_or_create(
                name=name,
                defaults={"func": func, "schedule_type": Schedule.CRON, "cron": cron},
            )
        removed, _detail = Schedule.objects.exclude(name__in=names).delete()
        self.stdout.write(f"{len(names)} Zeitpläne aktuell, {removed} entfernt.")
