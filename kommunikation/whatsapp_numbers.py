"""A brand's WhatsApp Business number (Cloud API): ids and credentials.

The model belongs to the kommunikation app (kommunikation/models.py imports it), so its
table is ``kommunikation_whatsappnumber``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class WhatsAppNumber(models.Model):
    """One brand's number on the WhatsApp Cloud API.

    The access token and the app secret are stored (every request and every webhook
    needs them) but never shown again after saving, as the sevDesk token. Values from
    the environment (``WHATSAPP_<FIELD>_<SLUG>``, settings.WHATSAPP_CREDENTIALS) win over
    the stored ones. Meta calls ``/webhooks/whatsapp/<brand slug>/``; the app secret of
    that brand's number checks the signature.
    """

    brand = models.OneToOneField(
        "kommunikation.BusinessEntity",
        on_delete=models.CASCADE,
        related_name="whatsapp_account",
        verbose_name=_("Marke"),
    )
    display_number = models.CharField(
        _("Nummer"), max_length=20, help_text=_("Die Nummer im internationalen Format (E.164).")
    )
    phone_number_id = models.CharField(
        _("Phone-Number-ID"), max_length=40, unique=True, help_text=_("Aus dem WhatsApp Manager.")
    )
    business_account_id = models.CharField(_("WABA-ID"), max_length=40, blank=True)
    access_token = models.CharField(_("Zugriffstoken"), max_length=600, blank=True)
    app_secret = models.CharField(_("App-Geheimnis"), max_length=200, blank=True)
    verify_token = models.CharField(
        _("Verifizierungstoken"),
        max_length=200,
        blank=True,
        help_text=_("Frei gewählt; dasselbe im Webhook-Setup bei Meta eintragen."),
    )
    active = models.BooleanField(_("aktiv"), default=True)

    class Meta:
        verbose_name = _("WhatsApp-Nummer")
        verbose_name_plural = _("WhatsApp-Nummern")
        ordering = ["brand"]

    def __str__(self) -> str:
        return f"WhatsApp {self.brand} {self.display_number}"

    def _env(self, field: str) -> str:
        return settings.WHATSAPP_CREDENTIALS.get(self.brand.slug.lower(), {}).get(field, "")

    @property
    def effective_access_token(self) -> str:
        return self._env("access_token") or self.access_token

    @property
    def effective_app_secret(self) -> str:
        return self._env("app_secret") or self.app_secret

    @property
    def effective_verify_token(self) -> str:
        return self._env("verify_token") or self.verify_token
