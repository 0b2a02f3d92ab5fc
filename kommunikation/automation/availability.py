"""Who is there and when: a brand's opening hours and its staff's absences.

- ``OpeningHours``: per brand and weekday one or more spans (Europe/Berlin wall time);
  a weekday without a span is closed, and so is every German public holiday (the
  compliance policy's holiday calendar). A brand without any span has no opening hours
  configured and counts as always open (no out-of-hours notice).
- ``Absence`` (seed 001's Vertretungsregeln): a staff member is away from .. until, and a
  colleague of the same brand stands in. Team-Leads and Admins keep them in the admin.

The inbound rules ask ``is_open``, ``absence_of`` and ``present_agents``.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from compliance.policy import BERLIN, is_public_holiday
from kommunikation.automation.models import Weekday


class OpeningHours(models.Model):
    brand = models.ForeignKey(
        "kommunikation.BusinessEntity",
        on_delete=models.CASCADE,
        related_name="opening_hours",
        verbose_name=_("Marke"),
    )
    weekday = models.PositiveSmallIntegerField(_("Wochentag"), choices=Weekday.choices)
    opens = models.TimeField(_("von"))
    closes = models.TimeField(_("bis"))

    class Meta:
        app_label = "kommunikation"
        verbose_name = _("Geschäftszeit")
        verbose_name_plural = _("Geschäftszeiten")
        ordering = ["brand", "weekday", "opens"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def clean(self) -> None:
        if self.opens is not None and self.closes is not None and self.closes <= self.opens:
            raise ValidationError({"closes": _("Das Ende muss nach dem Beginn liegen.")})


class AbsenceQuerySet(models.QuerySet):
    def at(self, when: dt.datetime) -> AbsenceQuerySet:
        return self.filter(starts_at__lte=when, ends_at__gt=when)


class Absence(models.Model):
    brand = models.ForeignKey(
        "kommunikation.BusinessEntity",
        on_delete=models.CASCADE,
        related_name="absences",
        verbose_name=_("Marke"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="absences",
        verbose_name=_("abwesend"),
    )
    starts_at = models.DateTimeField(_("von"))
    ends_at = models.DateTimeField(_("bis"))
    substitute = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="substitutions",
        verbose_name=_("Vertretung"),
    )
    note = models.CharField(_("Hinweis"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("angelegt"), default=timezone.now, editable=False)

    objects = AbsenceQuerySet.as_manager()

    class Meta:
        app_label = "kommunikation"
        verbose_name = _("Abwesenheit")
        verbose_name_plural = _("Abwesenheiten")
        ordering = ["-starts_at", "id"]
        indexes = [models.Index(fields=["user", "ends_at"], name="absence_user_until")]

    def __str__(self) -> str:
        return gettext("%(user)s abwesend bis %(until)s") % {
            "user": display_name(self.user) if self.user_id else "?",
            "until": timezone.localtime(self.ends_at).strftime("%d.%m.%Y %H:%M")
            if self.ends_at
            else "?",
        }

    def clean(self) -> None:
        errors = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("Das Ende muss nach dem Beginn liegen.")
        if self.user_id and self.substitute_id and self.user_id == self.substitute_id:
            errors["substitute"] = _("Niemand vertritt sich selbst.")
        if errors:
            raise ValidationError(errors)
        if self.brand_id:
            for name in ("user", "substitute"):
                if (
                    getattr(self, f"{name}_id")
                    and not self.brand.staff.filter(pk=getattr(self, f"{name}_id")).exists()
                ):
                    raise ValidationError({name: _("Arbeitet nicht für diese Marke.")})


def display_name(user) -> str:
    return user.get_full_name() or user.get_username()


# --- questions of the inbound rules -----------------------------------------------------------


def spans_of(brand) -> dict[int, list[tuple[dt.time, dt.time]]]:
    spans: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for hours in OpeningHours.objects.filter(brand=brand).order_by("weekday", "opens"):
        spans.setdefault(hours.weekday, []).append((hours.opens, hours.closes))
    return spans


def is_open(brand, at: dt.datetime, *, spans=None) -> bool:
    """Open at `at` (Berlin wall time); always open without configured hours."""
    spans = spans_of(brand) if spans is None else spans
    if not spans:
        return True
    local = at.astimezone(BERLIN)
    if is_public_holiday(local.date()):
        return False
    return any(opens <= local.time() < closes for opens, closes in spans.get(local.weekday(), ()))


def next_opening(brand, at: dt.datetime, *, spans=None) -> dt.datetime | None:
    """The next moment the brand opens after `at` (None without hours)."""
    spans = spans_of(brand) if spans is None else spans
    if not spans:
        return None
    local = at.astimezone(BERLIN)
    day = local.date()
    for offset in range(0, 370):
        current = day + dt.timedelta(days=offset)
        if is_public_holiday(current):
            continue
        for opens, _closes in spans.get(current.weekday(), ()):
            if offset or opens > local.time():
                moment = dt.datetime.combine(current, opens, tzinfo=BERLIN)
                return moment.astimezone(dt.UTC).astimezone(BERLIN)
    return None


def absence_of(user, brand, at: dt.datetime) -> Absence | None:
    """The user's absence for this brand at `at`, if any (the one ending last)."""
    if user is None:
        return None
    return (
        Absence.objects.at(at)
        .filter(user=user, brand=brand)
        .select_related("substitute")
        .order_by("-ends_at")
        .first()
    )


def present_agents(brand, at: dt.datetime) -> list:
    """Active staff of the brand with the Agent role who are not absent at `at`, by id."""
    from kommunikation.roles import AGENT

    absent = Absence.objects.at(at).filter(brand=brand).values("user_id")
    return list(
        get_user_model()
        .objects.filter(brands=brand, is_active=True, groups__name=AGENT)
        .exclude(pk__in=absent)
        .distinct()
        .order_by("pk")
    )
