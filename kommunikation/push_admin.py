"""Push connections in the admin: the service account's key file is written, never shown
again (stored encrypted)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from kommunikation.admin_scoping import BrandCheckedModelForm, BrandScopedAdmin
from kommunikation.models import PushConnection
from kommunikation.push_connections import parse_service_account


class PushConnectionForm(BrandCheckedModelForm):
    service_account = forms.CharField(
        label=_("Dienstkonto (JSON-Schlüsseldatei)"),
        required=False,
        # a Textarea never shows a saved value: the form starts empty on every edit
        widget=forms.Textarea(attrs={"rows": 6, "autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "Inhalt der Datei aus der Firebase-Konsole (Projekteinstellungen → Dienstkonten → "
            "Neuen privaten Schlüssel generieren). Wird verschlüsselt gespeichert und nicht mehr "
            "angezeigt; leer lassen behält den bisherigen Schlüssel."
        ),
    )

    class Meta:
        model = PushConnection
        fields = ["brand", "project_id", "service_account", "validate_only", "active"]

    def clean_service_account(self) -> str:
        text = self.cleaned_data["service_account"].strip()
        if not text:
            stored = self.instance.pk and self.instance.service_account_encrypted
            if not stored and not self._from_environment():
                raise forms.ValidationError(_("Bitte die Schlüsseldatei einfügen."))
            return ""
        try:
            parse_service_account(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return text

    def _from_environment(self) -> bool:
        from django.conf import settings

        brand = self.cleaned_data.get("brand") or getattr(self.instance, "brand", None)
        return bool(brand and settings.FCM_SERVICE_ACCOUNTS.get(brand.slug.lower()))

    def save(self, commit: bool = True):
        if self.cleaned_data.get("service_account"):
            self.instance.set_service_account(self.cleaned_data["service_account"])
        return super().save(commit=commit)


@admin.register(PushConnection)
class PushConnectionAdmin(BrandScopedAdmin):
    brand_path = "brand"
    form = PushConnectionForm
    list_display = ["brand", "project", "has_key", "validate_only", "active"]
    list_select_related = ["brand"]

    @admin.display(description=_("Firebase-Projekt"))
    def project(self, obj: PushConnection) -> str:
        return obj.effective_project_id

    @admin.display(description=_("Schlüssel hinterlegt"), boolean=True)
    def has_key(self, obj: PushConnection) -> bool:
        return obj.service_account_info() is not None
