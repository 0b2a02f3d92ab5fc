"""Call tasks in the admin: read-only (outcomes are recorded on the Aufgaben page, where
they reach the thread and the outbox); brand-scoped like every admin."""

from __future__ import annotations

from django.contrib import admin

from kommunikation.admin_scoping import BrandScopedAdmin
from kommunikation.calls.models import CallTask


@admin.register(CallTask)
class CallTaskAdmin(BrandScopedAdmin):
    brand_path = "brand"
    list_display = ["due_at", "customer", "phone", "brand", "status", "outcome", "attempts",
                    "assignee"]  # fmt: skip
    list_filter = ["status", "outcome"]
    search_fields = ["phone", "topic", "customer__last_name", "customer__company_name"]
    list_select_related = ["brand", "customer", "assignee"]
    raw_id_fields = ["outbound", "customer", "contact_point", "conversation", "message",
                     "assignee", "last_call_by"]  # fmt: skip
    date_hierarchy = "due_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
