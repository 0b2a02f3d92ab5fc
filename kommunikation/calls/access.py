"""The one door to a call task: scoped to the user's brands (404 for another brand's),
403 without the permission to see call tasks, or on ``write=True`` to record outcomes."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from kommunikation.calls.models import CallTask

VIEW = "kommunikation.view_calltask"
CHANGE = "kommunikation.change_calltask"
# giving a task to a colleague is the team lead's, as reassigning a conversation
REASSIGN = "conversations.reassign_conversation"


def may_see_call_tasks(user) -> bool:
    return user.has_perm(VIEW)


def access_call_task(user, pk: int, *, write: bool = False) -> CallTask:
    if not may_see_call_tasks(user):
        raise PermissionDenied
    task = get_object_or_404(
        CallTask.objects.for_user(user).select_related("brand", "customer", "assignee"), pk=pk
    )
    if write and not user.has_perm(CHANGE):
        raise PermissionDenied
    return task
