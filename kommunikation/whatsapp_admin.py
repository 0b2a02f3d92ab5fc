"""WhatsApp numbers in the admin: token and app secret are written, never shown again."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from kommunikation.admin_scoping import BrandCheckedModelForm, BrandScopedAdmin
from kommunikation.models import WhatsAppNumber

_HIDDEN = _("Wird nach dem Speichern nicht mehr angezeigt; leer lassen behält den bisherigen Wert.")


def _secret(label) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        # render_value=False: the saved value never goes back to the browser
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_HIDDEN,
    )


class WhatsAppNumberForm(BrandCheckedModelForm):
    access_token = _secret(_("Zugriffstoken"))
    app_secret = _secret(_("App-Geheimnis"))

    class Meta:
        model = WhatsAppNumber
        fields = [
            "brand", "display_number", "phone_number_id", "business_account_id",
            "access_token", "app_secret", "verify_token", "active",
        ]  # fmt: skip

    def _kept(self, field: str) -> str:
        value = self.cleaned_data[field].strip()
        return value or (getattr(self.instance, field) if self.instance.pk else "")

    def clean_access_token(self) -> str:
        return self._kept("access_token")

    def clean_app_secret(self) -> str:
        return self._kept("app_secret")


@admin.register(WhatsAppNumber)
class WhatsAppNumberAdmin(BrandScopedAdmin):
    brand_path = "brand"
    form = WhatsAppNumberForm
    list_display = ["brand", "display_number", "phone_number_id", "active", "has_token"]
    list_select_related = ["brand"]

    @admin.display(description=_("Token hinterlegt"), boolean=True)
    def has_token(self, obj: WhatsAppNumber) -> bool:
        return bool(obj.effective_access_token)
