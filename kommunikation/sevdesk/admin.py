"""The sevDesk connection in the admin: the token is written, never shown again."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from kommunikation.admin_scoping import BrandCheckedModelForm, BrandScopedAdmin
from kommunikation.sevdesk.models import SevdeskConnection


class SevdeskConnectionForm(BrandCheckedModelForm):
    base_url = forms.URLField(
        label=_("API-Adresse"), initial="https://my.sevdesk.de/api/v1", assume_scheme="https"
    )
    token = forms.CharField(
        label=_("API-Token"),
        required=False,
        # render_value=False: the saved token never goes back to the browser
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "In sevDesk unter Einstellungen → Benutzer. Wird nach dem Speichern nicht mehr "
            "angezeigt; leer lassen behält den bisherigen Token."
        ),
    )

    class Meta:
        model = SevdeskConnection
        fields = ["brand", "base_url", "token", "active"]

    def clean_token(self) -> str:
        token = self.cleaned_data["token"].strip()
        return token or (self.instance.token if self.instance.pk else "")


@admin.register(SevdeskConnection)
class SevdeskConnectionAdmin(BrandScopedAdmin):
    brand_path = "brand"
    form = SevdeskConnectionForm
    list_display = ["brand", "active", "has_token", "initial_sync_at", "last_sync_at", "last_error"]
    readonly_fields = ["initial_sync_at", "last_sync_at", "last_result", "last_error", "cursors"]
    list_select_related = ["brand"]

    @admin.display(description=_("Token hinterlegt"), boolean=True)
    def has_token(self, obj: SevdeskConnection) -> bool:
        return bool(obj.effective_token)
