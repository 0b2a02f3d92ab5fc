"""The sevDesk connection of a brand and the last seen state of each sevDesk record.

These models belong to the kommunikation app (kommunikation/models.py imports them), so their
tables are ``kommunikation_sevdeskconnection`` and ``kommunikation_sevdesksnapshot``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SevdeskConnection(models.Model):
    """One brand's sevDesk account: where, with which token, and how far the sync got.

    The token is stored (every request needs it) but never shown again after saving; a token
    from the environment (settings.SEVDESK_TOKENS / SEVDESK_API_TOKEN) wins over the stored
    one, and then the row only keeps the cursors and the last result.
    """

    brand = models.OneToOneField(
        "kommunikation.BusinessEntity",
        on_delete=models.CASCADE,
        related_name="sevdesk_connection",
        verbose_name=_("Marke"),
    )
    base_url = models.URLField(_("API-Adresse"), default="https://my.sevdesk.de/api/v1")
    token = models.CharField(_("API-Token"), max_length=200, blank=True)
    active = models.BooleanField(_("aktiv"), default=True)
    # {"Contact": "<ISO time>", ...}: the highest `update` seen per resource (high-water mark)
    cursors = models.JSONField(_("Stand je Ressource"), default=dict, blank=True)
    # set when the first sync finished: before that nothing becomes an event (first-sync guard)
    initial_sync_at = models.DateTimeField(_("Erstabgleich abgeschlossen"), null=True, blank=True)
    last_sync_at = models.DateTimeField(_("letzter Abgleich"), null=True, blank=True)
    last_result = models.CharField(_("letztes Ergebnis"), max_length=500, blank=True)
    last_error = models.TextField(_("letzter Fehler"), blank=True)

    class Meta:
        verbose_name = _("sevDesk-Verbindung")
        verbose_name_plural = _("sevDesk-Verbindungen")
        ordering = ["brand"]

    def __str__(self) -> str:
        return f"sevDesk {self.brand}"

    @property
    def env_token(self) -> str:
        """The token the environment gives this brand ('' for none)."""
        slug = self.brand.slug.lower()
        if slug in settings.SEVDESK_TOKENS:
            return settings.SEVDESK_TOKENS[slug]
        if settings.SEVDESK_API_TOKEN and settings.SEVDESK_BRAND.lower() in ("", slug):
            return settings.SEVDESK_API_TOKEN
        return ""

    @property
    def effective_token(self) -> str:
        return self.env_token or self.token

    @property
    def effective_base_url(self) -> str:
        if self.env_token and settings.SEVDESK_BASE_URL:
            return settings.SEVDESK_BASE_URL
        return self.base_url


class SevdeskSnapshot(models.Model):
    """The last seen state of one sevDesk invoice, order or contact.

    ``digest`` is a SHA-256 over the fields that matter for events (status, amounts, dates);
    ``version`` counts its changes, so "the same change" has one name (the event source key).
    The denormalised columns serve the overdue scan and segmentation.
    """

    brand = models.ForeignKey(
        "kommunikation.BusinessEntity",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("Marke"),
    )
    resource = models.CharField(_("Ressource"), max_length=20)  # Invoice, Order, Contact
    external_id = models.CharField(_("sevDesk-ID"), max_length=40)
    digest = models.CharField(_("Prüfsumme"), max_length=64)
    version = models.PositiveIntegerField(_("Version"), default=1)
    data = models.JSONField(_("Felder"), default=dict)
    customer = models.ForeignKey(
        "kommunikation.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sevdesk_snapshots",
        verbose_name=_("Kunde"),
    )
    kind = models.CharField(_("Art"), max_length=4, blank=True)  # RE, SR, AN, AB, LI, ...
    status = models.CharField(_("Status"), max_length=10, blank=True)
    document_date = models.DateField(_("Belegdatum"), null=True, blank=True)
    due_date = models.DateField(_("fällig am"), null=True, blank=True)
    amount_net = models.DecimalField(_("netto"), max_digits=14, decimal_places=2, default=0)
    open_amount = models.DecimalField(_("offen"), max_digits=14, decimal_places=2, default=0)
    updated_at = models.DateTimeField(_("zuletzt geändert"), auto_now=True)

    class Meta:
        verbose_name = _("sevDesk-Stand")
        verbose_name_plural = _("sevDesk-Stände")
        constraints = [
            # the sync upserts by this key
            models.UniqueConstraint(
                fields=["brand", "resource", "external_id"], name="sevdesk_snapshot_unique"
            ),
        ]
        indexes = [
            # the daily overdue scan: open invoices by due date
            models.Index(fields=["resource", "status", "due_date"], name="sevdesk_snapshot_open"),
            # segmentation: a customer's documents by date
            models.Index(fields=["customer", "document_date"], name="sevdesk_snapshot_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.external_id} v{self.version}"
