"""Events: what happened in the business, recorded once, read by the rules engine.

These models belong to the kommunikation app (kommunikation/models.py imports them), so their
tables are ``kommunikation_event`` and ``kommunikation_eventsource``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kommunikation.events.crypto import UnreadableSecret, decrypt, encrypt


class EventOutcome(models.TextChoices):
    PENDING = "pending", _("offen")
    PROCESSED = "processed", _("verarbeitet")
    IGNORED = "ignored", _("ignoriert")
    FAILED = "failed", _("fehlgeschlagen")


class EventQuerySet(models.QuerySet):
    def for_brands(self, brands) -> EventQuerySet:
        return self.filter(brand__in=brands)

    def pending(self) -> EventQuerySet:
        return self.filter(outcome=EventOutcome.PENDING)

    def for_record(self, kind: str, record_id: str) -> EventQuerySet:
        return self.filter(record_kind=kind, record_id=record_id)


class AppendOnlyError(Exception):
    """An event's content never changes after it was recorded."""


class Event(models.Model):
    """Something that happened (an invoice was created, a birthday came): append-only.

    The content (type, source, record, payload, times) is written once by
    ``kommunikation.events.services.record_event``; afterwards only the processing fields
    (processed_at, outcome, outcome_detail) move, through ``record_outcome``.
    """

    brand = models.ForeignKey(
        "kommunikation.BusinessEntity",
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("Marke"),
        # event_brand_type and the source key start with the brand: a third
        # index would only be one more write for each event and each outcome update
        db_index=False,
    )
    # SET_NULL, not PROTECT: erasing a customer (Art. 17 DSGVO) must not be blocked by history
    customer = models.ForeignKey(
        "kommunikation.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("Kunde"),
        db_index=False,  # event_customer_recent starts with the customer
    )
    type = models.CharField(_("Ereignistyp"), max_length=80)
    # where it came from: "sevdesk", "api:<source slug>", "scan:birthday", ...
    source = models.CharField(_("Quelle"), max_length=60)
    # the source's own id of this event; sevDesk: record id + version, the API: the caller's
    # key, a scan: customer + date. With brand and source it is unique (see Meta).
    source_key = models.CharField(_("Schlüssel der Quelle"), max_length=200)
    # the business record the event is about
    record_kind = models.CharField(_("Vorgangsart"), max_length=20, blank=True)
    record_id = models.CharField(_("Vorgangs-ID (extern)"), max_length=80, blank=True)
    record_number = models.CharField(_("Vorgangsnummer"), max_length=80, blank=True)
    record_status = models.CharField(_("Vorgangsstatus"), max_length=40, blank=True)
    record_version = models.CharField(_("Vorgangsversion"), max_length=80, blank=True)
    # how the source named the customer (external id, number, email, phone); kept also when
    # no customer matched, so the event log shows whom it was meant for
    customer_ref = models.JSONField(_("Kundenbezug (Quelle)"), default=dict, blank=True)
    payload = models.JSONField(_("Daten"), default=dict, blank=True)
    # SHA-256 of the content as given: the same key arriving with other content is a conflict
    fingerprint = models.CharField(_("Fingerabdruck"), max_length=64, editable=False)
    occurred_at = models.DateTimeField(_("geschehen"))
    received_at = models.DateTimeField(_("empfangen"), default=timezone.now, editable=False)
    processed_at = models.DateTimeField(_("verarbeitet"), null=True, blank=True)
    outcome = models.CharField(
        _("Ergebnis"), max_length=10, choices=EventOutcome.choices, default=EventOutcome.PENDING
    )
    outcome_detail = models.TextField(_("Ergebnis (Begründung)"), blank=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        verbose_name = _("Ereignis")
        verbose_name_plural = _("Ereignisse")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            # The same source event never becomes two: a re-run of the sevDesk sync, a repeated
            # API call, a scan run twice the same day all hit this row (and record_event returns
            # it). Per brand, because two brands may use the same ERP with overlapping ids.
            models.UniqueConstraint(
                fields=["brand", "source", "source_key"], name="event_unique_source_key"
            ),
        ]
        indexes = [
            # the customer page's "Ereignisse" card: a customer's latest events
            models.Index(fields=["customer", "-occurred_at"], name="event_customer_recent"),
            # the event log of a brand, filtered by type, newest first (and the rule counts)
            models.Index(fields=["brand", "type", "-occurred_at"], name="event_brand_type"),
            # supersession: the other events of the same business records. The record id
            # first: a batch's look-up (record_id IN ...) is an index condition whatever
            # the planner thinks of the brand (a new one looks empty to its statistics)
            models.Index(
                fields=["record_id", "record_kind", "brand", "-occurred_at"],
                name="event_record_first",
            ),
            # the rules worker's catch-up: events not processed yet, oldest first
            models.Index(
                fields=["received_at"],
                condition=Q(outcome="pending"),
                name="event_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.record_number or self.source_key}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError(
                "Events are append-only; use record_outcome() for the processing fields."
            )
        super().save(*args, **kwargs)

    def record_outcome(self, *, outcome: str, detail: str = "", now=None) -> bool:
        """Set the processing result once; False when another worker was first.

        A filtered update, so two workers processing the same event cannot both win.
        """
        now = now or timezone.now()
        won = (
            type(self)
            .objects.filter(pk=self.pk, outcome=EventOutcome.PENDING)
            .update(outcome=outcome, outcome_detail=detail, processed_at=now)
        )
        if won:
            self.outcome, self.outcome_detail, self.processed_at = outcome, detail, now
        return bool(won)

    @property
    def type_label(self) -> str:
        from kommunikation.events.catalogue import get_event_type

        entry = get_event_type(self.type)
        return str(entry.label) if entry else self.type


def generate_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_fingerprint(secret: str) -> str:
    """What the admin shows instead of a secret: enough to tell two apart, useless to sign."""
    if not secret:
        return ""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


class EventSource(models.Model):
    """A system that posts events to the event API (an ERP, a shop), with its signing secrets.

    Two secrets at once for rotation: after ``rotate()`` the new one is current and the old
    one stays valid until ``revoke_previous()``, so the sender can switch without a gap.
    The secrets are stored encrypted (crypto.py; HMAC verification needs them, so no hash)
    and never shown again after the page that created them; the admin shows a fingerprint.
    """

    brand = models.ForeignKey(
        "kommunikation.BusinessEntity",
        on_delete=models.PROTECT,
        related_name="event_sources",
        verbose_name=_("Marke"),
    )
    name = models.CharField(_("Name"), max_length=120)
    # sent by the caller in the X-Event-Source header; part of Event.source ("api:<slug>")
    slug = models.SlugField(_("Kennung"), max_length=60, unique=True)
    active = models.BooleanField(_("aktiv"), default=True)
    secret_encrypted = models.TextField(_("Schlüssel (verschlüsselt)"), editable=False)
    previous_secret_encrypted = models.TextField(
        _("vorheriger Schlüssel (verschlüsselt)"), blank=True, editable=False
    )
    rotated_at = models.DateTimeField(_("Schlüssel gewechselt"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("zuletzt benutzt"), null=True, blank=True)
    previous_last_used_at = models.DateTimeField(
        _("vorheriger Schlüssel zuletzt benutzt"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("angelegt"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("Ereignisquelle (API)")
        verbose_name_plural = _("Ereignisquellen (API)")
        ordering = ["brand", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def save(self, *args, **kwargs) -> None:
        if not self.secret_encrypted:
            self.secret_encrypted = encrypt(generate_secret())
        super().save(*args, **kwargs)

    @property
    def event_source(self) -> str:
        """The value of Event.source for events posted by this source."""
        return f"api:{self.slug}"

    @property
    def secret(self) -> str:
        """The current secret in plain text (raises UnreadableSecret)."""
        return decrypt(self.secret_encrypted)

    @property
    def previous_secret(self) -> str:
        return decrypt(self.previous_secret_encrypted)

    def secrets_to_try(self) -> list[tuple[str, str]]:
        """(which, secret) pairs the API accepts: the current one first; unreadable ones
        (encrypted with a SECRET_KEY that is gone) are left out."""
        pairs = []
        for which, token in (
            ("current", self.secret_encrypted),
            ("previous", self.previous_secret_encrypted),
        ):
            if token:
                try:
                    pairs.append((which, decrypt(token)))
                except UnreadableSecret:
                    continue
        return pairs

    def fingerprints(self) -> tuple[str, str]:
        """What the admin shows of (current, previous): enough to tell secrets apart."""
        result = []
        for token in (self.secret_encrypted, self.previous_secret_encrypted):
            try:
                result.append(secret_fingerprint(decrypt(token)))
            except UnreadableSecret:
                result.append(str(_("nicht lesbar (SECRET_KEY geändert?) – bitte wechseln")))
        return result[0], result[1]

    def rotate(self, *, now=None) -> str:
        """A new current secret; the old one stays valid until revoked. Returns the new one."""
        secret = generate_secret()
        self.previous_secret_encrypted = self.secret_encrypted
        self.secret_encrypted = encrypt(secret)
        self.rotated_at = now or timezone.now()
        self.previous_last_used_at = self.last_used_at
        self.last_used_at = None
        self.save(
            update_fields=[
                "secret_encrypted",
                "previous_secret_encrypted",
                "rotated_at",
                "last_used_at",
                "previous_last_used_at",
            ]
        )
        return secret

    def revoke_previous(self) -> None:
        self.previous_secret_encrypted = ""
        self.previous_last_used_at = None
        self.save(update_fields=["previous_secret_encrypted", "previous_last_used_at"])

    def note_use(self, which: str, *, now=None) -> None:
        field = "last_used_at" if which == "current" else "previous_last_used_at"
        type(self).objects.filter(pk=self.pk).update(**{field: now or timezone.now()})
