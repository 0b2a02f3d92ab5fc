from django.contrib import admin

from kommunikation.admin_scoping import BrandScopedAdmin
from kommunikation.models import BusinessEntity, ContactPoint, Customer


@admin.register(BusinessEntity)
class BusinessEntityAdmin(BrandScopedAdmin):
    brand_path = ""
    list_display = ["name", "slug", "support_email", "whatsapp_number", "default_language"]
    search_fields = ["name", "slug", "legal_name", "support_email"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["staff"]


class ContactPointInline(admin.TabularInline):
    model = ContactPoint
    extra = 1
    fields = ["channel", "value", "type", "position", "verified", "bouncing"]


@admin.register(Customer)
class CustomerAdmin(BrandScopedAdmin):
    brand_path = "brand"
    list_display = ["display_name", "number", "kind", "brand", "city", "segment", "vip"]
    list_filter = ["brand", "kind", "is_company", "vip", "language", "segment"]
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
