from django.contrib import admin

from compliance.models import AuditEntry, ChannelPreference, Consent, Suppression
from compliance.services import Actor, audit, lift_suppression


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ["customer", "purpose", "channel", "state", "source", "recorded_at"]
    list_filter = ["purpose", "channel", "state", "source"]
    search_fields = ["customer__last_name", "customer__company_name", "address"]
    raw_id_fields = ["customer", "recorded_by"]
    date_hierarchy = "recorded_at"

    def has_change_permission(self, request, obj=None):
        return False  # a consent is evidence; changes are new records

    def save_model(self, request, obj, form, change):
        obj.recorded_by = request.user
        super().save_model(request, obj, form, change)
        audit(
            actor=Actor.staff(request.user),
            action=f"consent.{obj.state}",
            obj=obj,
            customer_id=obj.customer_id,
            changes={"purpose": obj.purpose, "channel": obj.channel, "source": obj.source},
        )


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["value", "channel", "reason", "created_at"]
    list_filter = ["channel", "reason"]
    search_fields = ["value"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit(
            actor=Actor.staff(request.user),
            action="suppression.changed" if change else f"suppression.{obj.reason}",
            obj=obj,
            customer_id=None,
            changes={"channel": obj.channel, "value": obj.value, "reason": obj.reason},
        )

    def delete_model(self, request, obj):
        lift_suppression(suppression=obj, actor=Actor.staff(request.user))


@admin.register(ChannelPreference)
class ChannelPreferenceAdmin(admin.ModelAdmin):
    list_display = ["customer", "channel", "category", "allowed", "updated_at"]
    list_filter = ["channel", "category", "allowed"]
    raw_id_fields = ["customer"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_label", "action", "object_type", "object_id", "customer_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_label", "object_id", "customer_id"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
