from django.contrib import admin

from kommunikation.admin_scoping import BrandScopedAdmin, BrandScopedInline
from kommunikation.models import BusinessEntity, ContactPoint, Customer


@admin.register(BusinessEntity)
class BusinessEntityAdmin(BrandScopedAdmin):
    brand_path = ""
    list_display = ["name", "slug", "support_email", "whatsapp_number", "default_language"]
    search_fields = ["name", "slug", "legal_name", "support_email"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["staff"]


class ContactPointInline(BrandScopedInline, admin.TabularInline):
    brand_path = "customer__brand"
    model = ContactPoint
    extra = 1
    fields = ["channel", "value", "type", "position", "verified", "bouncing"]


@admin.register(Customer)
class CustomerAdmin(BrandScopedAdmin):
    brand_path = "brand"
    list_display = [
        "display_name", "number", "kind", "brand", "city", "segment", "value_tier", "activity", "vip",
    ]  # fmt: skip
    list_filter = [
        "brand", "kind", "is_company", "vip", "language", "segment", "value_tier", "activity",
        "industry",
    ]  # fmt: skip
    search_fields = [
        "number", "company_name", "first_name", "last_name", "contact_points__value", "sevdesk_id",
    ]  # fmt: skip
    list_select_related = ["brand"]
    inlines = [ContactPointInline]
    date_hierarchy = "created_at"


@admin.register(ContactPoint)
class ContactPointAdmin(BrandScopedAdmin):
    brand_path = "customer__brand"
    list_display = ["value", "channel", "type", "customer", "position", "verified", "bouncing"]
    list_filter = ["channel", "type", "verified", "bouncing"]
    search_fields = ["value", "customer__last_name", "customer__company_name"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]


# --- the outbox ------------------------------------------------------------------------

from django.contrib import messages  # noqa: E402
from django.utils.translation import gettext_lazy as _  # noqa: E402

from compliance.services import Actor  # noqa: E402
from kommunikation.models import OutboundMessage  # noqa: E402
from kommunikation.outbox import cancel_outbound, retry_outbound  # noqa: E402


@admin.register(OutboundMessage)
class OutboundMessageAdmin(BrandScopedAdmin):
    """The outbox, read-only: rows are written by the outbox and the dispatch worker only.

    A queued message's recipient and content are never edited here (the worker would send
    what was typed, From the row's brand); staff with change permission (Team-Lead, Admin,
    Management) cancel waiting rows and retry failed ones with the actions, audited.
    """

    brand_path = "brand"
    list_display = [
        "id", "status", "channel", "recipient", "category", "template_key", "subject",
        "next_attempt_at", "attempts", "reason",
    ]  # fmt: skip
    list_filter = ["status", "channel", "category", "source", "brand", "decision"]
    search_fields = ["recipient", "to_address", "idempotency_key", "header_message_id", "subject"]
    list_select_related = ["brand"]
    raw_id_fields = ["customer", "conversation", "message", "created_by"]
    date_hierarchy = "created_at"
    actions = ["retry", "cancel"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False  # rows come from enqueue_outbound only

    def has_change_permission(self, request, obj=None):
        # Without an object this is the permission the actions ask for; a row itself is
        # never saved from the admin (the change page is read-only for everybody).
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False  # the outbox is the record of what was (to be) sent

    @admin.display(description=_("Grund"))
    def reason(self, obj):
        return obj.last_error or obj.decision_reason

    @admin.action(description=_("Fehlgeschlagene erneut senden"), permissions=["change"])
    def retry(self, request, queryset):
        count = retry_outbound(queryset, actor=Actor.staff(request.user))
        self.message_user(request, _("%(n)s Nachrichten erneut eingereiht.") % {"n": count})

    @admin.action(description=_("Wartende stornieren"), permissions=["change"])
    def cancel(self, request, queryset):
        count = cancel_outbound(queryset, actor=Actor.staff(request.user))
        self.message_user(
            request, _("%(n)s Nachrichten storniert.") % {"n": count}, messages.SUCCESS
        )


from kommunikation import push_admin as _push_admin  # noqa: E402, F401  (registers)
from kommunikation import whatsapp_admin as _whatsapp_admin  # noqa: E402, F401  (registers)
from kommunikation.automation import admin as _automation_admin  # noqa: E402, F401  (registers)
from kommunikation.calls import admin as _calls_admin  # noqa: E402, F401  (registers)
from kommunikation.events import admin as _events_admin  # noqa: E402, F401  (registers)
from kommunikation.letters import admin as _letters_admin  # noqa: E402, F401  (registers)
from kommunikation.sevdesk import admin as _sevdesk_admin  # noqa: E402, F401  (registers)
