"""Rules in the Django admin (Admins edit, Team-Leads read), brand-scoped; runs read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from kommunikation.admin_scoping import BrandScopedAdmin, BrandScopedInline, may_change_global_rows
from kommunikation.automation.availability import Absence, OpeningHours
from kommunikation.automation.models import AutomationRule, PlannedStep, RuleRun, RuleStep
from kommunikation.automation.validation import step_errors


class RuleStepFormSet(forms.BaseInlineFormSet):
    """Steps are checked against the rule's event type as it is being saved."""

    def clean(self):
        super().clean()
        event_type = self.instance.event_type
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            step = form.instance
            for name, value in form.cleaned_data.items():
                if name not in ("DELETE", "id", "rule"):
                    setattr(step, name, value)
            errors = step_errors(step, event_type=event_type, auto_reply=self.instance.auto_reply)
            for name, messages in errors.items():
                target = name if name in form.fields else None
                for message in messages:
                    form.add_error(target, message)
        if self.forms and not any(
            f.cleaned_data and not f.cleaned_data.get("DELETE") for f in self.forms
        ):
            raise ValidationError(_("Eine Regel braucht mindestens einen Schritt."))


class RuleStepInline(BrandScopedInline, admin.StackedInline):
    model = RuleStep
    brand_path = "rule__brand"
    global_rows = True
    formset = RuleStepFormSet
    extra = 0
    min_num = 1
    fields = [
        ("position", "name", "action"),
        ("template_key", "channels", "channel_mode", "category"),
        "fallback_after",
        ("assign_to", "assign_user", "set_priority", "tags"),
        ("timing", "amount", "unit", "date_field"),
        ("at_time", "weekday", "repeat"),
        "cancel_on",
    ]


@admin.register(AutomationRule)
class AutomationRuleAdmin(BrandScopedAdmin):
    """Staff see their brands' rules and those for all brands; only who answers for every
    brand changes the latter."""

    brand_path = "brand"
    global_rows = True
    list_display = ["name", "key", "event_type", "to_status", "brand", "active", "priority"]
    list_filter = ["active", "event_type", "brand", "category"]
    search_fields = ["key", "name", "event_type"]
    list_select_related = ["brand"]
    inlines = [RuleStepInline]
    fieldsets = [
        (None, {"fields": ["brand", "key", "name", "active", "description", "staff_pages"]}),
        (_("Auslöser"), {"fields": ["event_type", "from_status", "to_status", "conditions"]}),
        (
            _("Aktion"),
            {
                "fields": [
                    "category",
                    "priority",
                    "purpose",
                    "address_type",
                    "address_position",
                    "once_per_record",
                ]
            },  # fmt: skip
        ),
        (_("Eingehende Nachrichten"), {"fields": ["auto_reply", "reply_window_hours"]}),
    ]

    readonly_fields = ["staff_pages"]

    @admin.display(description=_("Automatisierung"))
    def staff_pages(self, obj) -> str:
        """Links to the rule's page (counts, calendar) and its dry run in the staff UI."""
        if obj is None or obj.pk is None:
            return "–"
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("automation_rule", args=[obj.pk]),
            _("Zahlen und Kalender"),
            reverse("automation_rule_dry_run", args=[obj.pk]),
            _("Probelauf"),
        )

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if not may_change_global_rows(request.user) and "brand" in form.base_fields:
            form.base_fields["brand"].required = True
        return form


class PlannedStepInline(BrandScopedInline, admin.TabularInline):
    model = PlannedStep
    brand_path = "brand"
    extra = 0
    fields = ["position", "repetition", "template_key", "channels", "planned_for", "state",
              "reason", "outbound"]  # fmt: skip
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RuleRun)
class RuleRunAdmin(BrandScopedAdmin):
    """What each rule did with each event: read-only history."""

    brand_path = "event__brand"
    list_display = ["created_at", "rule_key", "event", "matched", "reason"]
    list_filter = ["matched", "rule_key"]
    search_fields = ["rule_key", "event__record_number", "event__source_key"]
    list_select_related = ["event"]
    readonly_fields = ["event", "rule", "rule_key", "matched", "reason", "created_at"]
    inlines = [PlannedStepInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OpeningHours)
class OpeningHoursAdmin(BrandScopedAdmin):
    """A brand's opening hours per weekday (out-of-hours auto-replies); public holidays
    are closed. Admins edit, Team-Leads read."""

    brand_path = "brand"
    list_display = ["brand", "weekday", "opens", "closes"]
    list_filter = ["brand", "weekday"]
    list_select_related = ["brand"]


@admin.register(Absence)
class AbsenceAdmin(BrandScopedAdmin):
    """Seed 001's Vertretungsregeln: who is away, until when, and who stands in (Team-Leads
    and Admins). Absent agents get no round-robin assignments; their customers hear from
    the absence auto-reply and the substitute takes over."""

    brand_path = "brand"
    list_display = ["user", "starts_at", "ends_at", "substitute", "brand", "note"]
    list_filter = ["brand"]
    list_select_related = ["brand", "user", "substitute"]
    search_fields = ["user__username", "user__last_name", "substitute__username", "note"]
    date_hierarchy = "starts_at"
