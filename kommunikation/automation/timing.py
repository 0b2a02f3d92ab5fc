"""When a step is due: minute precision, Europe/Berlin wall-clock where people expect it.

Minutes and hours are elapsed time (T-24h before 10:00 on the Monday after the October
change is 11:00 on Sunday, 24 real hours earlier); days and weeks are calendar days in
Berlin (one day before a 09:00 appointment is 09:00 the day before, whatever the clock
change did in between). A time of day and a weekday move the moment forward to the next
such local time. The result is never in the past: a step relative to a date of the event
whose moment has passed is skipped (``Late``), one relative to the event itself is sent now
when its moment passed less than AUTOMATION_LATE_HOURS ago (the engine was busy), else
skipped too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from kommunikation.automation.models import Timing, Unit


def berlin() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


class Late(Exception):
    """The step's moment has passed; the message names it."""


class NoDate(Exception):
    """The event lacks the date the step counts from."""


def _wall(local: dt.datetime) -> dt.datetime:
    """A local wall-clock time made real: a time in the spring gap (02:30 on the last
    Sunday of March) moves forward by the gap; an ambiguous one (October) is the first."""
    utc = local.replace(fold=0).astimezone(dt.UTC)
    return utc.astimezone(local.tzinfo)


def shift(moment: dt.datetime, amount: int, unit: str, *, sign: int = 1) -> dt.datetime:
    """moment +/- amount units; days and weeks on the Berlin calendar, the rest elapsed."""
    if unit in (Unit.MINUTES, Unit.HOURS):
        # in UTC: an aware datetime in a zone adds wall-clock time, not elapsed time
        delta = dt.timedelta(**{unit: amount})
        return (moment.astimezone(dt.UTC) + sign * delta).astimezone(berlin())
    days = amount * (7 if unit == Unit.WEEKS else 1)
    local = moment.astimezone(berlin())
    # aware + timedelta keeps the wall-clock time and the tzinfo: calendar arithmetic
    return _wall(local + sign * dt.timedelta(days=days))


def to_time_of_day(moment: dt.datetime, at: dt.time | None, weekday: int | None) -> dt.datetime:
    """The first local moment at or after `moment` at time `at` (on `weekday`)."""
    local = moment.astimezone(berlin())
    if at is None and weekday is None:
        return local
    target_time = at or local.time().replace(second=0, microsecond=0)
    candidate = _wall(dt.datetime.combine(local.date(), target_time, tzinfo=berlin()))
    if candidate.astimezone(dt.UTC) < local.astimezone(dt.UTC):
        candidate = _wall(
            dt.datetime.combine(local.date() + dt.timedelta(days=1), target_time, tzinfo=berlin())
        )
    if weekday is not None:
        ahead = (weekday - candidate.weekday()) % 7
        if ahead:
            candidate = _wall(
                dt.datetime.combine(
                    candidate.date() + dt.timedelta(days=ahead), target_time, tzinfo=berlin()
                )
            )
    return candidate


def payload_moment(payload: Mapping[str, Any], name: str) -> dt.datetime:
    """A date or time from the payload; a bare date counts from 00:00, a naive time is Berlin."""
    value = payload.get(name)
    if value in (None, ""):
        raise NoDate(_("Das Ereignis enthält kein Datum „%(field)s“.") % {"field": name})
    try:
        if isinstance(value, dt.datetime):
            moment = value
        elif isinstance(value, dt.date):
            moment = dt.datetime.combine(value, dt.time())
        else:
            text = str(value)
            moment = (
                dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
                if len(text) == 10
                else dt.datetime.fromisoformat(text)
            )
    except ValueError:
        raise NoDate(
            _("„%(field)s“ ist kein Datum: %(value)s") % {"field": name, "value": value}
        ) from None
    if moment.tzinfo is None:
        moment = _wall(moment.replace(tzinfo=berlin()))
    return moment


def _label(moment: dt.datetime) -> str:
    return date_format(moment.astimezone(berlin()), "d.m.Y H:i")


def due_at(
    step, *, occurred_at: dt.datetime, payload: Mapping[str, Any], now: dt.datetime, repetition=0
) -> dt.datetime:
    """When the step (its `repetition`-th repeat) should go out; raises Late or NoDate."""
    if step.timing == Timing.IMMEDIATE:
        return now
    if step.timing == Timing.AFTER:
        base = occurred_at
        amount = step.amount * (1 + repetition)
        moment = shift(base, amount, step.unit) if amount else base
        relative_to_event = True
    else:
        base = payload_moment(payload, step.date_field)
        sign = -1 if step.timing == Timing.BEFORE_DATE else 1
        moment = shift(base, step.amount, step.unit, sign=sign) if step.amount else base
        relative_to_event = False
    moment = to_time_of_day(moment, step.at_time, step.weekday)
    moment = moment.replace(second=0, microsecond=0)
    if moment >= now.replace(second=0, microsecond=0):
        return max(moment, now)
    late = now - moment
    if relative_to_event and late <= dt.timedelta(hours=settings.AUTOMATION_LATE_HOURS):
        return now
    raise Late(_("Zeitpunkt %(when)s ist schon vorbei; übersprungen.") % {"when": _label(moment)})
