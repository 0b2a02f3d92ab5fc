"""django-q2 entry points of the rules engine: each one call into the engine."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save


def on_event_recorded(sender, *, event, **kwargs) -> None:
    """Receiver of event_recorded (sent on commit): run the rules in a task right away,
    not at the next schedule tick (event -> outbox row within seconds)."""
    from django_q.tasks import async_task

    async_task(
        "kommunikation.automation.tasks.process_event",
        event.pk,
        q_options={"task_name": f"rules-event-{event.pk}"},
    )


def process_event(event_id: int) -> str:
    from kommunikation.automation.engine import run_rules

    result = run_rules(event_id)
    return result.summary() if result is not None else "schon verarbeitet"


def process_pending(limit: int = 1000) -> str:
    """Catch-up: events a crashed worker or a lost task left pending (oldest first)."""
    from kommunikation.automation.engine import run_rules
    from kommunikation.events.models import Event

    ids = list(Event.objects.pending().order_by("received_at").values_list("pk", flat=True)[:limit])
    done = sum(1 for pk in ids if run_rules(pk) is not None)
    return f"{done} Ereignisse verarbeitet"


def connect_rule_cache() -> None:
    """Drop the engine's cached rules whenever a rule or a step changes."""
    from kommunikation.automation.engine import forget_rules
    from kommunikation.automation.models import AutomationRule, RuleStep

    for model in (AutomationRule, RuleStep):
        post_save.connect(forget_rules, sender=model, dispatch_uid=f"kk-rules-{model.__name__}")
        post_delete.connect(forget_rules, sender=model, dispatch_uid=f"kk-rules-d-{model.__name__}")
