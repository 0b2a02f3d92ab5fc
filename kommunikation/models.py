"""Brands, customers and the ways to reach them."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kommunikation.contact import email_domain, normalize_email, normalize_phone


class Language(models.TextChoices):
    DE = "de", _("Deutsch")
    EN = "en", _("Englisch")
    NL = "nl", _("Niederländisch")


class SendChannel(models.TextChoices):
    """The ways a message can reach a customer; shared by templates, consent and the outbox."""

    EMAIL = "email", _("E-Mail")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    LETTER = "letter", _("Brief")
    PUSH = "push", _("Push")
    CALL = "call", _("Anruf")


class Category(models.TextChoices):
    """What a message is for; the category decides the consent rules (seed 000).

    Transactional, service and reminder messages rest on the contract (Art. 6 (1) b
    DSGVO) and need no consent; marketing, relationship and feedback messages do.
    """

    TRANSACTIONAL = "transactional", _("Transaktional")
    SERVICE = "service", _("Service")
    REMINDER = "reminder", _("Erinnerung")
    MARKETING = "marketing", _("Marketing")
    RELATIONSHIP = "relationship", _("Beziehungspflege")
    FEEDBACK = "feedback", _("Feedback")


class BusinessEntityQuerySet(models.QuerySet):
    def for_user(self, user) -> BusinessEntityQuerySet:
        """The brands a staff member may see: all for superusers, else their own."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(staff=user)


class BusinessEntity(models.Model):
    """A brand or company of the business; every conversation and customer belongs to one."""

    name = models.CharField(_("Name"), max_length=120)
    slug = models.SlugField(_("Kürzel"), unique=True)
    legal_name = models.CharField(_("Firmierung"), max_length=200, blank=True)
    domains = models.JSONField(
        _("eigene Domains"),
        default=list,
        blank=True,
        help_text=_('Mail von diesen Domains gilt als intern, z. B. ["chargecars.nl"].'),
    )
    support_email = models.EmailField(_("Support-Adresse"), blank=True)
    sales_email = models.EmailField(_("Vertriebs-Adresse"), blank=True)
    admin_email = models.EmailField(_("Verwaltungs-Adresse"), blank=True)
    noreply_email = models.EmailField(_("Noreply-Adresse"), blank=True)
    whatsapp_number = models.CharField(_("WhatsApp-Nummer"), max_length=20, blank=True)
    sms_sender_id = models.CharField(
        _("SMS-Absenderkennung"),
        max_length=16,
        blank=True,
        help_text=_("Höchstens 11 Zeichen (alphanumerisch) oder eine Nummer."),
    )
    sms_max_segments = models.PositiveSmallIntegerField(
        _("SMS: höchstens Teile"),
        null=True,
        blank=True,
        help_text=_(
            "So viele SMS-Teile (160 Zeichen GSM-7, 70 mit Sonderzeichen; verkettet 153/67) "
            "darf eine SMS dieser Marke haben; leer: die Voreinstellung SMS_MAX_SEGMENTS."
        ),
    )
    street = models.CharField(_("Straße"), max_length=120, blank=True)
    postal_code = models.CharField(_("PLZ"), max_length=10, blank=True)
    city = models.CharField(_("Ort"), max_length=80, blank=True)
    country = models.CharField(_("Land"), max_length=2, default="DE")
    phone = models.CharField(_("Telefon"), max_length=30, blank=True)
    letter_return_address = models.CharField(
        _("Rücksendeangabe (Brief)"),
        max_length=120,
        blank=True,
        help_text=_("Eine Zeile über der Anschrift im Sichtfenster, DIN 5008."),
    )
    logo = models.FileField(_("Logo"), upload_to="brands/", blank=True)
    primary_color = models.CharField(_("Hausfarbe"), max_length=7, default="#1f5f99")
    imprint = models.TextField(_("Impressum / Fußzeile"), blank=True)
    default_language = models.CharField(
        _("Standardsprache"), max_length=2, choices=Language.choices, default=Language.DE
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("Mitarbeitende"),
        related_name="brands",
        blank=True,
    )
    created_at = models.DateTimeField(_("angelegt"), auto_now_add=True)

    objects = BusinessEntityQuerySet.as_manager()

    class Meta:
        verbose_name = _("Unternehmen / Marke")
        verbose_name_plural = _("Unternehmen / Marken")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.domains, list) or not all(isinstance(d, str) for d in self.domains):
            raise ValidationError({"domains": _("Bitte eine Liste von Domains angeben.")})
        self.domains = sorted({d.strip().lower().lstrip("@") for d in self.domains if d.strip()})
        from kommunikation.channels.sms import sender_id_problem

        self.sms_sender_id = self.sms_sender_id.strip()
        problem = sender_id_problem(self.sms_sender_id) if self.sms_sender_id else ""
        if problem:
            raise ValidationError({"sms_sender_id": problem})
        if self.sms_max_segments == 0:
            raise ValidationError({"sms_max_segments": _("Mindestens ein Teil.")})

    @property
    def sms_segment_limit(self) -> int:
        """How many segments one SMS of this brand may take (its own limit, else the default)."""
        return self.sms_max_segments or settings.SMS_MAX_SEGMENTS

    def owns_address(self, address: str) -> bool:
        """True when the address is on one of the brand's own domains (or a subdomain)."""
        domain = email_domain(address)
        return any(domain == d or domain.endswith("." + d) for d in self.domains)

    def sender_address(self, purpose: str) -> str:
        """The From address for a purpose: support, sales, admin or noreply."""
        return getattr(self, f"{purpose}_email", "") or self.support_email or self.noreply_email


def check_same_brand(brand_id: int | None, **related: int | None) -> None:
    """Refuse a link between objects of two brands, with the error on the linking field.

    Each keyword names a field and gives the brand id of the object it points at (None
    when the field is empty). Model ``clean()`` methods call this, so the admin and
    every other form refuse such a save.
    """
    errors = {
        field: ValidationError(
            _("Gehört zu einer anderen Marke; verknüpft werden nur Einträge derselben Marke."),
            code="other_brand",
        )
        for field, other in related.items()
        if brand_id is not None and other is not None and other != brand_id
    }
    if errors:
        raise ValidationError(errors)


def brand_of(obj, path: str) -> int | None:
    """The brand id reached from ``obj`` along ``path`` ("customer__brand"), None if a hop is empty."""
    *hops, last = path.split("__")
    for hop in hops:
        if getattr(obj, f"{hop}_id", None) is None:
            return None
        obj = getattr(obj, hop)
    return getattr(obj, f"{last}_id")


class CustomerKind(models.TextChoices):
    CUSTOMER = "customer", _("Kunde")
    SUPPLIER = "supplier", _("Lieferant")


class Gender(models.TextChoices):
    FEMALE = "f", _("Frau")
    MALE = "m", _("Herr")
    DIVERSE = "d", _("divers / keine Angabe")


class ValueTier(models.TextChoices):
    A = "A", _("A (hoher Umsatz)")
    B = "B", _("B (mittlerer Umsatz)")
    C = "C", _("C (geringer Umsatz)")


class Activity(models.TextChoices):
    NEW = "new", _("neu")
    ACTIVE = "active", _("aktiv")
    OCCASIONAL = "occasional", _("gelegentlich")
    INACTIVE = "inactive", _("inaktiv")


class CustomerQuerySet(models.QuerySet):
    def for_brands(self, brands) -> CustomerQuerySet:
        return self.filter(brand__in=brands)

    def customers(self) -> CustomerQuerySet:
        return self.filter(kind=CustomerKind.CUSTOMER)

    def suppliers(self) -> CustomerQuerySet:
        return self.filter(kind=CustomerKind.SUPPLIER)

    def search(self, term: str) -> CustomerQuerySet:
        """Every word matches the name, company, number or a contact point ("Anna Huber",
        "huber-bau.de", "@huber-bau.de", "https://www.huber-bau.de/", "K-10083")."""
        qs = self
        for word in term.split()[:6]:
            word = word.strip(",;")
            if "." in word and "/" in word:  # a web address: its host is the domain
                word = word.split("//")[-1].split("/")[0]
            if word.lower().startswith("www."):
                word = word[4:]
            word = word.lstrip("@")
            if not word:
                continue
            qs = qs.filter(
                Q(last_name__icontains=word)
                | Q(first_name__icontains=word)
                | Q(company_name__icontains=word)
                | Q(number__istartswith=word)
                | Q(pk__in=ContactPoint.objects.filter(value__icontains=word).values("customer_id"))
            )
        return qs

    def industries(self) -> list[str]:
        """The industries these customers name, sorted (the inbox's industry filter)."""
        return list(
            self.exclude(industry="")
            .order_by("industry")
            .values_list("industry", flat=True)
            .distinct()
        )


class Customer(models.Model):
    """A customer or supplier of one brand: a person or a company."""

    brand = models.ForeignKey(
        BusinessEntity, on_delete=models.PROTECT, related_name="customers", verbose_name=_("Marke")
    )
    number = models.CharField(_("Kundennummer"), max_length=40, blank=True)
    kind = models.CharField(
        _("Art"), max_length=10, choices=CustomerKind.choices, default=CustomerKind.CUSTOMER
    )
    is_company = models.BooleanField(_("Firma"), default=False)
    company_name = models.CharField(_("Firma"), max_length=200, blank=True)
    gender = models.CharField(
        _("Anrede"), max_length=1, choices=Gender.choices, default=Gender.DIVERSE
    )
    title = models.CharField(_("Titel"), max_length=40, blank=True)
    first_name = models.CharField(_("Vorname"), max_length=80, blank=True)
    last_name = models.CharField(_("Nachname"), max_length=80, blank=True)
    informal = models.BooleanField(
        _("duzen"), default=False, help_text=_("Informelle Anrede (»Hallo Anna«) statt »Sie«.")
    )
    language = models.CharField(
        _("Sprache"), max_length=2, choices=Language.choices, default=Language.DE
    )
    birthday = models.DateField(_("Geburtstag"), null=True, blank=True)
    customer_since = models.DateField(_("Kunde seit"), null=True, blank=True)
    segment = models.CharField(_("Segment"), max_length=40, blank=True)
    vip = models.BooleanField(_("VIP"), default=False)
    sevdesk_id = models.CharField(_("sevDesk-ID"), max_length=40, blank=True)
    # segmentation (kommunikation.sevdesk.segments, nightly and after each sync); rule
    # conditions and inbox filters read these fields
    revenue_12m = models.DecimalField(
        _("Umsatz 12 Monate (netto)"), max_digits=14, decimal_places=2, default=0
    )
    value_tier = models.CharField(
        _("Wertklasse"), max_length=1, choices=ValueTier.choices, blank=True
    )
    activity = models.CharField(_("Aktivität"), max_length=10, choices=Activity.choices, blank=True)
    industry = models.CharField(_("Branche"), max_length=80, blank=True)
    last_document_date = models.DateField(
        _("letzter Auftrag / letzte Rechnung"), null=True, blank=True
    )
    segments_updated_at = models.DateTimeField(_("Segmente berechnet"), null=True, blank=True)
    street = models.CharField(_("Straße"), max_length=120, blank=True)
    postal_code = models.CharField(_("PLZ"), max_length=10, blank=True)
    city = models.CharField(_("Ort"), max_length=80, blank=True)
    country = models.CharField(_("Land"), max_length=2, default="DE")
    notes = models.TextField(_("Notizen"), blank=True)
    # who answers for the customer (rules may route their mail to them)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_customers",
        verbose_name=_("Betreuer/in"),
    )
    created_at = models.DateTimeField(_("angelegt"), auto_now_add=True)
    updated_at = models.DateTimeField(_("geändert"), auto_now=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("Kunde / Kontakt")
        verbose_name_plural = _("Kunden / Kontakte")
        ordering = ["last_name", "company_name", "id"]
        indexes = [
            # customer autocomplete in the classification dialog: by brand and kind, then name
            models.Index(fields=["brand", "kind", "last_name"], name="customer_brand_kind_name"),
            models.Index(fields=["brand", "kind", "company_name"], name="customer_brand_kind_co"),
            models.Index(fields=["number"], name="customer_number"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "sevdesk_id"],
                condition=~Q(sevdesk_id=""),
                name="customer_unique_sevdesk_id_per_brand",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def person_name(self) -> str:
        return " ".join(p for p in (self.title, self.first_name, self.last_name) if p)

    @property
    def display_name(self) -> str:
        if self.is_company and self.company_name:
            return self.company_name
        return self.person_name or self.company_name or _("Kunde %(id)s") % {"id": self.pk}

    def clean(self) -> None:
        if (
            self.owner_id
            and self.brand_id
            and not self.owner.brands.filter(pk=self.brand_id).exists()
        ):
            raise ValidationError({"owner": _("Arbeitet nicht für diese Marke.")})


class ContactChannel(models.TextChoices):
    EMAIL = "email", _("E-Mail")
    PHONE = "phone", _("Telefon")
    # a device of the brand's app: the value is its FCM registration token (push channel)
    PUSH = "push", _("Push (App-Gerät)")


class ContactType(models.TextChoices):
    WORK = "work", _("dienstlich")
    PRIVATE = "private", _("privat")
    MOBILE = "mobile", _("mobil")
    NEWSLETTER = "newsletter", _("für Newsletter")
    OTHER = "other", _("sonstige")


class ContactPoint(models.Model):
    """An email address or phone number of a customer, stored normalised.

    Emails are lower-cased, phone numbers are E.164, so that a lookup by the
    sender of an incoming message is an exact match on (channel, value).
    """

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="contact_points", verbose_name=_("Kunde")
    )
    channel = models.CharField(_("Kanal"), max_length=5, choices=ContactChannel.choices)
    # 512: FCM registration tokens have no fixed length (today about 160 characters)
    value = models.CharField(_("Adresse / Nummer"), max_length=512)
    type = models.CharField(_("Typ"), max_length=10, choices=ContactType.choices, default="work")
    position = models.PositiveSmallIntegerField(
        _("Reihenfolge"), default=0, help_text=_("0 = erste Adresse dieses Kanals.")
    )
    # the CommunicationWay this point was imported from ('' for points entered here)
    sevdesk_id = models.CharField(_("sevDesk-ID"), max_length=40, blank=True)
    verified = models.BooleanField(_("bestätigt"), default=False)
    bouncing = models.BooleanField(_("unzustellbar"), default=False)
    # a call reached somebody else (issue 11 §4): kept, flagged, and unzustellbar as well
    wrong_number = models.BooleanField(_("falsche Nummer"), default=False)
    created_at = models.DateTimeField(_("angelegt"), auto_now_add=True)
    # push devices: when the app last registered its token (stale tokens, FCM's 270 days)
    last_seen_at = models.DateTimeField(_("zuletzt gemeldet"), null=True, blank=True)

    class Meta:
        verbose_name = _("Kontaktweg")
        verbose_name_plural = _("Kontaktwege")
        ordering = ["channel", "position", "id"]
        indexes = [
            # classification of an incoming message: which customer owns this sender?
            models.Index(fields=["channel", "value"], name="contactpoint_lookup"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "channel", "value"], name="contactpoint_unique_per_customer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.value} ({self.get_type_display()})"

    def save(self, *args, **kwargs) -> None:
        self.value = normalize_contact(self.channel, self.value)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        try:
            self.value = normalize_contact(self.channel, self.value)
        except ValueError as exc:
            raise ValidationError({"value": str(exc)}) from None


def normalize_contact(channel: str, value: str) -> str:
    if channel == ContactChannel.EMAIL:
        return normalize_email(value)
    if channel == ContactChannel.PUSH:
        return value.strip()  # a device token is case-sensitive: kept as the app sent it
    return normalize_phone(value)


# --- the outbox (issue 5): the one way a message leaves the system ----------------------


class OutboundStatus(models.TextChoices):
    QUEUED = "queued", _("wartet")
    SENDING = "sending", _("wird gesendet")
    SENT = "sent", _("gesendet")
    FAILED = "failed", _("fehlgeschlagen")
    REFUSED = "refused", _("abgelehnt (Datenschutz)")
    CANCELLED = "cancelled", _("storniert")


class OutboundSource(models.TextChoices):
    RULE = "rule", _("Regel")
    REPLY = "reply", _("Antwort")
    BULK = "bulk", _("Sammelversand")
    SYSTEM = "system", _("System")
    TEST = "test", _("Testversand")


class OutboundDecision(models.TextChoices):
    """The compliance gate's answer for a row (the values of compliance.gate's kinds)."""

    SEND = "send", _("freigegeben")
    DEFER = "defer", _("zurückgestellt")
    REFUSE = "refuse", _("abgelehnt")


class OutboundMessageQuerySet(models.QuerySet):
    def not_in_thread(self) -> OutboundMessageQuerySet:
        """Rows with no thread entry yet: waiting, refused, failed or cancelled before sending."""
        return self.filter(message__isnull=True)

    def due(self, now) -> OutboundMessageQuerySet:
        """Waiting rows whose time has come, and claimed rows whose worker died (lease over)."""
        return self.filter(
            Q(status=OutboundStatus.QUEUED, next_attempt_at__lte=now)
            | Q(status=OutboundStatus.SENDING, lease_until__lt=now)
        )


class OutboundMessage(models.Model):
    """A message to send: claimed by the dispatch worker, checked, rendered, sent, threaded."""

    brand = models.ForeignKey(
        BusinessEntity, on_delete=models.PROTECT, related_name="+", verbose_name=_("Marke")
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outbound_messages",
        verbose_name=_("Kunde"),
        db_index=False,  # outbox_history starts with the customer
    )
    # conversation, message, created_by and fallback_of are empty in most rows (a rule's
    # message has none of them): their indexes hold only the rows that have one
    # (outbox_conversation ... in Meta), each equality look-up implies "is not null"
    conversation = models.ForeignKey(
        "conversations.Conversation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Konversation"),
        db_index=False,
    )
    message = models.ForeignKey(
        "conversations.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outbound",
        verbose_name=_("Nachricht im Verlauf"),
        db_index=False,
    )
    channels = models.JSONField(_("Kanäle (mit Ausweichkanal)"), default=list)
    channel_index = models.PositiveSmallIntegerField(default=0)
    channel = models.CharField(_("Kanal"), max_length=10, choices=SendChannel.choices)
    to_address = models.CharField(
        _("Empfänger (fest)"), max_length=254, blank=True, help_text=_("Leer: aus dem Kunden.")
    )
    # the address per channel as the sender chose it ({"sms": "+49...", "email": "..."}):
    # a rule's address type and first/last for every channel, fallbacks included
    addresses = models.JSONField(
        _("Empfänger je Kanal"),
        default=dict,
        blank=True,
        help_text=_("Leer: aus dem Kunden."),
    )
    recipient = models.CharField(_("Empfänger"), max_length=254, blank=True)
    category = models.CharField(_("Art"), max_length=14, choices=Category.choices)
    template_key = models.CharField(_("Vorlage"), max_length=100, blank=True)
    language = models.CharField(_("Sprache"), max_length=2, blank=True)
    subject = models.CharField(_("Betreff"), max_length=500, blank=True)
    text = models.TextField(_("Text"), blank=True)
    html = models.TextField(_("HTML"), blank=True)
    context = models.JSONField(_("Daten für die Vorlage"), default=dict, blank=True)
    attachments = models.JSONField(
        _("Anhänge"), default=list, blank=True, help_text='[{"path", "filename", "content_type"}]'
    )
    # copies of an email (an agent's reply): they go into the Cc header, Bcc only to the envelope
    cc = models.JSONField(_("Kopie (Cc)"), default=list, blank=True)
    bcc = models.JSONField(_("Blindkopie (Bcc)"), default=list, blank=True)
    purpose = models.CharField(_("Absender"), max_length=10, default="support")
    reply_to = models.CharField(_("Antwort an"), max_length=254, blank=True)
    header_message_id = models.CharField(_("Message-ID"), max_length=998, blank=True)
    in_reply_to = models.CharField(_("In-Reply-To"), max_length=998, blank=True)
    references = models.TextField(_("References"), blank=True)
    # unique by the constraint outbox_idempotency_key (Meta), not unique=True: that would
    # add a second (varchar_pattern_ops) index that no equality look-up uses
    idempotency_key = models.CharField(_("Idempotenzschlüssel"), max_length=200)
    source = models.CharField(_("Herkunft"), max_length=10, choices=OutboundSource.choices)
    source_ref = models.CharField(_("Herkunft (Bezug)"), max_length=200, blank=True)
    status = models.CharField(
        _("Status"), max_length=10, choices=OutboundStatus.choices, default=OutboundStatus.QUEUED
    )
    not_before = models.DateTimeField(_("frühestens"), default=timezone.now)
    next_attempt_at = models.DateTimeField(_("nächster Versuch"), default=timezone.now)
    attempts = models.PositiveSmallIntegerField(_("Versuche"), default=0)
    # The claim of the dispatch worker: who (host:pid), when, until when, and a token of
    # its own per claim. While the row is "sending", only the holder of the current token
    # may write it back; a worker whose lease ran out and whose row was claimed again
    # finds its token replaced and writes nothing. Kept after the write-back: who sent it.
    lease_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    decision = models.CharField(
        _("Prüfung"), max_length=6, blank=True, choices=OutboundDecision.choices
    )
    decision_reason = models.CharField(_("Prüfergebnis"), max_length=500, blank=True)
    decided_at = models.DateTimeField(_("geprüft"), null=True, blank=True)
    last_error = models.TextField(_("Grund"), blank=True)
    provider_id = models.CharField(_("Anbieter-ID"), max_length=200, blank=True)
    template_version = models.CharField(max_length=40, blank=True)
    variant = models.CharField(max_length=40, blank=True)
    sent_at = models.DateTimeField(_("gesendet"), null=True, blank=True)
    # RFC 3834 Auto-Submitted of what we send ("auto-replied" for auto-replies)
    auto_submitted = models.CharField(_("Auto-Submitted"), max_length=20, blank=True)
    # the claim order among due rows: 0 urgent, 1 high, 2 normal, 3 low (a rule's priority)
    priority = models.PositiveSmallIntegerField(
        _("Priorität"),
        default=2,
        choices=[(0, _("dringend")), (1, _("hoch")), (2, _("normal")), (3, _("niedrig"))],
    )
    created_at = models.DateTimeField(_("angelegt"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # fallback driven by delivery (issue 11 §7, kommunikation/fallback.py): a message sent
    # but not delivered within `fallback_after`, or failing after it was sent, is tried on
    # the next channel as a new row pointing here (`fallback_of`); `fallback_due_at` is
    # when that wait ends (set when sent, cleared when delivered or when the chain moved on)
    fallback_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="fallbacks",
        verbose_name=_("Ausweichversand für"),
        db_index=False,
    )
    fallback_after = models.DurationField(
        _("Ausweichkanal nach"),
        null=True,
        blank=True,
        help_text=_("Nicht zugestellt nach dieser Zeit: weiter mit dem nächsten Kanal."),
    )
    fallback_due_at = models.DateTimeField(_("Zustellung erwartet bis"), null=True, blank=True)

    objects = OutboundMessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("Ausgang")
        verbose_name_plural = _("Ausgang")
        ordering = ["-created_at", "-id"]
        indexes = [
            # the dispatch claim (OutboundMessageQuerySet.due): queued rows by due time,
            # and "sending" rows whose lease is over; the two arms of its OR, one index each
            # (a bitmap OR on PostgreSQL). The claimed rows are loaded and written back by
            # primary key (+ status and claim token, checked on that one row): no index.
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
            # (the second arm's index holds only the rows being sent: a new row is not in it)
            models.Index(
                fields=["lease_until"], condition=Q(status="sending"), name="outbox_lease_sending"
            ),
            # the gate's history: sends per customer and channel (caps, duplicate window)
            models.Index(fields=["customer", "channel", "sent_at"], name="outbox_history"),
            # tracking events find the row by our Message-ID or the provider's id
            models.Index(fields=["header_message_id"], name="outbox_msgid"),
            models.Index(fields=["provider_id"], name="outbox_provider_id"),
            # the fallback check (fallback.fallback_undelivered): only rows still awaiting
            # their delivery are in it, so it stays tiny however large the outbox grows
            models.Index(
                fields=["fallback_due_at"],
                condition=Q(fallback_due_at__isnull=False),
                name="outbox_fallback_due",
            ),
            # the relations most rows leave empty (see conversation above)
            *(
                models.Index(
                    fields=[name], condition=Q(**{f"{name}__isnull": False}), name=f"outbox_{name}"
                )
                for name in ("conversation", "message", "created_by", "fallback_of")
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="outbox_idempotency_key"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.channel} → {self.recipient or self.to_address or self.customer}"

    def clean(self) -> None:
        check_same_brand(
            self.brand_id,
            customer=brand_of(self, "customer__brand"),
            conversation=brand_of(self, "conversation__brand"),
            message=brand_of(self, "message__conversation__brand"),
        )

    @property
    def next_channel(self) -> str | None:
        """The fallback after the current channel, if the sender named one."""
        following = self.channels[self.channel_index + 1 :]
        return following[0] if following else None

    def chain_root_id(self) -> int:
        """The first row of this row's fallback chain (itself when it is no fallback); a
        query per step back, and none for a row that is no fallback."""
        pk, parent = self.pk, self.fallback_of_id
        while parent is not None:
            pk = parent
            parent = (
                OutboundMessage.objects.filter(pk=pk)
                .values_list("fallback_of_id", flat=True)
                .first()
            )
        return pk


class ProviderBudget(models.Model):
    """Messages per minute per provider, counted in one row that all workers lock."""

    provider = models.CharField(max_length=40, primary_key=True)
    window_start = models.DateTimeField(default=timezone.now)
    used = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("Anbieter-Kontingent")
        verbose_name_plural = _("Anbieter-Kontingente")

    def __str__(self) -> str:
        return f"{self.provider}: {self.used}"


# The event models live in their own package but belong to this app.
from kommunikation.automation.availability import Absence, OpeningHours  # noqa: E402, F401
from kommunikation.automation.models import (  # noqa: E402, F401
    AutomationRule,
    PlannedStep,
    RuleRun,
    RuleStep,
)
from kommunikation.calls.models import CallTask  # noqa: E402, F401
from kommunikation.events.models import Event, EventOutcome, EventSource  # noqa: E402, F401
from kommunikation.letters.models import Letter, LetterConnection, PrintBatch  # noqa: E402, F401
from kommunikation.push_connections import PushConnection  # noqa: E402, F401
from kommunikation.sevdesk.models import SevdeskConnection, SevdeskSnapshot  # noqa: E402, F401
from kommunikation.whatsapp_numbers import WhatsAppNumber  # noqa: E402, F401
