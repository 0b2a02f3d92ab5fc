"""The Automatisierung pages for Team-Leads and Admins (issue 9 §6): rules with their
counts, the event log, one event's rules and plans, the forward calendar, the dry run."""

from __future__ import annotations

import json

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from conversations.access import access_customer
from kommunikation.automation import insight
from kommunikation.automation.access import (
    access_event,
    access_rule,
    automation_required,
    may_see_automation,
    user_brands,
)
from kommunikation.automation.forms import DryRunForm
from kommunikation.events.services import InvalidEvent

staff_required = staff_member_required(login_url="login")
RECENT_RUNS = 20  # the rule page's latest runs


@require_GET
@staff_required
@automation_required
def overview(request):
    """Every rule of the user's brands (and the all-brand ones) with its last 7 days."""
    rules = insight.rules_with_counts(user_brands(request.user), now=timezone.now())
    return render(
        request,
        "automation/overview.html",
        {"rules": rules, "days": insight.COUNT_DAYS, "section": "rules"},
    )


@require_GET
@staff_required
@automation_required
@vary_on_headers("HX-Request")
def event_log(request):
    form = insight.EventLogForm(request.GET)
    values = form.values()
    events = insight.filtered_events(user_brands(request.user), values)
    page = insight.event_page(events, request.GET.get("nach", ""))
    context = {
        "form": form,
        "active": values,
        "page": page,
        "query": _query_without(request, "nach"),
        "event_types": insight.event_types(),
        "section": "events",
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "automation/events.html#event-rows", context)
    return render(request, "automation/events.html", context)


@require_GET
@staff_required
def event_detail(request, pk: int):
    event = access_event(request.user, pk)
    context = {
        "event": event,
        "payload": json.dumps(event.payload, indent=2, ensure_ascii=False, sort_keys=True),
        "runs": insight.event_runs(event),
        "can_open_outbox": request.user.has_perm("kommunikation.view_outboundmessage"),
        "section": "events",
    }
    return render(request, "automation/event.html", context)


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def rule_detail(request, pk: int):
    rule = access_rule(request.user, pk)
    brands = user_brands(request.user)
    now = timezone.now()
    days = insight.calendar_days(request.GET.get("tage"))
    calendar = insight.forward_calendar(insight.waiting_rows(brands, rule=rule), now=now, days=days)
    context = {
        "rule": rule,
        "calendar": calendar,
        "days": days,
        "calendar_url": request.path,
        "calendar_choices": insight.CALENDAR_DAYS,
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "automation/_calendar.html", context)
    context.update(
        counts=insight.rule_counts([rule.pk], brands, now=now)[rule.pk],
        count_days=insight.COUNT_DAYS,
        steps=rule.steps.order_by("position"),
        runs=rule.runs.for_brands(brands).select_related("event")[:RECENT_RUNS],
        can_change=request.user.has_perm("kommunikation.change_automationrule"),
        section="rules",
    )
    return render(request, "automation/rule.html", context)


@require_http_methods(["GET", "POST"])
@staff_required
@vary_on_headers("HX-Request")
def rule_dry_run(request, pk: int):
    """GET: the form with the type's example values; POST: the dry run (changes nothing)."""
    rule = access_rule(request.user, pk)
    brands = user_brands(request.user)
    result = None
    status = 200
    form = DryRunForm(request.POST or None, rule=rule, brands=brands)
    if request.method == "POST":
        if form.is_valid():
            try:
                result = insight.dry_run(
                    rule,
                    brand=form.cleaned_data["brand"],
                    customer=form.cleaned_data["kunde"],
                    payload=form.cleaned_data["daten"],
                    record_id=form.cleaned_data["vorgang"],
                )
            except InvalidEvent as exc:
                for name, messages in exc.errors.items():
                    for message in messages:
                        form.add_error(None, f"{name}: {message}")
                status = 422
        else:
            status = 422
    context = {"rule": rule, "form": form, "result": result, "section": "rules"}
    if request.htmx and not request.htmx.boosted and request.method == "POST":
        return render(request, "automation/dry_run.html#dry-run-result", context, status=status)
    return render(request, "automation/dry_run.html", context, status=status)


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def customer_calendar(request, pk: int):
    """The customer page's card "Geplant": loaded into the page, or as a page of its own."""
    if not may_see_automation(request.user):
        raise PermissionDenied
    customer = access_customer(request.user, pk)
    days = insight.calendar_days(request.GET.get("tage"))
    calendar = insight.forward_calendar(
        insight.waiting_rows(user_brands(request.user), customer=customer),
        now=timezone.now(),
        days=days,
    )
    context = {
        "customer": customer,
        "calendar": calendar,
        "days": days,
        "calendar_url": request.path,
        "calendar_choices": insight.CALENDAR_DAYS,
        "show_customer": False,
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "automation/_calendar.html", context)
    return render(request, "automation/customer_calendar.html", context)


def _query_without(request, name: str) -> str:
    params = request.GET.copy()
    params.pop(name, None)
    return params.urlencode()
