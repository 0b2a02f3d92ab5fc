"""Events in the admin: read-only, brand-scoped; event sources with their secrets shown once."""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kommunikation.admin_scoping import BrandScopedAdmin
from kommunikation.events.models import Event, EventSource, secret_fingerprint


@admin.register(Event)
class EventAdmin(BrandScopedAdmin):
    """Events are append-only: visible, never added, changed or deleted by hand."""

    brand_path = "brand"

    list_display = [
        "occurred_at", "type_label", "record_number", "customer", "brand", "source", "outcome",
    ]  # fmt: skip
    list_filter = ["brand", "type", "outcome", "source", "record_kind"]
    search_fields = ["source_key", "record_number", "record_id", "customer__last_name", "type"]
    list_select_related = ["brand", "customer"]
    date_hierarchy = "occurred_at"
    readonly_fields = [
        "brand", "customer", "type", "source", "source_key", "record_kind", "record_id",
        "record_number", "record_status", "record_version", "customer_ref", "payload",
        "fingerprint", "occurred_at", "received_at", "processed_at", "outcome", "outcome_detail",
    ]  # fmt: skip

    @admin.display(description=_("Ereignistyp"), ordering="type")
    def type_label(self, obj: Event) -> str:
        return obj.type_label

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EventSource)
class EventSourceAdmin(BrandScopedAdmin):
    """The secret is shown once, on the page after creating or rotating it, and never again:
    the change form and the list show a fingerprint only."""

    brand_path = "brand"

    list_display = [
        "name", "slug", "brand", "active", "fingerprint", "rotated_at", "last_used_at",
        "previous_in_use",
    ]  # fmt: skip
    list_filter = ["brand", "active"]
    search_fields = ["name", "slug"]
    list_select_related = ["brand"]
    fields = [
        "brand", "name", "slug", "active", "fingerprint", "previous_fingerprint", "rotated_at",
        "last_used_at", "previous_last_used_at", "created_at",
    ]  # fmt: skip
    readonly_fields = [
        "fingerprint", "previous_fingerprint", "rotated_at", "last_used_at",
        "previous_last_used_at", "created_at",
    ]  # fmt: skip
    actions = ["rotate_secret", "revoke_previous_secret"]

    def get_readonly_fields(self, request, obj=None):
        # the slug is part of every recorded event's source: fixed once created
        return [*self.readonly_fields, "slug"] if obj else self.readonly_fields

    @admin.display(description=_("Schlüssel (Fingerabdruck)"))
    def fingerprint(self, obj: EventSource) -> str:
        return secret_fingerprint(obj.secret)

    @admin.display(description=_("vorheriger Schlüssel (Fingerabdruck)"))
    def previous_fingerprint(self, obj: EventSource) -> str:
        return secret_fingerprint(obj.previous_secret) or "–"

    @admin.display(description=_("alter Schlüssel gültig"), boolean=True)
    def previous_in_use(self, obj: EventSource) -> bool:
        return bool(obj.previous_secret)

    def response_add(self, request, obj, post_url_continue=None):
        return self._show_secret(request, obj, obj.secret, rotated=False)

    @admin.action(
        description=_("Schlüssel wechseln (der alte bleibt bis zum Widerruf gültig)"),
        permissions=["change"],
    )
    def rotate_secret(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, gettext("Bitte genau eine Quelle auswählen."), messages.ERROR
            )
            return None
        source = queryset.get()
        return self._show_secret(request, source, source.rotate(), rotated=True)

    @admin.action(description=_("Alten Schlüssel widerrufen"), permissions=["change"])
    def revoke_previous_secret(self, request, queryset):
        for source in queryset.exclude(previous_secret=""):
            source.revoke_previous()
        self.message_user(request, gettext("Alte Schlüssel widerrufen."), messages.SUCCESS)

    def _show_secret(self, request, source: EventSource, secret: str, *, rotated: bool):
        response = TemplateResponse(
            request,
            "admin/kommunikation/eventsource/secret.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "source": source,
                "secret": secret,
                "rotated": rotated,
                "title": gettext("Schlüssel für %(name)s") % {"name": source.name},
            },
        )
        # the secret must not stay in a cache or the browser's history
        response["Cache-Control"] = "no-store"
        return response
