"""A call a staff member is to make: planned by the ``call`` channel, done with an outcome."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CallTaskStatus(models.TextChoices):
    OPEN = "open", _("offen")
    DONE = "done", _("erledigt")
    FALLEN_BACK = "fallback", _("weiter mit dem nächsten Kanal")
    FAILED = "failed", _("nicht erreicht (aufgegeben)")


class CallOutcome(models.TextChoices):
    REACHED = "reached", _("erreicht")
    NOT_REACHED = "not_reached", _("nicht erreicht")
    CALLBACK = "callback", _("Rückruf vereinbart")
    WRONG_NUMBER = "wrong_number", _("falsche Nummer")


class CallTaskQuerySet(models.QuerySet):
    def for_user(self, user) -> CallTaskQuerySet:
        from kommunikation.models import BusinessEntity

        return self.filter(brand__in=BusinessEntity.objects.for_user(user))

    def open(self) -> CallTaskQuerySet:
        return self.filter(status=CallTaskStatus.OPEN)

    def overdue(self, now=None) -> CallTaskQuerySet:
        """Open and due before now: the call should have been made already."""
        return self.open().filter(due_at__lt=now or timezone.now())

    def assigned_to(self, user) -> CallTaskQuerySet:
        return self.filter(assignee=user)


class CallTask(models.Model):
    """One call to a customer, with its attempts; the outbox row it came from is "sent"
    (handed to staff) and its thread entry waits ("queued") until the call is made.

    ``attempts`` counts the calls that did not reach the customer; after ``max_attempts``
    of them the outbox row goes on with its next channel (the rule's fallback), if any.
    """

    brand = models.ForeignKey(
        "kommunikation.BusinessEntity",
        on_delete=models.CASCADE,
        related_name="call_tasks",
        verbose_name=_("Marke"),
    )
    outbound = models.ForeignKey(
        "kommunikation.OutboundMessage",
        on_delete=models.CASCADE,
        related_name="call_tasks",
        verbose_name=_("Ausgang"),
    )
    # the row's place in its channel chain when this task was made (a retry of the same
    # send finds the task; a chain could name the call channel twice)
    channel_index = models.PositiveSmallIntegerField(default=0)
    customer = models.ForeignKey(
        "kommunikation.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_tasks",
        verbose_name=_("Kunde"),
    )
    contact_point = models.ForeignKey(
        "kommunikation.ContactPoint",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_tasks",
        verbose_name=_("Telefonnummer (Kontaktweg)"),
    )
    conversation = models.ForeignKey(
        "conversations.Conversation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Konversation"),
    )
    message = models.ForeignKey(
        "conversations.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_tasks",
        verbose_name=_("Eintrag im Verlauf"),
    )
    phone = models.CharField(_("Telefonnummer"), max_length=20)
    topic = models.CharField(_("Anlass"), max_length=200, blank=True)
    script = models.TextField(_("Gesprächsleitfaden"), blank=True)
    due_at = models.DateTimeField(_("fällig"))
    status = models.CharField(
        _("Status"), max_length=8, choices=CallTaskStatus.choices, default=CallTaskStatus.OPEN
    )
    outcome = models.CharField(
        _("letztes Ergebnis"), max_length=12, choices=CallOutcome.choices, blank=True
    )
    attempts = models.PositiveSmallIntegerField(_("Versuche ohne Erfolg"), default=0)
    max_attempts = models.PositiveSmallIntegerField(_("höchstens Versuche"), default=3)
    callback_at = models.DateTimeField(_("Rückruf vereinbart für"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_tasks",
        verbose_name=_("zugewiesen an"),
    )
    last_call_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("zuletzt angerufen von"),
    )
    last_call_at = models.DateTimeField(_("zuletzt angerufen"), null=True, blank=True)
    note = models.TextField(_("Notiz"), blank=True)
    created_at = models.DateTimeField(_("angelegt"), default=timezone.now)
    closed_at = models.DateTimeField(_("abgeschlossen"), null=True, blank=True)

    objects = CallTaskQuerySet.as_manager()

    class Meta:
        app_label = "kommunikation"
        verbose_name = _("Anrufaufgabe")
        verbose_name_plural = _("Anrufaufgaben")
        ordering = ["due_at", "id"]
        indexes = [
            # the Aufgaben page and its counts: a brand's open tasks by due time
            models.Index(fields=["brand", "status", "due_at"], name="calltask_open_due"),
            # "meine": the open tasks of one assignee
            models.Index(fields=["assignee", "status", "due_at"], name="calltask_mine"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["outbound", "channel_index"], name="calltask_one_per_outbound_step"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer or self.phone} – {self.due_at:%d.%m.%Y %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.status == CallTaskStatus.OPEN

    def is_overdue(self, now=None) -> bool:
        return self.is_open and self.due_at < (now or timezone.now())

    @property
    def next_attempt_number(self) -> int:
        return self.attempts + 1

    def clean(self) -> None:
        from kommunikation.models import brand_of, check_same_brand

        check_same_brand(
            self.brand_id,
            outbound=brand_of(self, "outbound__brand"),
            customer=brand_of(self, "customer__brand"),
            contact_point=brand_of(self, "contact_point__customer__brand"),
            conversation=brand_of(self, "conversation__brand"),
            message=brand_of(self, "message__conversation__brand"),
        )
