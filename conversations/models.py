"""Conversations, their messages and attachments, and how they are classified."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, models
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kommunikation.models import BusinessEntity, Customer, SendChannel, brand_of, check_same_brand


class Classification(models.TextChoices):
    """The seed's five types, in the order of the keys 1-5."""

    CUSTOMER = "customer", _("Kunde")
    SUPPLIER = "supplier", _("Lieferant")
    INTERNAL = "internal", _("Intern")
    NEWSLETTER = "newsletter", _("Newsletter")
    ADVERTISING = "advertising", _("Werbung")


UNCLASSIFIED = ""


class Status(models.TextChoices):
    OPEN = "open", _("offen")
    PENDING = "pending", _("wartend")
    CLOSED = "closed", _("erledigt")
    ARCHIVED = "archived", _("archiviert")


# a reply is owed to these senders only: newsletters, advertising and internal mail wait for nobody
REPLY_OWED_CLASSIFICATIONS = ["customer", "supplier", UNCLASSIFIED]


class Priority(models.TextChoices):
    URGENT = "urgent", _("dringend")
    HIGH = "high", _("hoch")
    NORMAL = "normal", _("normal")
    LOW = "low", _("niedrig")


# A thread holds every channel a message can be sent on, and internal notes.
Channel = models.TextChoices(
    "Channel",
    [(c.name, (c.value, c.label)) for c in SendChannel] + [("NOTE", ("note", _("Notiz")))],
)


class Direction(models.TextChoices):
    INBOUND = "in", _("eingehend")
    OUTBOUND = "out", _("ausgehend")


class Mailbox(models.Model):
    """An address of a brand that receives mail, optionally fetched over IMAP.

    UIDVALIDITY and the last UID seen are remembered so nothing is fetched twice;
    the server is only read, never changed.
    """

    class AuthMode(models.TextChoices):
        PASSWORD = "password", _("Passwort")
        MICROSOFT = "microsoft", _("Microsoft 365 (OAuth2)")
        GOOGLE = "google", _("Google Workspace (OAuth2)")

    brand = models.ForeignKey(
        BusinessEntity, on_delete=models.CASCADE, related_name="mailboxes", verbose_name=_("Marke")
    )
    name = models.CharField(_("Name"), max_length=80)
    address = models.EmailField(_("Adresse"), blank=True)
    imap_host = models.CharField(_("IMAP-Server"), max_length=200, blank=True)
    imap_port = models.PositiveIntegerField(_("IMAP-Port"), default=993)
    imap_ssl = models.BooleanField(_("SSL/TLS"), default=True)
    imap_user = models.CharField(_("IMAP-Benutzer"), max_length=200, blank=True)
    imap_password = models.CharField(_("IMAP-Passwort"), max_length=200, blank=True)
    imap_folder = models.CharField(_("Ordner"), max_length=200, default="INBOX")
    # OAuth2 (conversations/mail_oauth.py): imap_user is the mailbox signed in as (the
    # XOAUTH2 user=, and for Google the user impersonated); the secrets are written in the
    # admin and never shown again.
    auth_mode = models.CharField(
        _("Anmeldung"), max_length=20, choices=AuthMode.choices, default=AuthMode.PASSWORD
    )
    oauth_tenant_id = models.CharField(
        _("Mandanten-ID (Tenant)"),
        max_length=100,
        blank=True,
        help_text=_("Microsoft 365: Verzeichnis-ID von der Übersichtsseite der App-Registrierung."),
    )
    oauth_client_id = models.CharField(
        _("Client-ID"),
        max_length=200,
        blank=True,
        help_text=_("Microsoft 365: Anwendungs-ID der App-Registrierung."),
    )
    oauth_client_secret = models.CharField(
        _("geheimer Clientschlüssel"), max_length=500, blank=True
    )
    google_service_account = models.TextField(_("Google-Dienstkonto (JSON-Schlüssel)"), blank=True)
    smtp_send = models.BooleanField(
        _("E-Mails der Marke über dieses Konto senden"),
        default=False,
        help_text=_(
            "Ausgehende E-Mails der Marke gehen per SMTP über dieses Konto hinaus, die mit "
            "dieser Absenderadresse zuerst."
        ),
    )
    smtp_host = models.CharField(
        _("SMTP-Server"),
        max_length=200,
        blank=True,
        help_text=_("Leer: smtp.office365.com bzw. smtp.gmail.com."),
    )
    smtp_port = models.PositiveIntegerField(
        _("SMTP-Port"), default=587, help_text=_("587 mit STARTTLS, 465 mit TLS.")
    )
    active = models.BooleanField(_("aktiv"), default=True)
    uidvalidity = models.BigIntegerField(_("UIDVALIDITY"), null=True, blank=True, editable=False)
    last_uid = models.BigIntegerField(_("zuletzt geholte UID"), default=0, editable=False)
    last_fetched_at = models.DateTimeField(_("zuletzt abgerufen"), null=True, blank=True)
    last_error = models.TextField(_("letzter Fehler"), blank=True)

    class Meta:
        verbose_name = _("Postfach")
        verbose_name_plural = _("Postfächer")
        ordering = ["brand", "name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="mailbox_unique_name_per_brand")
        ]

    def __str__(self) -> str:
        return f"{self.brand} · {self.name}"

    def save(self, *args, **kwargs) -> None:
        self.address = self.address.strip().lower()
        super().save(*args, **kwargs)

    @property
    def fetches_imap(self) -> bool:
        user = self.login_user if self.uses_oauth else self.imap_user
        return bool(self.active and self.imap_host and user)

    @property
    def uses_oauth(self) -> bool:
        return self.auth_mode != self.AuthMode.PASSWORD

    @property
    def login_user(self) -> str:
        """The account signed in as: the IMAP user, else the mailbox's address."""
        return self.imap_user or self.address

    @property
    def effective_smtp_host(self) -> str:
        defaults = {
            self.AuthMode.MICROSOFT: "smtp.office365.com",
            self.AuthMode.GOOGLE: "smtp.gmail.com",
        }
        return self.smtp_host or defaults.get(self.auth_mode, self.imap_host)

    @property
    def effective_client_id(self) -> str:
        return self.oauth_client_id or settings.MAIL_OAUTH_MICROSOFT_CLIENT_ID

    @property
    def effective_client_secret(self) -> str:
        return self.oauth_client_secret or settings.MAIL_OAUTH_MICROSOFT_CLIENT_SECRET

    @property
    def effective_service_account(self) -> str:
        """The JSON key: stored, else the file MAIL_OAUTH_GOOGLE_SERVICE_ACCOUNT_FILE names."""
        if self.google_service_account or not settings.MAIL_OAUTH_GOOGLE_SERVICE_ACCOUNT_FILE:
            return self.google_service_account
        return Path(settings.MAIL_OAUTH_GOOGLE_SERVICE_ACCOUNT_FILE).read_text()


class RawEmail(models.Model):
    """The bytes of an incoming email exactly as received, stored before anything can fail."""

    class State(models.TextChoices):
        RECEIVED = "received", _("empfangen")
        PARSED = "parsed", _("verarbeitet")
        FLAGGED = "flagged", _("markiert")

    brand = models.ForeignKey(BusinessEntity, on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey(
        Mailbox, on_delete=models.SET_NULL, null=True, blank=True, related_name="raw_emails"
    )
    # "" for file imports and webhooks without a mailbox: dedupe is per (brand, mailbox_key).
    mailbox_key = models.CharField(max_length=40, blank=True, default="")
    message_id = models.CharField(max_length=998, blank=True)
    sha256 = models.CharField(max_length=64)
    content_hash = models.CharField(
        max_length=64, help_text="sha256 without trace headers (Received, Return-Path, ...)"
    )
    data = models.BinaryField()
    size = models.PositiveIntegerField()
    source = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVED)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("Rohdaten einer E-Mail")
        verbose_name_plural = _("Rohdaten von E-Mails")
        constraints = [
            # the same bytes twice into the same mailbox are one message
            models.UniqueConstraint(
                fields=["brand", "mailbox_key", "sha256"], name="rawemail_unique_bytes"
            ),
        ]
        indexes = [
            # dedupe by Message-ID per mailbox
            models.Index(fields=["brand", "mailbox_key", "message_id"], name="rawemail_msgid"),
        ]

    def __str__(self) -> str:
        return self.message_id or self.sha256[:12]

    def clean(self) -> None:
        check_same_brand(self.brand_id, mailbox=brand_of(self, "mailbox__brand"))


class ConversationQuerySet(models.QuerySet):
    def for_brands(self, brands) -> ConversationQuerySet:
        return self.filter(brand__in=brands)

    def for_user(self, user) -> ConversationQuerySet:
        return self.filter(brand__in=BusinessEntity.objects.for_user(user))

    def open(self) -> ConversationQuerySet:
        return self.filter(status__in=[Status.OPEN, Status.PENDING])

    def awake(self, now=None) -> ConversationQuerySet:
        """Not snoozed, or snoozed until a time that has come: what the open list shows,
        correct even before ``wake_snoozed`` has run."""
        return self.filter(
            Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now or timezone.now())
        )

    def snoozed(self, now=None) -> ConversationQuerySet:
        """Snoozed until a time still to come: the "Wiedervorlage" list."""
        return self.filter(snoozed_until__gt=now or timezone.now())

    def owing_reply(self) -> ConversationQuerySet:
        """Where a reply is owed: open, from a customer, a supplier or an unclassified
        sender, and the last message is the counterpart's (``last_inbound_at`` is the
        newest message; replies and sent messages move ``last_message_at`` past it)."""
        return self.filter(
            status=Status.OPEN,
            classification__in=REPLY_OWED_CLASSIFICATIONS,
            last_inbound_at__isnull=False,
            last_inbound_at__gte=models.F("last_message_at"),
        )

    def unclassified(self) -> ConversationQuerySet:
        return self.filter(classification=UNCLASSIFIED)

    def classified_automatically(self) -> ConversationQuerySet:
        """Classified by the product (a rule, a contact, a domain, bulk headers, the
        model), not yet confirmed or corrected by staff: the review list."""
        return self.filter(classified_automatically=True).exclude(classification=UNCLASSIFIED)

    def unread(self) -> ConversationQuerySet:
        return self.filter(unread=True)

    def older_than(self, days: int) -> ConversationQuerySet:
        return self.filter(last_message_at__lt=timezone.now() - timezone.timedelta(days=days))

    def with_tag(self, tag: str) -> ConversationQuerySet:
        """Conversations carrying the tag (as spelt when it was first added)."""
        if connection.vendor == "postgresql":
            return self.filter(tags__contains=[tag])  # jsonb containment
        table = connection.ops.quote_name(Conversation._meta.db_table)
        return self.filter(
            pk__in=RawSQL(
                f"SELECT c.id FROM {table} AS c, json_each(c.tags) AS t WHERE t.value = %s",
                [tag],
            )
        )


class Conversation(models.Model):
    """A thread with one counterpart, across channels."""

    brand = models.ForeignKey(
        BusinessEntity,
        on_delete=models.PROTECT,
        related_name="conversations",
        verbose_name=_("Marke"),
    )
    mailbox = models.ForeignKey(
        Mailbox, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        verbose_name=_("Kunde"),
    )
    subject = models.CharField(_("Betreff"), max_length=500, blank=True)
    # the subject without Re:/AW:/WG:/[EXT] prefixes: the fallback threading key
    subject_key = models.CharField(max_length=200, blank=True)
    counterpart = models.CharField(
        _("Gegenüber"), max_length=254, blank=True, help_text=_("Adresse oder Nummer, normalisiert")
    )
    counterpart_name = models.CharField(_("Name des Gegenübers"), max_length=200, blank=True)
    channel = models.CharField(
        _("Kanal"), max_length=10, choices=Channel.choices, default=Channel.EMAIL
    )
    classification = models.CharField(
        _("Klassifizierung"),
        max_length=12,
        choices=Classification.choices,
        blank=True,
        default=UNCLASSIFIED,
    )
    classified_automatically = models.BooleanField(_("automatisch klassifiziert"), default=False)
    # why the product classified it (shown as the "auto" marker's title), "" when staff did
    classification_reason = models.CharField(
        _("Grund der Klassifizierung"), max_length=200, blank=True
    )
    # a first contact's proposal (conversations.learning), pre-selected in the dialog
    proposed_classification = models.CharField(
        _("Vorschlag"), max_length=12, choices=Classification.choices, blank=True
    )
    proposal_reason = models.CharField(_("Grund des Vorschlags"), max_length=200, blank=True)
    status = models.CharField(
        _("Status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    priority = models.CharField(
        _("Priorität"), max_length=8, choices=Priority.choices, default=Priority.NORMAL
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
        verbose_name=_("zugewiesen an"),
    )
    unread = models.BooleanField(_("ungelesen"), default=True)
    flagged = models.BooleanField(
        _("markiert"), default=False, help_text=_("Enthält eine nicht lesbare Nachricht.")
    )
    message_count = models.PositiveIntegerField(_("Nachrichten"), default=0)
    snippet = models.CharField(_("Vorschau"), max_length=200, blank=True)
    last_message_at = models.DateTimeField(_("letzte Nachricht"), default=timezone.now)
    last_inbound_at = models.DateTimeField(_("letzte eingehende Nachricht"), null=True, blank=True)
    response_due_at = models.DateTimeField(_("Antwort fällig"), null=True, blank=True)
    # Wiedervorlage: out of the open list until then, back unread and on top
    snoozed_until = models.DateTimeField(_("Wiedervorlage"), null=True, blank=True)
    related_record = models.CharField(
        _("Vorgang"), max_length=80, blank=True, help_text=_("Auftrags- oder Rechnungsnummer")
    )
    tags = models.JSONField(_("Schlagworte"), default=list, blank=True)
    created_at = models.DateTimeField(_("angelegt"), default=timezone.now)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        verbose_name = _("Konversation")
        verbose_name_plural = _("Konversationen")
        ordering = ["-last_message_at", "-id"]
        permissions = [
            ("classify_conversation", _("Kann Konversationen klassifizieren")),
            ("reply_conversation", _("Kann antworten und Notizen schreiben")),
            ("reassign_conversation", _("Kann Konversationen anderen zuweisen")),
            ("view_reports", _("Kann Auswertungen und Reviews sehen")),
        ]
        indexes = [
            # the inbox list: a brand's open conversations, newest first (keyset on id)
            models.Index(fields=["brand", "status", "-last_message_at", "-id"], name="conv_inbox"),
            # "Ohne Klassifizierung" / classification = X
            models.Index(
                fields=["brand", "classification", "-last_message_at"], name="conv_classification"
            ),
            # "Ungelesen": a partial index, unread is the small minority
            models.Index(
                fields=["brand", "-last_message_at"],
                condition=Q(unread=True),
                name="conv_unread",
            ),
            # the customer page and the customer filter
            models.Index(fields=["customer", "-last_message_at"], name="conv_customer"),
            models.Index(fields=["assignee", "status"], name="conv_assignee"),
            # wake_snoozed and the "Wiedervorlage" list: the few snoozed conversations
            models.Index(
                fields=["snoozed_until"],
                condition=Q(snoozed_until__isnull=False),
                name="conv_snoozed",
            ),
            # subject threading: same counterpart, same normalised subject, recent
            models.Index(
                fields=["brand", "counterpart", "subject_key", "-last_message_at"],
                name="conv_subject_thread",
            ),
        ]

    def __str__(self) -> str:
        return self.subject or gettext("(ohne Betreff)")  # str, never a lazy proxy

    def clean(self) -> None:
        check_same_brand(
            self.brand_id,
            customer=brand_of(self, "customer__brand"),
            mailbox=brand_of(self, "mailbox__brand"),
        )


class ConversationChange(models.Model):
    """History of staff's changes of status, priority, assignee, read state and
    Wiedervorlage, single or in bulk; one call's rows share a batch id, for undo.
    Values are stored as text ("" for none). Never edited."""

    class Field(models.TextChoices):
        STATUS = "status", _("Status")
        PRIORITY = "priority", _("Priorität")
        ASSIGNEE = "assignee", _("Zuweisung")
        UNREAD = "unread", _("ungelesen")
        SNOOZED_UNTIL = "snoozed_until", _("Wiedervorlage")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(_("Feld"), max_length=16, choices=Field.choices)
    from_value = models.CharField(_("vorher"), max_length=40, blank=True)
    to_value = models.CharField(_("nachher"), max_length=40, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("geändert von"),
    )
    changed_at = models.DateTimeField(_("geändert am"), default=timezone.now)
    batch = models.UUIDField()

    class Meta:
        verbose_name = _("Änderung einer Konversation")
        verbose_name_plural = _("Änderungen von Konversationen")
        ordering = ["-changed_at", "-id"]
        # undo reads a batch
        indexes = [models.Index(fields=["batch"], name="convchange_batch")]

    def __str__(self) -> str:
        return f"{self.get_field_display()}: {self.from_value or '—'} → {self.to_value or '—'}"


class ParseFlag(models.TextChoices):
    """Why an inbound message is shown with less than it carried (Message.parse_flags)."""

    LENIENT = "lenient", _("tolerant gelesen")
    TOO_LARGE = "too_large", _("zu groß, nicht zerlegt")
    ATTACHMENT_LIMIT = "attachment_limit", _("nicht alle Anhänge gespeichert")


class Message(models.Model):
    """One message in a conversation: inbound, outbound, or an internal note."""

    class State(models.TextChoices):
        RECEIVED = "received", _("empfangen")
        QUEUED = "queued", _("in Warteschlange")
        SENT = "sent", _("gesendet")
        DELIVERED = "delivered", _("zugestellt")
        # WhatsApp's read receipt (blue ticks): the recipient saw it, not a tracking pixel
        READ = "read", _("gelesen")
        OPENED = "opened", _("geöffnet")
        CLICKED = "clicked", _("geklickt")
        BOUNCED = "bounced", _("unzustellbar")
        FAILED = "failed", _("fehlgeschlagen")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    channel = models.CharField(_("Kanal"), max_length=10, choices=Channel.choices)
    direction = models.CharField(_("Richtung"), max_length=3, choices=Direction.choices)
    is_internal_note = models.BooleanField(_("interne Notiz"), default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verfasst von"),
    )
    sender_name = models.CharField(_("Absendername"), max_length=200, blank=True)
    sender_address = models.CharField(_("Absender"), max_length=254, blank=True)
    to = models.JSONField(_("An"), default=list, blank=True)
    cc = models.JSONField(_("Kopie"), default=list, blank=True)
    reply_to = models.CharField(_("Antwort an"), max_length=254, blank=True)
    subject = models.CharField(_("Betreff"), max_length=500, blank=True)
    text = models.TextField(_("Text"), blank=True)
    html = models.TextField(_("HTML (bereinigt)"), blank=True)
    has_remote_images = models.BooleanField(default=False)
    headers = models.JSONField(_("Kopfzeilen"), default=list, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=998, blank=True)
    in_reply_to = models.CharField(_("In-Reply-To"), max_length=998, blank=True)
    references = models.TextField(_("References"), blank=True)
    provider_id = models.CharField(_("Anbieter-ID"), max_length=200, blank=True)
    status = models.CharField(_("Status"), max_length=10, choices=State.choices, blank=True)
    raw = models.ForeignKey(
        RawEmail,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("Rohdaten"),
    )
    flagged = models.BooleanField(_("markiert"), default=False)
    flag_reason = models.TextField(_("Grund der Markierung"), blank=True)
    # S/MIME or PGP/MIME, as the mail declares it; the signature is not verified and
    # encrypted content is kept as its attachment (smime.p7m) for a mail client to open
    signed = models.BooleanField(_("signiert"), default=False)
    encrypted = models.BooleanField(_("verschlüsselt"), default=False)
    parse_flags = models.JSONField(
        _("Hinweise beim Einlesen"),
        default=list,
        blank=True,
        help_text=_("Was beim Einlesen nicht vollständig gelang (Grund: siehe Markierung)."),
    )
    sent_at = models.DateTimeField(_("gesendet"), null=True, blank=True)
    created_at = models.DateTimeField(_("erfasst"), default=timezone.now)

    class Meta:
        verbose_name = _("Nachricht")
        verbose_name_plural = _("Nachrichten")
        ordering = ["created_at", "id"]
        indexes = [
            # threading: In-Reply-To / References against every known Message-ID
            models.Index(fields=["message_id"], name="message_msgid"),
            models.Index(fields=["conversation", "created_at"], name="message_thread"),
            models.Index(fields=["provider_id"], name="message_provider_id"),
        ]

    def __str__(self) -> str:
        return self.subject or self.text[:60] or f"#{self.pk}"

    def header(self, name: str) -> str:
        """The first kept header of that name, "" when absent (``headers`` holds the
        (name, value) pairs conversations.mime keeps, e.g. Auto-Submitted, List-Id)."""
        lower = name.lower()
        return next((value for key, value in self.headers if key.lower() == lower), "")

    def clean(self) -> None:
        check_same_brand(brand_of(self, "conversation__brand"), raw=brand_of(self, "raw__brand"))

    @property
    def parse_flag_labels(self) -> list[str]:
        labels = dict(ParseFlag.choices)
        return [str(labels.get(flag, flag)) for flag in self.parse_flags]

    @property
    def timestamp(self):
        return self.sent_at or self.created_at

    # how long the open conversation keeps asking for the status of a fresh reply
    AWAIT_SENDING_FOR = dt.timedelta(minutes=10)

    @property
    def awaits_sending(self) -> bool:
        """A reply handed to the outbox minutes ago that the worker has not taken up yet.

        The conversation pane polls such a message until it is sent or fails. A row
        waiting for a retry (it carries the error) or an old one is not polled; the
        pane shows its state as it is. Reads ``outbound`` (prefetch it).
        """
        return (
            self.direction == Direction.OUTBOUND
            and self.status == self.State.QUEUED
            and self.created_at > timezone.now() - self.AWAIT_SENDING_FOR
            and not any(row.last_error for row in self.outbound.all())
        )


class StatusChange(models.Model):
    """One entry of a message's status timeline (queued, sent, delivered, opened, ...)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="status_changes")
    status = models.CharField(max_length=10, choices=Message.State.choices)
    at = models.DateTimeField(default=timezone.now)
    detail = models.CharField(max_length=500, blank=True)
    # the provider's id of the webhook event that reported it (any channel), if it has one
    provider_event_id = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("Statusänderung")
        verbose_name_plural = _("Statusverlauf")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.at:%d.%m.%Y %H:%M}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # content-addressed: the same file received twice is stored once
    return f"attachments/{instance.sha256[:2]}/{instance.sha256}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("Datei"), upload_to=attachment_path, max_length=200)
    filename = models.CharField(_("Dateiname"), max_length=255)
    content_type = models.CharField(_("Typ"), max_length=120)
    size = models.PositiveIntegerField(_("Größe"))
    sha256 = models.CharField(max_length=64)
    content_id = models.CharField(_("Content-ID"), max_length=255, blank=True)
    is_inline = models.BooleanField(_("eingebettet"), default=False)

    class Meta:
        verbose_name = _("Anhang")
        verbose_name_plural = _("Anhänge")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename


class ClassificationChange(models.Model):
    """History: who classified a conversation as what, and when. Never edited."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="classification_changes"
    )
    from_classification = models.CharField(
        _("vorher"), max_length=12, choices=Classification.choices, blank=True
    )
    to_classification = models.CharField(
        _("nachher"), max_length=12, choices=Classification.choices, blank=True
    )
    from_customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    automatic = models.BooleanField(_("automatisch"), default=False)
    reason = models.CharField(_("Grund"), max_length=200, blank=True)
    # the sender rule that decided (automatic) or that a correction created or changed
    rule = models.ForeignKey(
        "SenderRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Absenderregel"),
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("geändert von"),
    )
    changed_at = models.DateTimeField(_("geändert am"), default=timezone.now)
    batch = models.UUIDField(
        null=True, blank=True, help_text="Bulk classifications share a batch id, for undo."
    )

    class Meta:
        verbose_name = _("Klassifizierungsänderung")
        verbose_name_plural = _("Klassifizierungsverlauf")
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["batch"], name="classchange_batch")]

    def __str__(self) -> str:
        return f"{self.get_from_classification_display() or '—'} → {self.get_to_classification_display() or '—'}"

    def clean(self) -> None:
        check_same_brand(
            brand_of(self, "conversation__brand"),
            from_customer=brand_of(self, "from_customer__brand"),
            to_customer=brand_of(self, "to_customer__brand"),
        )


class SenderRule(models.Model):
    """The sender decides the classification: an address or a whole domain."""

    class Kind(models.TextChoices):
        ADDRESS = "address", _("Adresse")
        DOMAIN = "domain", _("Domain")

    brand = models.ForeignKey(
        BusinessEntity,
        on_delete=models.CASCADE,
        related_name="sender_rules",
        verbose_name=_("Marke"),
    )
    kind = models.CharField(_("Art"), max_length=7, choices=Kind.choices)
    pattern = models.CharField(_("Adresse oder Domain"), max_length=254)
    classification = models.CharField(
        _("Klassifizierung"), max_length=12, choices=Classification.choices
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sender_rules",
        verbose_name=_("Kunde / Lieferant"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("angelegt"), default=timezone.now)

    class Meta:
        verbose_name = _("Absenderregel")
        verbose_name_plural = _("Absenderregeln")
        ordering = ["brand", "kind", "pattern"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "kind", "pattern"], name="senderrule_unique_pattern"
            )
        ]

    def __str__(self) -> str:
        return f"{self.pattern} → {self.get_classification_display()}"

    def save(self, *args, **kwargs) -> None:
        self.pattern = self.pattern.strip().lower().lstrip("@")
        super().save(*args, **kwargs)

    def clean(self) -> None:
        check_same_brand(self.brand_id, customer=brand_of(self, "customer__brand"))


class SenderModel(models.Model):
    """A brand's own first-contact model (conversations.learning), and the Admin's setting
    for applying its proposals on arrival. One row per brand; ``data`` holds the counts
    the model is made of, trained from the brand's conversations staff classified."""

    brand = models.OneToOneField(
        BusinessEntity,
        on_delete=models.CASCADE,
        related_name="sender_model",
        verbose_name=_("Marke"),
    )
    auto_apply_percent = models.PositiveSmallIntegerField(
        _("automatisch anwenden ab (%)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(50), MaxValueValidator(100)],
        help_text=_(
            "Leer: Vorschläge für neue Absender werden nur im Dialog vorgeschlagen. Sonst "
            "werden Newsletter, Werbung und Intern ab dieser Sicherheit beim Eingang "
            "automatisch klassifiziert."
        ),
    )
    documents = models.PositiveIntegerField(_("gelernte Konversationen"), default=0)
    data = models.JSONField(default=dict, blank=True)
    trained_at = models.DateTimeField(_("zuletzt trainiert"), null=True, blank=True)

    class Meta:
        verbose_name = _("Lernmodell für neue Absender")
        verbose_name_plural = _("Lernmodelle für neue Absender")

    def __str__(self) -> str:
        return str(self.brand)


class WebhookDelivery(models.Model):
    """The body of an ESP webhook (inbound mail or delivery status), stored before parsing.

    One row per distinct body: an ESP's retry of the same bytes counts as another
    attempt of the same delivery. A body that cannot be parsed stays here, rejected
    with the reason, so nothing an ESP sent is lost."""

    class Kind(models.TextChoices):
        INBOUND = "inbound", _("eingehende E-Mail")
        TRACKING = "tracking", _("Zustellstatus")

    class State(models.TextChoices):
        RECEIVED = "received", _("empfangen")
        PROCESSING = "processing", _("in Bearbeitung")
        OK = "ok", _("verarbeitet")
        REJECTED = "rejected", _("abgelehnt")
        FAILED = "failed", _("fehlgeschlagen")

    esp = models.CharField(_("Anbieter"), max_length=40)
    kind = models.CharField(_("Art"), max_length=10, choices=Kind.choices)
    brand = models.ForeignKey(
        BusinessEntity,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Marke"),
    )
    headers = models.JSONField(_("Kopfzeilen"), default=dict, blank=True)
    body = models.BinaryField(_("Inhalt"))
    body_sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField(_("Größe"))
    state = models.CharField(
        _("Status"), max_length=10, choices=State.choices, default=State.RECEIVED
    )
    reason = models.TextField(_("Grund"), blank=True)
    events = models.PositiveIntegerField(_("Ereignisse"), default=0)
    attempts = models.PositiveIntegerField(_("Zustellversuche"), default=1)
    received_at = models.DateTimeField(_("empfangen"), default=timezone.now)
    last_received_at = models.DateTimeField(_("zuletzt empfangen"), default=timezone.now)
    # when a worker took it for processing (WhatsApp's batched processing): a claim that
    # old and still unfinished was left by a killed worker
    claimed_at = models.DateTimeField(_("in Bearbeitung seit"), null=True, blank=True)

    class Meta:
        verbose_name = _("Webhook-Zustellung")
        verbose_name_plural = _("Webhook-Zustellungen")
        ordering = ["-received_at", "-id"]
        constraints = [
            # an ESP's retry of the same body is the same delivery
            models.UniqueConstraint(
                fields=["kind", "esp", "body_sha256"], name="webhookdelivery_unique_body"
            ),
        ]
        indexes = [
            # the admin's list: newest first, filtered by state
            models.Index(fields=["state", "received_at"], name="webhookdelivery_state"),
            # the waiting ones of a channel, in order: what WhatsApp's processing claims and
            # what every webhook looks at (conversations.whatsapp._earlier_waiting)
            models.Index(
                fields=["esp", "kind", "id"],
                condition=models.Q(state="received"),
                name="webhookdelivery_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.esp} {self.kind} {self.received_at:%Y-%m-%d %H:%M}"

    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", "replace")


# --- a staff member's own inbox settings (issue 10 §3) ---------------------------------------


class InboxSettings(models.Model):
    """What one staff member set for their inbox; no row means the defaults."""

    DEFAULT_READ_DELAY_MS = 2000

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="inbox_settings",
        verbose_name=_("Mitarbeiter/in"),
    )
    # browsing with ↓ / j shows a conversation without marking it read; it counts as read
    # after this dwell (or at once on any action on it); 0 = read when shown
    read_delay_ms = models.PositiveIntegerField(
        _("Als gelesen markieren nach (Millisekunden)"),
        default=DEFAULT_READ_DELAY_MS,
        validators=[MaxValueValidator(60_000)],
        help_text=_(
            "Beim Durchblättern mit ↓ oder j gilt eine Konversation erst nach dieser Zeit als "
            "gelesen (oder sofort, sobald Sie etwas mit ihr tun). 0 = sofort beim Anzeigen."
        ),
    )

    class Meta:
        verbose_name = _("Posteingangs-Einstellungen")
        verbose_name_plural = _("Posteingangs-Einstellungen")

    def __str__(self) -> str:
        return str(self.user)

    @classmethod
    def read_delay_for(cls, user) -> int:
        """The user's dwell in milliseconds before a previewed conversation counts as read."""
        value = cls.objects.filter(user=user).values_list("read_delay_ms", flat=True).first()
        return cls.DEFAULT_READ_DELAY_MS if value is None else value

    @classmethod
    def save_read_delay(cls, *, user, read_delay_ms: int) -> InboxSettings:
        settings_row, _created = cls.objects.update_or_create(
            user=user, defaults={"read_delay_ms": read_delay_ms}
        )
        return settings_row
