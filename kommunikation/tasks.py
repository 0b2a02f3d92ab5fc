"""django-q2 tasks: each one call into a service."""

from __future__ import annotations

from kommunikation.dispatch import dispatch_until_empty
from kommunikation.events import scans


def dispatch_outbox(max_batches: int = 50) -> str:
    """Send what is due, batch by batch (scheduled every minute and triggered on enqueue)."""
    result = dispatch_until_empty(max_batches=max_batches)
    return f"{result.sent} gesendet, {result.deferred} verschoben, {result.failed} fehlgeschlagen"


def fallback_undelivered() -> str:
    """Messages not delivered within their rule's wait: the next channel (every minute)."""
    from kommunikation.fallback import fallback_undelivered

    return str(fallback_undelivered())


# --- the daily scans (config/schedules.py); each records events, the rules do the rest


def scan_birthdays() -> str:
    return str(scans.scan_birthdays())


def scan_anniversaries() -> str:
    return str(scans.scan_anniversaries())


def scan_seasonal() -> str:
    return str(scans.scan_seasonal())


def scan_inactive() -> str:
    return str(scans.scan_inactive())


def scan_no_response() -> str:
    return str(scans.scan_no_response())


def print_letters() -> str:
    """The day's print batch of every brand that prints its letters itself."""
    from django.utils import timezone

    from kommunikation.letters.printing import print_all

    summary = print_all(day=timezone.localdate())
    return f"{len(summary.batches)} Druckstapel, {summary.letters} Briefe, {summary.pages} Seiten"
