"""A brand's letter connection, each letter with its PDF and postal status, print batches."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class LetterMode(models.TextChoices):
    SELFPRINT = "selfprint", _("selbst drucken (Druckstapel)")
    PINGEN = "pingen", _("Pingen (Hybridpost)")


class LetterConnection(models.Model):
    """How one brand's letters go out: Pingen v2 with its credentials, or the print batch.

    The client secret and the webhook signing key are stored (every token request and
    every callback needs them) but never shown again after saving; credentials from the
    environment (PINGEN_*) win over stored ones.
    """

    brand = models.OneToOneField(
        "kommunikation.BusinessEntity",
        on_delete=models.CASCADE,
        related_name="letter_connection",
        verbose_name=_("Marke"),
    )
    mode = models.CharField(
        _("Versandart"), max_length=10, choices=LetterMode.choices, default=LetterMode.SELFPRINT
    )
    api_url = models.URLField(_("API-Adresse"), default="https://api.pingen.com")
    identity_url = models.URLField(_("Anmelde-Adresse"), default="https://identity.pingen.com")
    client_id = models.CharField(_("Client-ID"), max_length=200, blank=True)
    client_secret = models.CharField(_("Client-Secret"), max_length=200, blank=True)
    organisation_id = models.CharField(_("Organisations-ID"), max_length=100, blank=True)
    webhook_secret = models.CharField(_("Webhook-Signaturschlüssel"), max_length=200, blank=True)
    auto_send = models.BooleanField(
        _("sofort versenden"),
        default=True,
        help_text=_("Aus: der Brief wird angelegt und mit einem zweiten Aufruf versendet."),
    )
    delivery_product = models.CharField(_("Versandprodukt"), max_length=30, default="cheap")
    print_mode = models.CharField(
        _("Druck"),
        max_length=7,
        choices=[("simplex", _("einseitig")), ("duplex", _("beidseitig"))],
        default="simplex",
    )
    print_spectrum = models.CharField(
        _("Farbe"),
        max_length=9,
        choices=[("grayscale", _("Graustufen")), ("color", _("farbig"))],
        default="grayscale",
    )
    address_position = models.CharField(
        _("Fensterposition"),
        max_length=5,
        choices=[("left", _("links (DIN 5008)")), ("right", _("rechts (Schweiz)"))],
        default="left",
    )

    class Meta:
        verbose_name = _("Briefversand")
        verbose_name_plural = _("Briefversand")
        ordering = ["brand"]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} – {self.brand}"


class PostalStatus(models.TextChoices):
    """Where a letter is; later states never go back to earlier ones (see RANK)."""

    READY = "ready", _("zum Druck bereit")
    SUBMITTED = "submitted", _("an Pingen übermittelt")
    ISSUE = "issue", _("Rückfrage von Pingen")
    ACCEPTED = "accepted", _("angenommen")
    PRINTING = "printing", _("im Druck")
    SENT = "sent", _("der Post übergeben")
    DELIVERED = "delivered", _("zugestellt")
    UNDELIVERABLE = "undeliverable", _("unzustellbar")
    CANCELLED = "cancelled", _("storniert")
    FAILED = "failed", _("abgelehnt")


RANK = {
    PostalStatus.READY: 0,
    PostalStatus.SUBMITTED: 1,
    PostalStatus.ISSUE: 2,
    PostalStatus.ACCEPTED: 3,
    PostalStatus.PRINTING: 4,
    PostalStatus.SENT: 5,
    PostalStatus.DELIVERED: 6,
    PostalStatus.UNDELIVERABLE: 7,
    PostalStatus.CANCELLED: 7,
    PostalStatus.FAILED: 7,
}


class LetterQuerySet(models.QuerySet):
    def for_brands(self, brands) -> LetterQuerySet:
        return self.filter(brand__in=brands)

    def ready_to_print(self) -> LetterQuerySet:
        return self.filter(mode=LetterMode.SELFPRINT, status=PostalStatus.READY, batch__isnull=True)


class Letter(models.Model):
    """One letter we sent (or hold for printing): its PDF, who it is for, where it is."""

    brand = models.ForeignKey(
        "kommunikation.BusinessEntity",
        on_delete=models.CASCADE,
        related_name="letters",
        verbose_name=_("Marke"),
    )
    outbound = models.OneToOneField(
        "kommunikation.OutboundMessage",
        on_delete=models.CASCADE,
        related_name="letter",
        verbose_name=_("Ausgang"),
    )
    mode = models.CharField(_("Versandart"), max_length=10, choices=LetterMode.choices)
    status = models.CharField(
        _("Poststatus"), max_length=13, choices=PostalStatus.choices, default=PostalStatus.READY
    )
    provider_id = models.CharField(_("Pingen-ID"), max_length=100, blank=True)
    pdf = models.FileField(_("PDF"), upload_to="letters/%Y/%m/", max_length=200)
    pages = models.PositiveSmallIntegerField(_("Seiten"), default=1)
    recipient = models.CharField(_("Empfänger"), max_length=200, blank=True)
    address = models.CharField(_("Anschrift"), max_length=300, blank=True)
    customer_number = models.CharField(_("Kundennr."), max_length=40, blank=True)
    subject = models.CharField(_("Betreff"), max_length=500, blank=True)
    batch = models.ForeignKey(
        "kommunikation.PrintBatch",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="letters",
        verbose_name=_("Druckstapel"),
    )
    created_at = models.DateTimeField(_("angelegt"))
    status_at = models.DateTimeField(_("Status seit"))

    objects = LetterQuerySet.as_manager()

    class Meta:
        verbose_name = _("Brief")
        verbose_name_plural = _("Briefe")
        ordering = ["created_at", "id"]
        indexes = [
            # the status webhook finds its letter by Pingen's id
            models.Index(fields=["provider_id"], name="letter_provider_id"),
            # the print page and the batch: a brand's ready letters of a day
            models.Index(fields=["brand", "status", "created_at"], name="letter_ready"),
        ]

    def __str__(self) -> str:
        return f"{self.subject or _('Brief')} – {self.recipient}"


class PrintBatch(models.Model):
    """The letters of one day merged into one PDF behind a cover sheet, kept for download."""

    brand = models.ForeignKey(
        "kommunikation.BusinessEntity",
        on_delete=models.CASCADE,
        related_name="print_batches",
        verbose_name=_("Marke"),
    )
    day = models.DateField(_("Drucktag"))
    file = models.FileField(_("PDF"), upload_to="print-batches/%Y/%m/", max_length=200, blank=True)
    letter_count = models.PositiveIntegerField(_("Briefe"), default=0)
    page_count = models.PositiveIntegerField(_("Seiten"), default=0)
    size = models.PositiveIntegerField(_("Größe"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("erstellt von"),
    )
    created_at = models.DateTimeField(_("erstellt"))

    class Meta:
        verbose_name = _("Druckstapel")
        verbose_name_plural = _("Druckstapel")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.brand} {self.day:%d.%m.%Y} ({self.letter_count})"
