"""The Aufgaben page's forms: its filter, a call's outcome, a task's assignee."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from compliance.policy import BERLIN
from conversations.filters import LocalDateField
from kommunikation.calls.models import CallOutcome, CallTask, CallTaskStatus

DONE_SHOWN = 50  # the "erledigt" list: the latest this many


class CallTaskFilterForm(forms.Form):
    """URL parameters (German, visible in links): ?wer=ich, ?status=erledigt."""

    WHO = [("", _("alle")), ("ich", _("meine")), ("niemand", _("niemandem zugewiesen"))]
    STATUS = [("", _("offen")), ("erledigt", _("erledigt"))]

    wer = forms.ChoiceField(label=_("Wer"), required=False, choices=WHO)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=STATUS)

    def values(self) -> dict:
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v}

    def tasks(self, user) -> QuerySet[CallTask]:
        """The user's call tasks matching the filter: open ones by due time, done ones
        newest first."""
        f = self.values()
        qs = CallTask.objects.for_user(user).select_related(
            "brand", "customer", "assignee", "last_call_by", "conversation"
        )
        if f.get("wer") == "ich":
            qs = qs.assigned_to(user)
        elif f.get("wer") == "niemand":
            qs = qs.filter(assignee__isnull=True)
        if f.get("status") == "erledigt":
            return qs.exclude(status=CallTaskStatus.OPEN).order_by("-closed_at", "-id")[:DONE_SHOWN]
        return qs.open().order_by("due_at", "id")


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Ergebnis"), choices=CallOutcome.choices)
    note = forms.CharField(label=_("Notiz"), required=False, max_length=2000)
    callback_date = LocalDateField(label=_("Rückruf am"), required=False)
    callback_time = forms.TimeField(
        label=_("um"), required=False, input_formats=["%H:%M", "%H.%M", "%H"]
    )

    def clean(self):
        data = super().clean()
        if data.get("outcome") != CallOutcome.CALLBACK:
            data["callback_at"] = None
            return data
        day, time = data.get("callback_date"), data.get("callback_time")
        if day is None or time is None:
            raise forms.ValidationError(_("Für den Rückruf bitte Datum und Uhrzeit angeben."))
        at = dt.datetime.combine(day, time, tzinfo=BERLIN)
        if at <= timezone.now():
            raise forms.ValidationError(_("Der Rückruf muss in der Zukunft liegen."))
        data["callback_at"] = at
        return data


class AssignForm(forms.Form):
    """``ich`` (me), empty (nobody) or a colleague's id (team leads)."""

    assignee = forms.CharField(required=False, max_length=20)

    def __init__(self, *args, task: CallTask, user, may_reassign: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.task, self.user, self.may_reassign = task, user, may_reassign

    def clean_assignee(self):
        value = self.cleaned_data["assignee"].strip()
        if value == "ich":
            return self.user
        if not self.may_reassign:
            raise forms.ValidationError(_("Nur Team-Leads weisen anderen zu."))
        if not value:
            return None
        colleague = (
            get_user_model()
            .objects.filter(brands=self.task.brand_id, is_active=True, pk=value)
            .first()
            if value.isdigit()
            else None
        )
        if colleague is None:
            raise forms.ValidationError(_("Arbeitet nicht für diese Marke."))
        return colleague
