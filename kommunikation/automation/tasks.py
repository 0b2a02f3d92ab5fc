"""django-q2 entry points of the rules engine: each one call into the engine (in batches)."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save


def on_event_recorded(sender, *, event, batch=None, **kwargs) -> None:
    """Receiver of event_recorded (sent on commit): run the rules in a task right away,
    not at the next schedule tick (event -> outbox row within seconds). One task for all
    events committed together (``batch``), started with the first of them."""
    from django_q.tasks import async_task

    batch = batch or [event]
    if event is not batch[0]:
        return
    async_task(
        "kommunikation.automation.tasks.process_events",
        [e.pk for e in batch],
        q_options={"task_name": f"rules-events-{event.pk}-{len(batch)}"},
    )


def process_events(event_ids: list[int], limit: int | None = None) -> str:
    """The rules for these events, and for other pending ones up to `limit` per batch
    (oldest first): a flood of events recorded one by one is handled by the first tasks,
    the later ones find their events done. Each batch is one transaction."""
    from kommunikation.automation.engine import BATCH_SIZE, run_rules_batch
    from kommunikation.events.models import Event

    limit = limit or BATCH_SIZE
    ids = list(event_ids)
    done = 0
    for start in range(0, max(len(ids), 1), limit):
        chunk = ids[start : start + limit]
        room = limit - len(chunk)
        if room > 0:
            others = Event.objects.pending().exclude(pk__in=chunk).order_by("received_at", "pk")
            chunk += list(others.values_list("pk", flat=True)[:room])
        done += len(run_rules_batch(chunk))
    return f"{done} Ereignisse verarbeitet"


def process_event(event_id: int) -> str:
    """One event (tasks queued before process_events existed)."""
    return process_events([event_id])


def process_pending(limit: int = 1000) -> str:
    """Catch-up: events a crashed worker or a lost task left pending (oldest first)."""
    from kommunikation.automation.engine import BATCH_SIZE, run_rules_batch
    from kommunikation.events.models import Event

    done = 0
    while done < limit:
        ids = list(
            Event.objects.pending()
            .order_by("received_at", "pk")
            .values_list("pk", flat=True)[: min(BATCH_SIZE, limit - done)]
        )
        if not ids:
            break
        handled = len(run_rules_batch(ids))
        if not handled:
            break  # all held by another worker right now
        done += handled
    return f"{done} Ereignisse verarbeitet"


def connect_rule_cache() -> None:
    """Drop the engine's cached rules whenever a rule or a step changes."""
    from kommunikation.automation.engine import forget_rules
    from kommunikation.automation.models import AutomationRule, RuleStep

    for model in (AutomationRule, RuleStep):
        post_save.connect(forget_rules, sender=model, dispatch_uid=f"kk-rules-{model.__name__}")
        post_delete.connect(forget_rules, sender=model, dispatch_uid=f"kk-rules-d-{model.__name__}")
