from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand

from conversations.models import Conversation
from kommunikation.models import BusinessEntity
from kommunikation.roles import TEAM_LEAD

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-kundenkommunikation"


class Command(BaseCommand):
    help = "Für `make run`: Demodaten laden, wenn die Datenbank leer ist, und den Demo-Zugang ausgeben."

    def handle(self, *args, **options):
        if not Conversation.objects.exists():
            self.stdout.write("Lege Demodaten an …")
            call_command("seed_demo", stdout=self.stdout)
            from kommunikation.automation.demo import seed_automation_demo

            count = seed_automation_demo()
            self.stdout.write(f"{count} Demo-Ereignisse durch die Regeln geschickt.")
            from kommunikation.automation.demo import seed_inbound_demo

            mails = seed_inbound_demo()
            self.stdout.write(f"{mails} Demo-Mails durch die Eingangsregeln geschickt.")
            from kommunikation.calls.demo import seed_call_demo

            calls = seed_call_demo()
            self.stdout.write(f"{calls} Demo-Anrufaufgaben geplant.")

            from kommunikation.demo.letters import seed_letter_demo

            letters = seed_letter_demo()
            self.stdout.write(f"{letters} Demo-Briefe (Pingen, Druckstapel) in den Verläufen.")

            from kommunikation.demo.fallback import seed_fallback_demo

            if seed_fallback_demo():
                self.stdout.write("Ein Demo-Verlauf mit Ausweichkanal (WhatsApp → SMS → E-Mail).")
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=DEMO_USER,
            defaults={
                "first_name": "Demo",
                "last_name": "Nutzerin",
                "is_staff": True,
                "is_superuser": True,
                "email": "demo@example.org",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.add(*Group.objects.filter(name=TEAM_LEAD))
        user.brands.set(BusinessEntity.objects.all())
        self.stdout.write(
            self.style.SUCCESS(f"Anmeldung: Benutzer »{DEMO_USER}«, Passwort »{DEMO_PASSWORD}«")
        )
