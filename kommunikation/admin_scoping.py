"""Brand scoping for the Django admin: staff who are not superusers see only their brands."""

from __future__ import annotations

from django.contrib import admin

from kommunikation.models import BusinessEntity


class BrandScopedAdmin(admin.ModelAdmin):
    """Set ``brand_path`` to the lookup from the model to its BusinessEntity."""

    brand_path = "brand"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        brands = BusinessEntity.objects.for_user(request.user)
        if self.brand_path == "":
            return queryset.filter(pk__in=brands)
        return queryset.filter(**{f"{self.brand_path}__in": brands})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is BusinessEntity and not request.user.is_superuser:
            kwargs["queryset"] = BusinessEntity.objects.for_user(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
