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
        "rules-catch-up",
        "kommunikation.automation.tasks.process_pending",
        "*/5 * * * *",
        "Ereignisse, deren Regel-Aufgabe verloren ging, nachholen; neue starten ihre Aufgabe sofort.",
    ),
]
