"""Mailboxes in the admin: password or OAuth2 (Microsoft 365, Google Workspace), secrets
written and never shown again, and "Verbindung testen" (token, IMAP and SMTP login)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from conversations.mail_oauth import parse_service_account
from conversations.mailbox_smtp import check_connection
from conversations.models import Mailbox
from kommunikation.admin_scoping import BrandCheckedModelForm, BrandScopedAdmin

_KEEP = _("Wird nach dem Speichern nicht mehr angezeigt; leer lassen behält den bisherigen Wert.")


class _BlankTextarea(forms.Textarea):
    """A textarea that never sends its saved value back to the browser."""

    def format_value(self, value):
        return None


def _secret(label, *, widget=None) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        # render_value=False: a saved secret never goes back to the browser
        widget=widget
        or forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_KEEP,
    )


class MailboxForm(BrandCheckedModelForm):
    imap_password = _secret(_("IMAP-Passwort"))
    oauth_client_secret = _secret(_("geheimer Clientschlüssel"))
    google_service_account = _secret(
        _("Google-Dienstkonto (JSON-Schlüssel)"), widget=_BlankTextarea(attrs={"rows": 4})
    )

    class Meta:
        model = Mailbox
        fields = "__all__"

    def _kept(self, name: str) -> str:
        value = self.cleaned_data[name]
        return value or (getattr(self.instance, name) if self.instance.pk else "")

    def clean_imap_password(self) -> str:
        return self._kept("imap_password")

    def clean_oauth_client_secret(self) -> str:
        return self._kept("oauth_client_secret")

    def clean_google_service_account(self) -> str:
        value = self.cleaned_data["google_service_account"]
        if value:
            try:
                parse_service_account(value)
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from None
        return self._kept("google_service_account")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("auth_mode") == Mailbox.AuthMode.MICROSOFT and not cleaned.get(
            "oauth_tenant_id"
        ):
            self.add_error("oauth_tenant_id", _("Für Microsoft 365 nötig."))
        return cleaned


@admin.register(Mailbox)
class MailboxAdmin(BrandScopedAdmin):
    brand_path = "brand"
    form = MailboxForm
    list_display = [
        "name", "brand", "address", "auth_mode", "imap_host", "smtp_send", "active",
        "last_fetched_at", "has_error",
    ]  # fmt: skip
    list_filter = ["brand", "active", "auth_mode"]
    search_fields = ["name", "address", "imap_host", "imap_user"]
    readonly_fields = ["uidvalidity", "last_uid", "last_fetched_at", "last_error"]
    actions = ["test_connection"]
    fieldsets = [
        (None, {"fields": ["brand", "name", "address", "active"]}),
        (
            _("Anmeldung"),
            {
                "fields": [
                    "auth_mode",
                    "imap_user",
                    "imap_password",
                    "oauth_tenant_id",
                    "oauth_client_id",
                    "oauth_client_secret",
                    "google_service_account",
                ],  # fmt: skip
                "description": _(
                    "Passwort: IMAP-Benutzer und Passwort. Microsoft 365: Mandanten-ID, Client-ID "
                    "und geheimer Clientschlüssel der App-Registrierung (IMAP.AccessAsApp, "
                    "SMTP.SendAsApp). Google Workspace: JSON-Schlüssel eines Dienstkontos mit "
                    "domänenweiter Delegierung (Bereich https://mail.google.com/). Der "
                    "IMAP-Benutzer ist dann das Postfach, leer: die Adresse."
                ),
            },
        ),
        (_("Abruf (IMAP)"), {"fields": ["imap_host", "imap_port", "imap_ssl", "imap_folder"]}),
        (_("Senden (SMTP)"), {"fields": ["smtp_send", "smtp_host", "smtp_port"]}),
        (
            _("Zustand"),
            {"fields": ["last_error", "last_fetched_at", "uidvalidity", "last_uid"]},
        ),
    ]

    @admin.display(description=_("Fehler"), boolean=True)
    def has_error(self, obj: Mailbox) -> bool:
        return bool(obj.last_error)

    @admin.action(description=_("Verbindung testen"))
    def test_connection(self, request, queryset) -> None:
        for mailbox in queryset.select_related("brand"):
            result = check_connection(mailbox)
            self.message_user(
                request,
                f"{mailbox}: {' '.join(result.lines)}",
                messages.SUCCESS if result.ok else messages.ERROR,
            )
