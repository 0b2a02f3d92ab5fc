"""The Aufgaben page: open call tasks by due time (overdue first in line), mine or all,
each completed with its outcome by keyboard or mouse (HTMX, a plain form without JS)."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap, retarget

from kommunikation.calls.access import REASSIGN, access_call_task, may_see_call_tasks
from kommunikation.calls.forms import AssignForm, CallTaskFilterForm, OutcomeForm
from kommunikation.calls.models import CallOutcome, CallTask
from kommunikation.calls.services import (
    CallTaskClosed,
    assign_call_task,
    call_task_counts,
    call_task_summary,
    record_call_outcome,
)

staff_required = staff_member_required(login_url="login")
PAGE = "kommunikation/call_tasks.html"


def _query(request) -> str:
    """The list's filter, carried back after a plain (non-HTMX) form post."""
    return request.POST.get("query", "") if request.method == "POST" else request.GET.urlencode()


def _staff_for(brand_ids) -> list:
    return list(
        get_user_model()
        .objects.filter(brands__in=brand_ids, is_active=True)
        .distinct()
        .order_by("first_name", "username")
    )


def _row_context(request, task: CallTask) -> dict:
    return {
        "task": task,
        "now": timezone.now(),
        "may_change": request.user.has_perm("kommunikation.change_calltask"),
        "may_reassign": request.user.has_perm(REASSIGN),
        "staff": _staff_for([task.brand_id]) if request.user.has_perm(REASSIGN) else [],
        "outcomes": CallOutcome,
        "counts": call_task_counts(request.user),
        "query": _query(request),
        "oob": True,
    }


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def call_tasks(request):
    if not may_see_call_tasks(request.user):
        raise PermissionDenied
    filters = CallTaskFilterForm(request.GET)
    tasks = list(filters.tasks(request.user))
    may_reassign = request.user.has_perm(REASSIGN)
    context = {
        "filters": filters,
        "active": filters.values(),
        "tasks": tasks,
        "now": timezone.now(),
        "counts": call_task_counts(request.user),
        # the team lead's review: who has how many open and overdue calls
        "summary": call_task_summary(request.user) if may_reassign else None,
        "may_change": request.user.has_perm("kommunikation.change_calltask"),
        "may_reassign": may_reassign,
        "staff": _staff_for({t.brand_id for t in tasks}) if may_reassign else [],
        "outcomes": CallOutcome,
        "query": request.GET.urlencode(),
    }
    if request.htmx and request.htmx.target == "task-list":
        return render(request, f"{PAGE}#task-list", context)
    return render(request, PAGE, context)


def _error(request, message: str):
    """422 with the reason, shown above the list (swapped like a success, see calls.js)."""
    if not request.htmx:
        return HttpResponseBadRequest(message)
    response = render(request, f"{PAGE}#errors", {"errors": [message]}, status=422)
    return retarget(reswap(response, "innerHTML"), "#task-errors")


def _done(request, task: CallTask, notice: str):
    if not request.htmx:
        query = _query(request)
        return redirect(reverse("call_tasks") + (f"?{query}" if query else ""))
    task = access_call_task(request.user, task.pk)
    return render(request, f"{PAGE}#task-update", {**_row_context(request, task), "notice": notice})


@require_POST
@staff_required
def call_task_outcome(request, pk: int):
    task = access_call_task(request.user, pk, write=True)
    form = OutcomeForm(request.POST)
    if not form.is_valid():
        return _error(request, " ".join(e for errors in form.errors.values() for e in errors))
    data = form.cleaned_data
    try:
        record_call_outcome(
            task=task,
            outcome=data["outcome"],
            user=request.user,
            callback_at=data["callback_at"],
            note=data["note"],
        )
    except CallTaskClosed:
        return _error(request, _("Diese Aufgabe wurde schon abgeschlossen."))
    notice = _("Ergebnis gespeichert: %(outcome)s") % {
        "outcome": CallOutcome(data["outcome"]).label
    }
    return _done(request, task, notice)


@require_POST
@staff_required
def call_task_assign(request, pk: int):
    task = access_call_task(request.user, pk, write=True)
    form = AssignForm(
        request.POST, task=task, user=request.user, may_reassign=request.user.has_perm(REASSIGN)
    )
    if not form.is_valid():
        return _error(request, " ".join(form.errors["assignee"]))
    try:
        assign_call_task(task=task, assignee=form.cleaned_data["assignee"])
    except ValueError:
        return _error(request, _("Arbeitet nicht für diese Marke."))
    return _done(request, task, _("Zuweisung gespeichert."))
