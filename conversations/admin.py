from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from conversations.mailbox_admin import MailboxAdmin  # noqa: F401 (registers the admin)
from conversations.models import (
    Attachment,
    ClassificationChange,
    Conversation,
    ConversationChange,
    Message,
    RawEmail,
    SenderModel,
    SenderRule,
    StatusChange,
    WebhookDelivery,
)
from kommunikation.admin_scoping import BrandScopedAdmin, BrandScopedInline


class MessageInline(BrandScopedInline, admin.StackedInline):
    brand_path = "conversation__brand"
    model = Message
    extra = 0
    fields = [
        "direction",
        "channel",
        "sender_address",
        "subject",
        "status",
        "flagged",
        "flag_reason",
    ]
    readonly_fields = fields
    show_change_link = True
    can_delete = False


class ClassificationChangeInline(BrandScopedInline, admin.TabularInline):
    brand_path = "conversation__brand"
    model = ClassificationChange
    extra = 0
    fields = [
        "changed_at",
        "from_classification",
        "to_classification",
        "to_customer",
        "automatic",
        "changed_by",
        "reason",
    ]
    readonly_fields = fields
    can_delete = False


@admin.register(Conversation)
class ConversationAdmin(BrandScopedAdmin):
    brand_path = "brand"
    list_display = [
        "subject", "counterpart", "brand", "classification", "status", "priority", "unread",
        "last_message_at",
    ]  # fmt: skip
    list_filter = ["brand", "classification", "status", "priority", "channel", "unread", "flagged"]
    search_fields = [
        "subject",
        "counterpart",
        "counterpart_name",
        "customer__company_name",
        "customer__last_name",
    ]
    raw_id_fields = ["customer", "assignee", "mailbox"]
    list_select_related = ["brand"]
    date_hierarchy = "last_message_at"
    inlines = [MessageInline, ClassificationChangeInline]


class AttachmentInline(BrandScopedInline, admin.TabularInline):
    brand_path = "message__conversation__brand"
    model = Attachment
    extra = 0
    fields = ["filename", "content_type", "size", "content_id", "is_inline", "file"]
    readonly_fields = fields


class StatusChangeInline(BrandScopedInline, admin.TabularInline):
    brand_path = "message__conversation__brand"
    model = StatusChange
    extra = 0
    fields = ["status", "at", "detail"]
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(BrandScopedAdmin):
    brand_path = "conversation__brand"
    list_display = [
        "__str__",
        "sender_address",
        "channel",
        "direction",
        "status",
        "flagged",
        "created_at",
    ]
    list_filter = [
        "channel", "direction", "status", "flagged", "is_internal_note", "signed", "encrypted",
    ]  # fmt: skip
    search_fields = ["subject", "sender_address", "message_id", "provider_id"]
    raw_id_fields = ["conversation", "raw", "author"]
    readonly_fields = [
        "html", "headers", "message_id", "in_reply_to", "references", "signed", "encrypted",
        "parse_flags",
    ]  # fmt: skip
    inlines = [AttachmentInline, StatusChangeInline]


@admin.register(RawEmail)
class RawEmailAdmin(BrandScopedAdmin):
    brand_path = "brand"
    list_display = ["__str__", "brand", "mailbox", "state", "size", "received_at"]
    list_filter = ["state", "brand"]
    search_fields = ["message_id", "sha256", "source"]
    ordering = ["-received_at", "-id"]
    exclude = ["data"]
    readonly_fields = [f.name for f in RawEmail._meta.fields if f.name != "data"]


@admin.register(ClassificationChange)
class ClassificationChangeAdmin(BrandScopedAdmin):
    brand_path = "conversation__brand"
    list_display = [
        "conversation",
        "from_classification",
        "to_classification",
        "automatic",
        "changed_by",
        "changed_at",
    ]
    list_filter = ["to_classification", "automatic"]
    raw_id_fields = ["conversation", "from_customer", "to_customer", "changed_by"]

    def has_change_permission(self, request, obj=None):
        return False  # history is never edited


@admin.register(SenderRule)
class SenderRuleAdmin(BrandScopedAdmin):
    brand_path = "brand"
    list_display = [
        "pattern",
        "kind",
        "classification",
        "customer",
        "brand",
        "created_by",
        "created_at",
    ]
    list_filter = ["brand", "kind", "classification"]
    search_fields = ["pattern", "customer__company_name", "customer__last_name"]
    raw_id_fields = ["customer"]


@admin.register(SenderModel)
class SenderModelAdmin(BrandScopedAdmin):
    """The Admin sets per brand whether the first-contact model's proposals are applied on
    arrival, and from which confidence; the model itself is trained, never edited."""

    brand_path = "brand"
    list_display = ["brand", "auto_apply_percent", "documents", "trained_at"]
    fields = ["brand", "auto_apply_percent", "documents", "trained_at"]
    readonly_fields = ["documents", "trained_at"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "brand"] if obj else self.readonly_fields


admin.site.site_header = _("Kundenkommunikation")
admin.site.site_title = _("Kundenkommunikation")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(BrandScopedAdmin):
    """What ESPs sent, read-only: rejected and failed bodies stay visible with the reason.

    Deliveries whose brand is not known (nothing could be parsed) only superusers see."""

    brand_path = "brand"
    list_display = ["received_at", "esp", "kind", "state", "brand", "attempts", "events", "size"]
    list_filter = ["state", "kind", "esp", "brand"]
    search_fields = ["reason", "body_sha256"]
    date_hierarchy = "received_at"
    fields = [
        "esp", "kind", "state", "reason", "brand", "events", "attempts",
        "received_at", "last_received_at", "size", "body_sha256", "headers", "body_preview",
    ]  # fmt: skip
    readonly_fields = fields

    @admin.display(description=_("Inhalt"))
    def body_preview(self, obj: WebhookDelivery) -> str:
        text = obj.body_text()
        limit = 20_000
        return text if len(text) <= limit else text[:limit] + " …"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ConversationChange)
class ConversationChangeAdmin(BrandScopedAdmin):
    """The history of status, priority, assignee, read state and Wiedervorlage; read-only."""

    brand_path = "conversation__brand"
    list_display = ["changed_at", "conversation", "field", "from_value", "to_value", "changed_by"]
    list_filter = ["field"]
    list_select_related = ["conversation", "changed_by"]
    readonly_fields = [
        "conversation", "field", "from_value", "to_value", "changed_by", "changed_at", "batch",
    ]  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
