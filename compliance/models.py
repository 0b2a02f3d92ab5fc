"""Consent, suppression, channel preferences and the append-only audit log.

Only the customer model is imported from the rest of the project: compliance
depends on nothing of ours but the customer (DESIGN.md).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kommunikation.models import Category, Customer
from kommunikation.models import SendChannel as Channel

# Contract messages (Art. 6 (1) b DSGVO) need no consent; these three do, and count
# against the frequency caps.
CONSENT_CATEGORIES = frozenset({Category.MARKETING, Category.RELATIONSHIP, Category.FEEDBACK})


def needs_consent(category: str) -> bool:
    return category in CONSENT_CATEGORIES


class ConsentQuerySet(models.QuerySet):
    def current(self, *, customer, purpose: str, channel: str) -> Consent | None:
        """The newest record for this purpose and channel: later records supersede earlier ones."""
        return (
            self.filter(customer=customer, purpose=purpose, channel=channel)
            .order_by("-recorded_at", "-id")
            .first()
        )


class Consent(models.Model):
    """One consent event. Records are never changed: a withdrawal is a new record."""

    class State(models.TextChoices):
        PENDING = "pending", _("wartet auf Bestätigung")
        GRANTED = "granted", _("erteilt")
        WITHDRAWN = "withdrawn", _("widerrufen")

    class Source(models.TextChoices):
        WEB_FORM = "web_form", _("Webformular")
        DOUBLE_OPT_IN = "double_opt_in", _("Double-Opt-in")
        IMPORT = "import", _("Import")
        PHONE = "phone", _("telefonisch (Mitarbeitende)")
        STAFF = "staff", _("Mitarbeitende")
        PREFERENCE_PAGE = "preference_page", _("Präferenzseite")
        UNSUBSCRIBE = "unsubscribe", _("Abmeldelink")
        SMS_STOP = "sms_stop", _("SMS-Antwort STOP")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="consents", verbose_name=_("Kunde")
    )
    purpose = models.CharField(_("Zweck"), max_length=14, choices=Category.choices)
    channel = models.CharField(_("Kanal"), max_length=10, choices=Channel.choices)
    state = models.CharField(_("Status"), max_length=10, choices=State.choices)
    source = models.CharField(_("Quelle"), max_length=16, choices=Source.choices)
    wording = models.TextField(_("angezeigter Text"), blank=True)
    wording_version = models.CharField(_("Textversion"), max_length=40, blank=True)
    ip_address = models.GenericIPAddressField(_("IP-Adresse"), null=True, blank=True)
    address = models.CharField(_("Adresse / Nummer"), max_length=254, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("erfasst von"),
    )
    recorded_at = models.DateTimeField(_("Zeitpunkt"), default=timezone.now)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        verbose_name = _("Einwilligung")
        verbose_name_plural = _("Einwilligungen")
        ordering = ["-recorded_at", "-id"]
        indexes = [
            # the gate: newest record per customer, purpose and channel
            models.Index(
                fields=["customer", "purpose", "channel", "-recorded_at"], name="consent_current"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} · {self.get_channel_display()}: {self.get_state_display()}"

    @property
    def is_granted(self) -> bool:
        return self.state == self.State.GRANTED


class Suppression(models.Model):
    """An address or number nothing (or nothing promotional) may be sent to."""

    class Reason(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", _("unzustellbar (Hard Bounce)")
        COMPLAINT = "complaint", _("Spam-Beschwerde")
        UNSUBSCRIBED = "unsubscribed", _("abgemeldet")
        STAFF = "staff", _("von Mitarbeitenden gesperrt")

    channel = models.CharField(_("Kanal"), max_length=10, choices=Channel.choices)
    value = models.CharField(_("Adresse / Nummer"), max_length=254)
    reason = models.CharField(_("Grund"), max_length=12, choices=Reason.choices)
    detail = models.CharField(_("Einzelheiten"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("gesperrt seit"), default=timezone.now)

    class Meta:
        verbose_name = _("Sperrlisteneintrag")
        verbose_name_plural = _("Sperrliste")
        ordering = ["-created_at"]
        constraints = [
            # the gate looks an address up by (channel, value); one row each
            models.UniqueConstraint(fields=["channel", "value"], name="suppression_unique_address")
        ]

    def __str__(self) -> str:
        return f"{self.value} ({self.get_reason_display()})"

    def protects_customers_outside(self, brands) -> bool:
        """True when a customer of a brand not in ``brands`` has this address or number:
        lifting the entry would unblock them too (a suppression holds for every brand)."""
        holders = Customer.objects.filter(contact_points__value=self.value)
        return holders.exclude(brand__in=brands).exists()

    def blocks(self, category: str) -> bool:
        """An unsubscribe stops promotional mail only; invoices still reach the customer
        (contract, Art. 6 (1) b). Bounces, complaints and staff blocks stop everything."""
        if self.reason == self.Reason.UNSUBSCRIBED:
            return needs_consent(category)
        return True


class ChannelPreference(models.Model):
    """What a customer wants per channel and category; no row means "allowed"."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="channel_preferences"
    )
    channel = models.CharField(_("Kanal"), max_length=10, choices=Channel.choices)
    category = models.CharField(_("Art"), max_length=14, choices=Category.choices)
    allowed = models.BooleanField(_("erwünscht"), default=True)
    updated_at = models.DateTimeField(_("geändert"), default=timezone.now)

    class Meta:
        verbose_name = _("Kanalpräferenz")
        verbose_name_plural = _("Kanalpräferenzen")
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "channel", "category"], name="preference_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} · {self.get_channel_display()}: {self.allowed}"


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an audit entry."""


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Protokolleinträge können nicht geändert werden.")

    def delete(self):
        raise AppendOnlyError("Protokolleinträge können nicht gelöscht werden.")


class AuditEntry(models.Model):
    """Append-only: who changed which consent, preference, suppression or outbox row, and when.

    The customer is kept as a plain id (not a foreign key) so that erasing a
    customer can never cascade into the log.
    """

    at = models.DateTimeField(_("Zeitpunkt"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Mitarbeiter/in"),
    )
    actor_label = models.CharField(_("Akteur"), max_length=200)
    action = models.CharField(_("Aktion"), max_length=60)
    object_type = models.CharField(_("Objekt"), max_length=60)
    object_id = models.CharField(_("Objekt-ID"), max_length=60, blank=True)
    customer_id = models.BigIntegerField(_("Kunden-ID"), null=True, blank=True, db_index=True)
    # the brand the change belongs to (a plain id like the customer's): the admin lists an
    # entry to the staff of that brand; entries with neither brand nor customer (global
    # suppression changes, system events) only to superusers
    brand_id = models.BigIntegerField(_("Marken-ID"), null=True, blank=True, db_index=True)
    changes = models.JSONField(_("Änderungen"), default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("Protokolleintrag")
        verbose_name_plural = _("Protokoll")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%d.%m.%Y %H:%M} {self.actor_label}: {self.action}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnlyError("Protokolleinträge können nicht geändert werden.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Protokolleinträge können nicht gelöscht werden.")
