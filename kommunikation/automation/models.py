"""Automation rules and what they did: a rule, its steps, and one run per event x rule.

The models belong to the kommunikation app (kommunikation/models.py imports them), so their
tables are ``kommunikation_automationrule``, ``kommunikation_rulestep``,
``kommunikation_rulerun`` and ``kommunikation_plannedstep``.

A rule says *when* (event type, for status changes from/to, conditions) and *to whom*
(address type and first/last, as Bitrix24's rules do); each of its steps says *what* and
*at what time* (template, channels in order with fallback, timing, cancel conditions). The
first step is the immediate action, the others are follow-ups (seed 002's chains).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kommunikation.models import Category


class Priority(models.IntegerChoices):
    """Dispatch order (lower first); the same four levels as conversations' priorities."""

    URGENT = 0, _("dringend")
    HIGH = 1, _("hoch")
    NORMAL = 2, _("normal")
    LOW = 3, _("niedrig")


PRIORITY_KEYS = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


class Purpose(models.TextChoices):
    SUPPORT = "support", _("Support")
    SALES = "sales", _("Vertrieb")
    NOREPLY = "noreply", _("Noreply")


class AddressType(models.TextChoices):
    """Which of the customer's addresses (Bitrix24: "Typ der Kundenadresse")."""

    AUTO = "auto", _("automatisch")
    WORK = "work", _("dienstlich")
    PRIVATE = "private", _("privat")
    MOBILE = "mobile", _("mobil")
    NEWSLETTER = "newsletter", _("für Newsletter")


class AddressPosition(models.TextChoices):
    """Bitrix24's "Adresse nutzen": the first or the last added address of that type."""

    FIRST = "first", _("erste")
    LAST = "last", _("letzte")


class Timing(models.TextChoices):
    IMMEDIATE = "immediate", _("sofort")
    AFTER = "after", _("nach dem Ereignis")
    BEFORE_DATE = "before_date", _("vor einem Datum aus dem Ereignis")
    AFTER_DATE = "after_date", _("nach einem Datum aus dem Ereignis")


class Unit(models.TextChoices):
    MINUTES = "minutes", _("Minuten")
    HOURS = "hours", _("Stunden")
    DAYS = "days", _("Tage")
    WEEKS = "weeks", _("Wochen")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Montag")
    TUESDAY = 1, _("Dienstag")
    WEDNESDAY = 2, _("Mittwoch")
    THURSDAY = 3, _("Donnerstag")
    FRIDAY = 4, _("Freitag")
    SATURDAY = 5, _("Samstag")
    SUNDAY = 6, _("Sonntag")


class CancelOn(models.TextChoices):
    """What makes a step unwanted before it goes out (checked at each later event on the
    same record and once more right before sending)."""

    CUSTOMER_REPLIED = "customer_replied", _("Kunde hat geantwortet")
    INVOICE_PAID = "invoice_paid", _("Rechnung bezahlt")
    QUOTE_ACCEPTED = "quote_accepted", _("Angebot angenommen")
    ORDER_MOVED_ON = "order_moved_on", _("Auftrag weiter im Ablauf")
    APPOINTMENT_MOVED = "appointment_moved", _("Termin verschoben (neu geplant)")
    APPOINTMENT_CANCELLED = "appointment_cancelled", _("Termin abgesagt")


class ChannelMode(models.TextChoices):
    FALLBACK = "fallback", _("in Reihenfolge, mit Ausweichkanal")
    ALL = "all", _("auf jedem Kanal")


class AutoReply(models.TextChoices):
    """An auto-reply to the sender of an incoming message (message.received /
    conversation.created). The engine adds each kind's own condition and sends at most one
    auto-reply per sender and conversation within the rule's window; when several would
    go, the first in this order wins (the most specific news first): the absent agent's
    notice, then out of hours, then the plain acknowledgement."""

    NONE = "", _("keine automatische Antwort")
    ABSENCE = "absence", _("Abwesenheit des Zuständigen (Vertretung)")
    OUT_OF_HOURS = "out_of_hours", _("außerhalb der Geschäftszeiten")
    ACKNOWLEDGEMENT = "acknowledgement", _("Eingangsbestätigung")


AUTO_REPLY_ORDER = {
    AutoReply.ABSENCE: 1,
    AutoReply.OUT_OF_HOURS: 2,
    AutoReply.ACKNOWLEDGEMENT: 3,
}


class StepAction(models.TextChoices):
    """What a step does: send a message (the default), or change the conversation of an
    incoming message (only for message.received / conversation.created)."""

    SEND = "send", _("Nachricht senden")
    ASSIGN = "assign", _("zuweisen")
    PRIORITY = "priority", _("Priorität setzen")
    TAGS = "tags", _("Schlagworte hinzufügen")


class AssignTo(models.TextChoices):
    OWNER = "owner", _("Betreuer/in des Kunden")
    USER = "user", _("eine bestimmte Person")
    ROUND_ROBIN = "round_robin", _("reihum unter den anwesenden Agents der Marke")
    SUBSTITUTE = "substitute", _("Vertretung des abwesenden Zuständigen")


# the events of incoming messages: auto-replies and inbox actions only for these
INBOUND_EVENTS = ("message.received", "conversation.created")


class AutomationRuleQuerySet(models.QuerySet):
    def active(self) -> AutomationRuleQuerySet:
        return self.filter(active=True)

    def for_brands(self, brands) -> AutomationRuleQuerySet:
        """The rules that apply to these brands: their own and those for all brands."""
        return self.filter(Q(brand__in=brands) | Q(brand__isnull=True))


class AutomationRule(models.Model):
    """When an event of this type (and these conditions) happens, plan these steps."""

    brand = models.ForeignKey(
        "kommunikation.BusinessEntity",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="automation_rules",
        verbose_name=_("Marke"),
        help_text=_("Leer = für alle Marken."),
    )
    key = models.SlugField(_("Schlüssel"), max_length=80)
    name = models.CharField(_("Name"), max_length=200)
    active = models.BooleanField(_("aktiv"), default=True)
    event_type = models.CharField(_("Ereignistyp"), max_length=80)
    from_status = models.CharField(
        _("von Status"), max_length=40, blank=True, help_text=_("Nur bei Statusänderungen.")
    )
    to_status = models.CharField(
        _("zu Status"), max_length=40, blank=True, help_text=_("Nur bei Statusänderungen.")
    )
    conditions = models.JSONField(
        _("Bedingungen"),
        default=list,
        blank=True,
        help_text=_(
            'Liste, alle müssen zutreffen, z. B. [{"field": "customer.vip", "op": "equals", '
            '"value": true}, {"field": "payload.amount", "op": ">=", "value": 1000}].'
        ),
    )
    address_type = models.CharField(
        _("Typ der Kundenadresse"),
        max_length=10,
        choices=AddressType.choices,
        default=AddressType.AUTO,
    )
    address_position = models.CharField(
        _("Adresse nutzen"),
        max_length=5,
        choices=AddressPosition.choices,
        default=AddressPosition.FIRST,
    )
    category = models.CharField(_("Art"), max_length=14, choices=Category.choices)
    priority = models.PositiveSmallIntegerField(
        _("Priorität"), choices=Priority.choices, default=Priority.NORMAL
    )
    purpose = models.CharField(
        _("Absender"), max_length=10, choices=Purpose.choices, default=Purpose.SUPPORT
    )
    once_per_record = models.BooleanField(
        _("einmal je Vorgang"),
        default=False,
        help_text=_(
            "Die Regel läuft je Rechnung, Auftrag oder Termin nur einmal (z. B. das Mahnwesen, "
            "auch wenn das Ereignis erneut kommt)."
        ),
    )
    auto_reply = models.CharField(
        _("automatische Antwort"),
        max_length=16,
        choices=AutoReply.choices,
        blank=True,
        default=AutoReply.NONE,
        help_text=_(
            "Antwort an den Absender einer eingehenden Nachricht. Nie an automatische, "
            "Massen-, Listen-, Noreply- oder Mailer-Daemon-Absender (RFC 3834)."
        ),
    )
    reply_window_hours = models.PositiveIntegerField(
        _("höchstens eine automatische Antwort je (Stunden)"),
        default=24,
        help_text=_(
            "Je Absender und Konversation geht in diesem Zeitraum höchstens eine "
            "automatische Antwort, über alle Regeln hinweg."
        ),
    )
    description = models.TextField(_("Beschreibung"), blank=True)
    created_at = models.DateTimeField(_("angelegt"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("geändert"), auto_now=True)

    objects = AutomationRuleQuerySet.as_manager()

    class Meta:
        verbose_name = _("Regel")
        verbose_name_plural = _("Regeln")
        ordering = ["event_type", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "key"], condition=Q(brand__isnull=False), name="rule_unique_key"
            ),
            models.UniqueConstraint(
                fields=["key"], condition=Q(brand__isnull=True), name="rule_unique_key_all_brands"
            ),
        ]
        indexes = [
            # the engine's lookup: the active rules of an event type
            models.Index(fields=["event_type", "active"], name="rule_event_type"),
        ]

    def __str__(self) -> str:
        return self.name or self.key

    def clean(self) -> None:
        from kommunikation.automation.validation import rule_errors

        errors = rule_errors(self)
        if errors:
            raise ValidationError(errors)


class RuleStep(models.Model):
    """One message of a rule: the first action (position 0) or a follow-up."""

    rule = models.ForeignKey(
        AutomationRule, on_delete=models.CASCADE, related_name="steps", verbose_name=_("Regel")
    )
    position = models.PositiveSmallIntegerField(_("Schritt"), default=0)
    name = models.CharField(_("Bezeichnung"), max_length=80, blank=True)
    action = models.CharField(
        _("Aktion"), max_length=10, choices=StepAction.choices, default=StepAction.SEND
    )
    template_key = models.SlugField(_("Vorlage"), max_length=80, blank=True)
    channels = models.JSONField(
        _("Kanäle"),
        default=list,
        blank=True,
        help_text=_('In Reihenfolge, z. B. ["email", "sms"].'),
    )
    assign_to = models.CharField(
        _("zuweisen an"), max_length=12, choices=AssignTo.choices, blank=True
    )
    assign_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Person"),
        help_text=_("Nur bei „eine bestimmte Person“."),
    )
    set_priority = models.CharField(
        _("Priorität der Konversation"),
        max_length=8,
        blank=True,
        help_text=_("urgent, high, normal oder low"),
    )
    tags = models.JSONField(
        _("Schlagworte"), default=list, blank=True, help_text=_('z. B. ["Buchhaltung"]')
    )
    channel_mode = models.CharField(
        _("Kanalwahl"), max_length=8, choices=ChannelMode.choices, default=ChannelMode.FALLBACK
    )
    # issue 11 §7: the channels are a chain; not delivered within this wait, the next one
    fallback_after = models.DurationField(
        _("Ausweichkanal nach"),
        null=True,
        blank=True,
        help_text=_(
            "Nicht zugestellt nach dieser Zeit (z. B. 1:00:00 = 1 Stunde): weiter mit dem "
            "nächsten Kanal. Gilt für Kanäle mit Zustellbestätigung (WhatsApp, SMS, E-Mail "
            "über einen Versanddienst); leer: nur bei Fehlschlag weiter."
        ),
    )
    category = models.CharField(
        _("Art"), max_length=14, choices=Category.choices, blank=True, help_text=_("Leer = Regel.")
    )
    timing = models.CharField(
        _("Zeitpunkt"), max_length=12, choices=Timing.choices, default=Timing.IMMEDIATE
    )
    amount = models.PositiveIntegerField(_("Menge"), default=0)
    unit = models.CharField(_("Einheit"), max_length=7, choices=Unit.choices, default=Unit.DAYS)
    date_field = models.CharField(
        _("Datumsfeld"), max_length=60, blank=True, help_text=_("z. B. starts_at, due_date")
    )
    at_time = models.TimeField(
        _("Uhrzeit"), null=True, blank=True, help_text=_("Ortszeit Europe/Berlin.")
    )
    weekday = models.PositiveSmallIntegerField(
        _("Wochentag"), choices=Weekday.choices, null=True, blank=True
    )
    repeat = models.PositiveSmallIntegerField(
        _("Wiederholungen"), default=0, help_text=_("z. B. wöchentlich: 4 weitere Male.")
    )
    cancel_on = models.JSONField(_("Abbrechen, wenn"), default=list, blank=True)

    class Meta:
        verbose_name = _("Schritt")
        verbose_name_plural = _("Schritte")
        ordering = ["rule", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "position"], name="rulestep_unique_position")
        ]

    def __str__(self) -> str:
        return f"{self.rule.key} #{self.position} {self.template_key}"

    def clean(self) -> None:
        from kommunikation.automation.validation import step_errors

        errors = step_errors(
            self,
            event_type=self.rule.event_type if self.rule_id else "",
            auto_reply=self.rule.auto_reply if self.rule_id else "",
        )
        if errors:
            raise ValidationError(errors)

    @property
    def effective_category(self) -> str:
        return self.category or self.rule.category


class RunQuerySet(models.QuerySet):
    def for_brands(self, brands) -> RunQuerySet:
        return self.filter(event__brand__in=brands)


class RuleRun(models.Model):
    """One rule against one event: did it match, and why (not)."""

    # event and rule without an index of their own: rulerun_unique starts with the event,
    # rulerun_rule_recent with the rule. The event without a database constraint (the
    # engine writes the run for an event it holds locked; the ORM's cascade still deletes
    # the runs with their event): one check less at commit for each run written
    event = models.ForeignKey(
        "kommunikation.Event",
        on_delete=models.CASCADE,
        related_name="rule_runs",
        db_index=False,
        db_constraint=False,
    )
    # the rule as it was is in rule_key; no database constraint on the id (as the audit
    # entries' customer and brand ids): one check less for each run written, and the ORM
    # still sets it NULL when the rule is deleted
    rule = models.ForeignKey(
        AutomationRule,
        on_delete=models.SET_NULL,
        null=True,
        related_name="runs",
        db_constraint=False,
        db_index=False,
    )
    rule_key = models.CharField(_("Regel"), max_length=80)
    matched = models.BooleanField(_("zutreffend"))
    reason = models.CharField(_("Begründung"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("angelegt"), default=timezone.now)

    objects = RunQuerySet.as_manager()

    class Meta:
        verbose_name = _("Regellauf")
        verbose_name_plural = _("Regelläufe")
        ordering = ["-created_at", "-id"]
        constraints = [
            # an event runs each rule once: a repeated task finds the run and does nothing
            models.UniqueConstraint(fields=["event", "rule"], name="rulerun_unique")
        ]
        indexes = [
            # the rule's counts of the last 7 days (Automatisierung page)
            models.Index(fields=["rule", "created_at"], name="rulerun_rule_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_key} / {self.event_id}: {'ja' if self.matched else 'nein'}"


class PlannedState(models.TextChoices):
    PLANNED = "planned", _("geplant")
    SKIPPED = "skipped", _("übersprungen")
    CANCELLED = "cancelled", _("storniert")
    DONE = "done", _("ausgeführt")  # an inbox step (assign, priority, tags)


class PlannedStepQuerySet(models.QuerySet):
    def pending(self) -> PlannedStepQuerySet:
        """Planned and not gone out yet (the outbox row still waits)."""
        return self.filter(state=PlannedState.PLANNED, outbound__status="queued")

    def for_record(self, brand_id: int, kind: str, record_id: str) -> PlannedStepQuerySet:
        return self.filter(brand_id=brand_id, record_kind=kind, record_id=record_id)


class PlannedStep(models.Model):
    """One step of a matched rule for one event: planned into the outbox, or skipped /
    cancelled with the reason (what the Automatisierung page shows)."""

    # run, step, brand, customer and outbound without database constraints: the run and
    # the outbox row are written by the same batch just before the step, the step is the
    # rule's configuration (deleted when a rule is reloaded), brand and customer are
    # copies of the run's event; the ORM's on_delete still applies, and each planned step
    # written saves five foreign-key checks at commit
    run = models.ForeignKey(
        RuleRun, on_delete=models.CASCADE, related_name="steps", db_constraint=False
    )
    step = models.ForeignKey(
        RuleStep, on_delete=models.SET_NULL, null=True, related_name="+", db_constraint=False
    )
    position = models.PositiveSmallIntegerField(_("Schritt"))
    repetition = models.PositiveSmallIntegerField(_("Wiederholung"), default=0)
    # copied from the event so supersession finds a record's plans in one index scan
    # (plannedstep_record_first); no index of its own, which the planner would take for that
    # look-up while it thinks a brand has few steps (a new brand, statistics behind)
    brand = models.ForeignKey(
        "kommunikation.BusinessEntity",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    customer = models.ForeignKey(
        "kommunikation.Customer",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        db_constraint=False,
    )
    record_kind = models.CharField(max_length=20, blank=True)
    record_id = models.CharField(max_length=80, blank=True)
    template_key = models.CharField(_("Vorlage"), max_length=80)
    channels = models.JSONField(_("Kanäle"), default=list)
    # the address chosen per channel (the rule's address type and first/last)
    addresses = models.JSONField(_("Adressen"), default=dict, blank=True)
    cancel_on = models.JSONField(default=list, blank=True)
    planned_for = models.DateTimeField(_("geplant für"), null=True, blank=True)
    state = models.CharField(_("Stand"), max_length=10, choices=PlannedState.choices)
    reason = models.CharField(_("Begründung"), max_length=500, blank=True)
    outbound = models.OneToOneField(
        "kommunikation.OutboundMessage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="planned_step",
        verbose_name=_("Ausgang"),
        db_constraint=False,
    )
    created_at = models.DateTimeField(_("angelegt"), default=timezone.now)
    cancelled_at = models.DateTimeField(_("storniert"), null=True, blank=True)

    objects = PlannedStepQuerySet.as_manager()

    class Meta:
        verbose_name = _("geplanter Schritt")
        verbose_name_plural = _("geplante Schritte")
        ordering = ["planned_for", "id"]
        indexes = [
            # supersession: what is still planned for the business records (the record id
            # first, as in event_record_first)
            models.Index(
                fields=["record_id", "record_kind", "brand"],
                condition=Q(state="planned"),
                name="plannedstep_record_first",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template_key} @ {self.planned_for}: {self.get_state_display()}"
