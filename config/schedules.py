"""Every recurring job in one table, synced into django-q2 by `manage.py sync_schedules`.

(name, task as dotted path, cron in Europe/Berlin, why it runs)
"""

from __future__ import annotations

SCHEDULES: list[tuple[str, str, str, str]] = [
    (
        "fetch-mail",
        "conversations.tasks.fetch_mail",
        "*/2 * * * *",
        "Neue E-Mails aus den IMAP-Postfächern holen; zwei Minuten halten die Antwortzeit kurz.",
    ),
    (
        "dispatch-outbox",
        "kommunikation.tasks.dispatch_outbox",
        "* * * * *",
        "Fällige Nachrichten aus dem Ausgang senden; neue sofortige Nachrichten lösen ihn zusätzlich direkt aus.",
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
