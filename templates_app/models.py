"""Message templates: key x channel x language x brand, A/B variants, immutable versions."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kommunikation.models import BusinessEntity, Category, Language
from kommunikation.models import SendChannel as Channel


def _event_type_choices():
    from kommunikation.events.catalogue import EVENT_TYPES

    return [(key, f"{et.label} ({key})") for key, et in EVENT_TYPES.items()]


class MessageTemplateQuerySet(models.QuerySet):
    def for_key(self, key: str, channel: str) -> MessageTemplateQuerySet:
        return self.filter(key=key, channel=channel)


class MessageTemplate(models.Model):
    """What is sent for one key on one channel in one language, for one brand or by default."""

    key = models.SlugField(
        _("Schlüssel"), max_length=80, help_text=_("z. B. order_confirmation, payment_reminder_1")
    )
    event_type = models.CharField(
        _("Ereignistyp"),
        max_length=60,
        choices=_event_type_choices,
        help_text=_("Legt fest, welche Variablen die Vorlage verwenden darf."),
    )
    category = models.CharField(_("Kategorie"), max_length=20, choices=Category.choices)
    channel = models.CharField(_("Kanal"), max_length=10, choices=Channel.choices)
    language = models.CharField(
        _("Sprache"), max_length=2, choices=Language.choices, default=Language.DE
    )
    brand = models.ForeignKey(
        BusinessEntity,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="message_templates",
        verbose_name=_("Marke"),
        help_text=_("Leer = Standardvorlage für alle Marken."),
    )
    description = models.CharField(_("Beschreibung"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("angelegt"), auto_now_add=True)

    objects = MessageTemplateQuerySet.as_manager()

    class Meta:
        verbose_name = _("Vorlage")
        verbose_name_plural = _("Vorlagen")
        ordering = ["key", "channel", "language", "brand__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["key", "channel", "language", "brand"],
                condition=Q(brand__isnull=False),
                name="template_unique_per_brand",
            ),
            models.UniqueConstraint(
                fields=["key", "channel", "language"],
                condition=Q(brand__isnull=True),
                name="template_unique_default",
            ),
        ]
        indexes = [
            # render_message's resolution: (key, channel) then language/brand candidates
            models.Index(fields=["key", "channel", "language"], name="template_resolution"),
        ]

    def __str__(self) -> str:
        brand = self.brand.name if self.brand_id else _("Standard")
        return f"{self.key} · {self.get_channel_display()} · {self.language} · {brand}"

    def active_variants(self) -> list[TemplateVariant]:
        return [v for v in self.variants.all() if v.is_active and v.weight > 0]


class TemplateVariant(models.Model):
    """An A/B variant of a template; each customer sticks to one (by a stable hash)."""

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(_("Variante"), max_length=20, default="A")
    weight = models.PositiveIntegerField(
        _("Gewicht"), default=100, help_text=_("Anteil der Empfänger im Verhältnis zu den anderen.")
    )
    is_active = models.BooleanField(_("aktiv"), default=True)

    class Meta:
        verbose_name = _("Variante")
        verbose_name_plural = _("Varianten")
        ordering = ["template", "name"]
        constraints = [
            models.UniqueConstraint(fields=["template", "name"], name="variant_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.template} · {self.name}"

    @property
    def active_version(self) -> TemplateVersion | None:
        """The newest version is the active one; restoring copies an old one to the top."""
        return self.versions.order_by("-number").first()


CONTENT_FIELDS = (
    "subject",
    "text",
    "html",
    "sms_text",
    "whatsapp_name",
    "whatsapp_language",
    "whatsapp_params",
    "letter_body",
)


def content_hash(content: dict) -> str:
    data = {
        field: content.get(field) or ("" if field != "whatsapp_params" else [])
        for field in CONTENT_FIELDS
    }
    if not data["whatsapp_language"]:
        del data["whatsapp_language"]  # versions from before the field keep their hash
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class TemplateVersion(models.Model):
    """Immutable content of a variant. A change is a new version; nothing is updated in place."""

    variant = models.ForeignKey(TemplateVariant, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("Version"))
    subject = models.CharField(_("Betreff"), max_length=300, blank=True)
    text = models.TextField(_("Text"), blank=True)
    html = models.TextField(
        _("HTML"), blank=True, help_text=_("Leer = aus dem Text erzeugt (Absätze).")
    )
    sms_text = models.TextField(_("SMS-Text"), blank=True)
    whatsapp_name = models.CharField(
        _("WhatsApp-Vorlagenname"),
        max_length=120,
        blank=True,
        help_text=_("Name der bei Meta freigegebenen Vorlage."),
    )
    # Meta approves each translation of a template under its own language code (de,
    # en_US, ...), which need not be our template's language (en)
    whatsapp_language = models.CharField(
        _("WhatsApp-Sprachcode"),
        max_length=15,
        blank=True,
        help_text=_(
            "Sprachcode der bei Meta freigegebenen Übersetzung, z. B. de oder en_US; "
            "leer = die Sprache dieser Vorlage."
        ),
    )
    whatsapp_params = models.JSONField(
        _("WhatsApp-Parameter"),
        default=list,
        blank=True,
        help_text=_(
            'Liste von Platzhaltern für {{1}}, {{2}} …, z. B. ["{{ date|datum }}", "{{ time }}"].'
        ),
    )
    letter_body = models.TextField(_("Brieftext"), blank=True)
    content_hash = models.CharField(max_length=64, editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Autor"),
    )
    source = models.CharField(
        _("Herkunft"),
        max_length=10,
        choices=[
            ("admin", _("Verwaltung")),
            ("library", _("Bibliothek")),
            ("restore", _("Wiederherstellung")),
        ],
        default="admin",
    )
    note = models.CharField(_("Notiz"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("erstellt"), auto_now_add=True)

    class Meta:
        verbose_name = _("Version")
        verbose_name_plural = _("Versionen")
        ordering = ["variant", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["variant", "number"], name="version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.variant} · v{self.number}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError(_("Versionen sind unveränderlich; bitte eine neue anlegen."))
        self.content_hash = content_hash(self.content())
        super().save(*args, **kwargs)

    def content(self) -> dict:
        return {field: getattr(self, field) for field in CONTENT_FIELDS}

    def clean(self) -> None:
        from templates_app.rendering import validate_content

        errors = validate_content(
            self.content(),
            event_type=self.variant.template.event_type,
            channel=self.variant.template.channel,
        )
        if errors:
            raise ValidationError(errors)


@transaction.atomic
def create_version(
    *, variant: TemplateVariant, content: dict, author=None, note: str = "", source: str = "admin"
) -> TemplateVersion | None:
    """Add a version when the content differs from the active one; None when unchanged.

    Validates first (unknown variables, SMS length) so that nothing invalid becomes active.
    """
    # Lock the variant so two editors saving at once get consecutive numbers.
    list(
        TemplateVariant.objects.select_for_update()
        .filter(pk=variant.pk)
        .order_by()
        .values_list("pk", flat=True)
    )
    current = variant.active_version
    if current is not None and current.content_hash == content_hash(content):
        return None
    version = TemplateVersion(
        variant=variant,
        number=(current.number + 1) if current else 1,
        author=author,
        note=note,
        source=source,
        **{
            field: content.get(field) or ("" if field != "whatsapp_params" else [])
            for field in CONTENT_FIELDS
        },
    )
    version.full_clean(exclude=["content_hash"])
    version.save()
    return version


def restore_version(*, version: TemplateVersion, author=None) -> TemplateVersion:
    """Make an old version active again by copying it as the newest one."""
    restored = create_version(
        variant=version.variant,
        content=version.content(),
        author=author,
        note=_("wiederhergestellt aus Version %(n)s") % {"n": version.number},
        source="restore",
    )
    return restored or version
