"""When a channel may be used: send windows ("quiet hours") in Europe/Berlin.

A message outside its channel's window is deferred to the next allowed minute,
never dropped. All arithmetic is on local wall-clock dates converted back
through zoneinfo, so "next day 08:00" stays 08:00 across the March and October
clock changes (adding 24 hours would not).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings

from compliance.models import Category

BERLIN = ZoneInfo("Europe/Berlin")


def parse_window(window: str) -> tuple[dt.time, dt.time]:
    """'08:00-20:00' -> (08:00, 20:00); the end is exclusive."""
    start, end = (dt.time.fromisoformat(part.strip()) for part in window.split("-"))
    if end <= start:
        raise ValueError(f"send window must end after it starts: {window!r}")
    return start, end


def send_window(channel: str) -> tuple[dt.time, dt.time] | None:
    """The allowed local time window for a channel, or None for any time (email, letter)."""
    window = settings.COMPLIANCE_SEND_WINDOWS.get(channel)
    return parse_window(window) if window else None


@lru_cache(maxsize=8)
def _holidays(subdivision: str) -> holidays.HolidayBase:
    return holidays.Germany(subdiv=subdivision or None)


def is_public_holiday(day: dt.date) -> bool:
    """A German public holiday (nationwide, or of the configured state)."""
    return day in _holidays(settings.COMPLIANCE_HOLIDAY_STATE)


def is_rest_day(day: dt.date) -> bool:
    """Sunday or a German public holiday (nationwide, or of the configured state)."""
    return day.weekday() == 6 or is_public_holiday(day)


def _day_allowed(day: dt.date, category: str) -> bool:
    if category == Category.MARKETING and settings.COMPLIANCE_NO_MARKETING_ON_REST_DAYS:
        return not is_rest_day(day)
    return True


def _local(day: dt.date, time: dt.time) -> dt.datetime:
    # Round-trip through UTC so a wall time that does not exist (spring forward) or
    # exists twice (fall back) is resolved the way zoneinfo does it: fold=0.
    return dt.datetime.combine(day, time, tzinfo=BERLIN).astimezone(dt.UTC).astimezone(BERLIN)


def next_allowed_time(at: dt.datetime, *, channel: str, category: str) -> dt.datetime | None:
    """None when `at` is allowed; else the first allowed minute after it (aware, Berlin)."""
    local = at.astimezone(BERLIN)
    window = send_window(channel)
    if window is None:
        start, end = dt.time(0, 0), None
    else:
        start, end = window
    if _day_allowed(local.date(), category) and (window is None or start <= local.time() < end):
        return None
    day = local.date()
    if window is not None and local.time() < start and _day_allowed(day, category):
        return _local(day, start)
    for _offset in range(366):
        day += dt.timedelta(days=1)
        if _day_allowed(day, category):
            return _local(day, start)
    raise ValueError("no allowed day within a year; check the holiday settings")
