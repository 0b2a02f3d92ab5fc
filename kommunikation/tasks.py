"""django-q2 tasks: each one call into a service."""

from __future__ import annotations

from kommunikation.dispatch import dispatch_until_empty


def dispatch_outbox(max_batches: int = 50) -> str:
    """Send what is due, batch by batch (scheduled every minute and triggered on enqueue)."""
    result = dispatch_until_empty(max_batches=max_batches)
    return f"{result.sent} gesendet, {result.deferred} verschoben, {result.failed} fehlgeschlagen"
