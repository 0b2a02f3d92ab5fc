"""Every recurring job in one table, synced into django-q2 by `manage.py sync_schedules`.

(name, task as dotted path, cron in Europe/Berlin, why it runs)
"""

from __future__ import annotations

from django.conf import settings

SCHEDULES: list[tuple[str, str, str, str]] = [
    (
        "fetch-mail",
        "conversations.tasks.fetch_mail",
        "*/2 * * * *",
        "Neue E-Mails aus den IMAP-Postfächern holen; zwei Minuten halten die Antwortzeit kurz.",
    ),
    (
        "train-sender-models",
        "conversations.tasks.train_sender_models",
        "40 2 * * *",
        "Nachts das Lernmodell jeder Marke für neue Absender aus allen von Menschen klassifizierten Konversationen neu aufbauen.",
    ),
    (
        "wake-snoozed",
        "conversations.tasks.wake_snoozed",
        "* * * * *",
        "Fällige Wiedervorlagen ungelesen und oben zurück in die offene Liste holen (der Posteingang holt sie beim Laden auch selbst).",
    ),
    (
        "whatsapp-webhooks",
        "conversations.whatsapp.recover_deliveries",
        "* * * * *",
        "WhatsApp-Webhooks nachholen, deren Aufgabe verloren ging oder deren Worker abbrach; neue starten ihre Aufgabe sofort.",
    ),
    (
        "dispatch-outbox",
        "kommunikation.tasks.dispatch_outbox",
        "* * * * *",
        "Fällige Nachrichten aus dem Ausgang senden; neue sofortige Nachrichten lösen ihn zusätzlich direkt aus.",
    ),
    (
        "fallback-undelivered",
        "kommunikation.tasks.fallback_undelivered",
        "* * * * *",
        "Nicht zugestellte Nachrichten nach der Wartezeit ihrer Regel mit dem nächsten Kanal versuchen (WhatsApp nach 1 Std. nicht zugestellt: SMS).",
    ),
    # the daily scans: events from the calendar (kommunikation/events/scans.py); early in the
    # Berlin morning so the rules can plan the day's messages for business hours
    (
        "scan-birthdays",
        "kommunikation.tasks.scan_birthdays",
        "5 6 * * *",
        "Geburtstage des Tages als Ereignisse erfassen (29. Februar in anderen Jahren am 28.).",
    ),
    (
        "scan-anniversaries",
        "kommunikation.tasks.scan_anniversaries",
        "10 6 * * *",
        "Jahrestage von „Kunde seit“ als Ereignisse erfassen.",
    ),
    (
        "scan-seasonal",
        "kommunikation.tasks.scan_seasonal",
        "15 6 * * *",
        "Saisonale Grüße an ihren eingestellten Tagen (SCAN_SEASONAL_DATES) als Ereignisse erfassen.",
    ),
    (
        "scan-inactive",
        "kommunikation.tasks.scan_inactive",
        "20 6 * * *",
        "Kunden ohne Auftrag oder Rechnung seit SCAN_INACTIVE_MONTHS Monaten einmal je Funkstille erfassen.",
    ),
    (
        "scan-no-response",
        "kommunikation.tasks.scan_no_response",
        "0 * * * *",
        "Konversationen ohne Antwort des Kunden nach 48 h / 72 h / 14 Tagen; stündlich, weil die Fristen in Stunden zählen.",
    ),
    (
        "rules-catch-up",
        "kommunikation.automation.tasks.process_pending",
        "*/5 * * * *",
        "Ereignisse, deren Regel-Aufgabe verloren ging, nachholen; neue starten ihre Aufgabe sofort.",
    ),
    (
        "sevdesk-sync",
        "kommunikation.sevdesk.tasks.sync_sevdesk",
        "*/5 * * * *",
        "sevDesk hat keine Webhooks: alle fünf Minuten nach neuen Kontakten, Rechnungen und Aufträgen fragen.",
    ),
    (
        "overdue-invoices",
        "kommunikation.sevdesk.tasks.scan_overdue_invoices",
        "0 7 * * *",
        "Täglich überfällige Rechnungen je Mahnstufe melden, bevor der Arbeitstag beginnt.",
    ),
    (
        "segments",
        "kommunikation.sevdesk.tasks.refresh_segments",
        "30 2 * * *",
        "Nachts Umsatz, Wertklasse und Aktivität neu berechnen, auch wenn sich in sevDesk nichts änderte (die Zeit vergeht).",
    ),
]

# letters printed in the office (issue 11 §3): the day's print batch per brand at the time
# LETTER_PRINT_CRON sets (default weekdays 15:00, before the post is collected); empty: no
# scheduled batch, Team-Leads make it on the print page
if settings.LETTER_PRINT_CRON:
    SCHEDULES.append(
        (
            "print-letters",
            "kommunikation.tasks.print_letters",
            settings.LETTER_PRINT_CRON,
            "Die Briefe des Tages der selbst druckenden Marken zu einem Druckstapel mit Deckblatt zusammenfassen.",
        )
    )
