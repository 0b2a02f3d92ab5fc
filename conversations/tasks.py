"""django-q2 tasks: each is one call into a service (schedules in config/schedules.py)."""

from __future__ import annotations

from conversations.imap import fetch_all_mailboxes
from conversations.learning import train_all


def fetch_mail() -> str:
    results = fetch_all_mailboxes()
    return "; ".join(f"{mailbox}: {stats.summary()}" for mailbox, stats in results)


def train_sender_models() -> str:
    return f"{train_all()} Marken trainiert"
