"""Consent, suppression, preferences and the audit log in the admin; every change audited.

Who sees what (all brand-scoped through kommunikation.admin_scoping):
- consents and preferences: those of customers of the user's brands;
- suppressions are per address and hold for every brand (a bounce is a fact about the
  address): listed to staff of a brand that has a customer with that address; added
  only for such an address; lifted only by someone who answers for every brand that has
  a customer with it (else lifting would unblock another brand's customer); never edited
  in place (a changed address would silently lift the old block);
- audit entries: those filed under a brand or a customer of the user's brands; entries
  with neither (global suppression changes without a customer, system events) only
  superusers see.
"""

from __future__ import annotations

import contextlib

from django.contrib import admin
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from compliance.models import AuditEntry, ChannelPreference, Consent, Suppression
from compliance.services import Actor, lift_suppression, record_consent, suppress_address
from kommunikation.admin_scoping import BrandCheckedModelForm, BrandScopedAdmin
from kommunikation.models import BusinessEntity, ContactPoint, Customer, normalize_contact


def _without_bulk_delete(actions: dict) -> dict:
    # Deleting goes through delete_model (a named, audited function) one object at a time.
    actions.pop("delete_selected", None)
    return actions


@admin.register(Consent)
class ConsentAdmin(BrandScopedAdmin):
    brand_path = "customer__brand"
    list_display = ["customer", "purpose", "channel", "state", "source", "recorded_at"]
    list_filter = ["purpose", "channel", "state", "source"]
    search_fields = ["customer__last_name", "customer__company_name", "address"]
    raw_id_fields = ["customer"]
    readonly_fields = ["recorded_by"]
    date_hierarchy = "recorded_at"

    def get_actions(self, request):
        return _without_bulk_delete(super().get_actions(request))

    def has_change_permission(self, request, obj=None):
        return False  # a consent is evidence; changes are new records

    def has_delete_permission(self, request, obj=None):
        return False  # evidence is removed only with the customer (erasure)

    def save_model(self, request, obj, form, change):
        consent = record_consent(
            customer=obj.customer,
            purpose=obj.purpose,
            channel=obj.channel,
            state=obj.state,
            source=obj.source,
            actor=Actor.staff(request.user),
            wording=obj.wording,
            wording_version=obj.wording_version,
            ip_address=obj.ip_address,
            address=obj.address,
        )
        obj.pk, obj.recorded_by, obj.recorded_at = (
            consent.pk,
            consent.recorded_by,
            consent.recorded_at,
        )


def _address_holders(suppression: Suppression):
    """Customers (of any brand) who have the suppressed address or number."""
    return Customer.objects.filter(contact_points__value=suppression.value).distinct()


class SuppressionForm(BrandCheckedModelForm):
    user = None  # set per request by SuppressionAdmin.get_form

    class Meta:
        model = Suppression
        fields = ["channel", "value", "reason", "detail"]

    def clean(self):
        cleaned = super().clean()
        channel, value = cleaned.get("channel"), cleaned.get("value")
        if not value:
            return cleaned
        with contextlib.suppress(ValueError):  # an invalid number simply matches no customer
            value = normalize_contact("email" if channel == "email" else "phone", value)
        cleaned["value"] = value
        if self.user is None or self.user.is_superuser:
            return cleaned
        own = ContactPoint.objects.filter(
            value=value, customer__brand__in=BusinessEntity.objects.for_user(self.user)
        )
        if not own.exists():
            self.add_error(
                "value",
                _("Nur Adressen und Nummern von Kunden der eigenen Marken können gesperrt werden."),
            )
        return cleaned


@admin.register(Suppression)
class SuppressionAdmin(BrandScopedAdmin):
    brand_path = None
    form = SuppressionForm
    list_display = ["value", "channel", "reason", "created_at"]
    list_filter = ["channel", "reason"]
    search_fields = ["value"]
    readonly_fields = ["created_at"]

    def scope_queryset(self, queryset, brands):
        values = ContactPoint.objects.filter(customer__brand__in=brands).values("value")
        return queryset.filter(value__in=values)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.user = request.user
        return form

    def get_actions(self, request):
        return _without_bulk_delete(super().get_actions(request))

    def has_change_permission(self, request, obj=None):
        return False  # never edited in place: add a new entry, lift the old one

    def has_delete_permission(self, request, obj=None):
        if not super().has_delete_permission(request, obj):
            return False
        if obj is None:
            return True
        return not obj.protects_customers_outside(BusinessEntity.objects.for_user(request.user))

    def _customer_id(self, request, suppression: Suppression) -> int | None:
        visible = self.related_scope(Customer, request).values("pk")
        holders = _address_holders(suppression).filter(pk__in=visible)
        return holders.values_list("pk", flat=True).order_by("pk").first()

    def save_model(self, request, obj, form, change):
        saved = suppress_address(
            channel=obj.channel,
            value=obj.value,
            reason=obj.reason,
            actor=Actor.staff(request.user),
            detail=obj.detail,
            customer_id=self._customer_id(request, obj),
        )
        obj.pk, obj.value, obj.created_at = saved.pk, saved.value, saved.created_at

    def delete_model(self, request, obj):
        lift_suppression(
            suppression=obj,
            actor=Actor.staff(request.user),
            customer_id=self._customer_id(request, obj),
        )


@admin.register(ChannelPreference)
class ChannelPreferenceAdmin(BrandScopedAdmin):
    """Read-only: preferences change where their consent is recorded with them, on the
    customer page (``update_preferences``, audited); a row edited here would bypass that."""

    brand_path = "customer__brand"
    list_display = ["customer", "channel", "category", "allowed", "updated_at"]
    list_filter = ["channel", "category", "allowed"]
    raw_id_fields = ["customer"]

    def get_actions(self, request):
        return _without_bulk_delete(super().get_actions(request))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(BrandScopedAdmin):
    brand_path = None
    list_display = ["at", "actor_label", "action", "object_type", "object_id", "customer_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_label", "object_id", "customer_id"]
    date_hierarchy = "at"

    def scope_queryset(self, queryset, brands):
        customers = Customer.objects.filter(brand__in=brands).values("pk")
        return queryset.filter(Q(brand_id__in=brands.values("pk")) | Q(customer_id__in=customers))

    def get_actions(self, request):
        return _without_bulk_delete(super().get_actions(request))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
