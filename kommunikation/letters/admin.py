"""Letters in the admin: the brand's connection (secrets written, never shown again), the
letters with their postal status, and the print batches (read-only)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from kommunikation.admin_scoping import BrandCheckedModelForm, BrandScopedAdmin
from kommunikation.letters.connection import letter_config
from kommunikation.letters.models import Letter, LetterConnection, PrintBatch

_SECRET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
_KEEP = _("Wird nach dem Speichern nicht mehr angezeigt; leer lassen behält den bisherigen Wert.")


class LetterConnectionForm(BrandCheckedModelForm):
    api_url = forms.URLField(
        label=_("API-Adresse"), initial="https://api.pingen.com", assume_scheme="https"
    )
    identity_url = forms.URLField(
        label=_("Anmelde-Adresse"), initial="https://identity.pingen.com", assume_scheme="https"
    )
    # render_value=False: a saved secret never goes back to the browser
    client_secret = forms.CharField(
        label=_("Client-Secret"), required=False, widget=_SECRET, help_text=_KEEP
    )
    webhook_secret = forms.CharField(
        label=_("Webhook-Signaturschlüssel"), required=False, widget=_SECRET, help_text=_KEEP
    )

    class Meta:
        model = LetterConnection
        fields = [
            "brand", "mode", "api_url", "identity_url", "client_id", "client_secret",
            "organisation_id", "webhook_secret", "auto_send", "delivery_product", "print_mode",
            "print_spectrum", "address_position",
        ]  # fmt: skip

    def _kept(self, name: str) -> str:
        value = self.cleaned_data[name].strip()
        return value or (getattr(self.instance, name) if self.instance.pk else "")

    def clean_client_secret(self) -> str:
        return self._kept("client_secret")

    def clean_webhook_secret(self) -> str:
        return self._kept("webhook_secret")


class ReadOnlyAdmin(BrandScopedAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LetterConnection)
class LetterConnectionAdmin(BrandScopedAdmin):
    brand_path = "brand"
    form = LetterConnectionForm
    list_display = ["brand", "mode", "has_credentials", "auto_send", "delivery_product"]
    list_select_related = ["brand"]

    @admin.display(description=_("Zugangsdaten hinterlegt"), boolean=True)
    def has_credentials(self, obj: LetterConnection) -> bool:
        config = letter_config(obj.brand, obj)
        return bool(config.client_id and config.client_secret)


@admin.register(Letter)
class LetterAdmin(ReadOnlyAdmin):
    brand_path = "brand"
    list_display = ["subject", "recipient", "brand", "mode", "status", "pages", "created_at"]
    list_filter = ["mode", "status"]
    search_fields = ["subject", "recipient", "customer_number", "provider_id"]
    list_select_related = ["brand"]
    raw_id_fields = ["outbound", "batch"]


@admin.register(PrintBatch)
class PrintBatchAdmin(ReadOnlyAdmin):
    brand_path = "brand"
    list_display = ["day", "brand", "letter_count", "page_count", "created_by", "created_at"]
    list_select_related = ["brand", "created_by"]
    raw_id_fields = ["created_by"]
