"""The doors to the Automatisierung pages: Team-Leads and Admins, scoped to their brands.

Agents get 403 (they may not see rules); a rule or event of another brand is a 404, as in
``conversations.access``. An all-brand rule is visible to everyone who may see rules; what
it shows of runs and plans is filtered to the user's brands by the pages themselves.
"""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from kommunikation.automation.models import AutomationRule
from kommunikation.events.models import Event
from kommunikation.models import BusinessEntity

# held by Team-Lead, Admin and Management (kommunikation.roles), not by Agents
PERMISSION = "kommunikation.view_automationrule"


def may_see_automation(user) -> bool:
    return user.has_perm(PERMISSION)


def automation_required(view):
    """After staff_required: 403 for staff who may not see the automation."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not may_see_automation(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def user_brands(user):
    return BusinessEntity.objects.for_user(user)


def access_rule(user, pk: int) -> AutomationRule:
    if not may_see_automation(user):
        raise PermissionDenied
    return get_object_or_404(
        AutomationRule.objects.for_brands(user_brands(user)).select_related("brand"), pk=pk
    )


def access_event(user, pk: int) -> Event:
    if not may_see_automation(user):
        raise PermissionDenied
    return get_object_or_404(
        Event.objects.for_brands(user_brands(user)).select_related("brand", "customer"), pk=pk
    )
