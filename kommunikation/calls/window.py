"""When staff call: the call window (09:00-17:00 Europe/Berlin by default) on working days.

A working day is Monday to Friday and not a German public holiday (the compliance policy's
calendar, with ``HOLIDAY_STATE``). The window is the channel's send window
(``SEND_WINDOW_CALL``, the same one the compliance gate holds automated calls to), narrowed
per brand to its opening hours (Geschäftszeiten in the admin) where the brand has any: a
brand open 10:00-14:00 on Fridays calls 10:00-14:00 on Fridays, and not on a weekday it
is closed. A call needs a few minutes: a slot that starts less than ``CALL_SLOT_MINUTES``
before the window closes moves to the next window. Without a call window (the setting
empty) staff call at any time.

All arithmetic is on local wall-clock dates converted through zoneinfo (as
``compliance.policy``), so 09:00 stays 09:00 across the clock changes.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from compliance.policy import BERLIN, is_public_holiday, send_window

Span = tuple[dt.time, dt.time]


def _local(day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=BERLIN).astimezone(dt.UTC).astimezone(BERLIN)


def brand_hours(brand) -> dict[int, list[Span]] | None:
    """The brand's opening hours by weekday, or None when it has none configured."""
    from kommunikation.automation.availability import OpeningHours

    hours: dict[int, list[Span]] = {}
    for weekday, opens, closes in OpeningHours.objects.filter(brand=brand).values_list(
        "weekday", "opens", "closes"
    ):
        hours.setdefault(weekday, []).append((opens, closes))
    return hours or None


def day_spans(day: dt.date, *, window: Span, hours: dict[int, list[Span]] | None) -> list[Span]:
    """The spans of ``day`` in which calls are made, in order (empty: no calls that day)."""
    if day.weekday() >= 5 or is_public_holiday(day):
        return []
    start, end = window
    if hours is None:
        return [(start, end)]
    spans = []
    for opens, closes in sorted(hours.get(day.weekday(), [])):
        lo, hi = max(start, opens), min(end, closes)
        if lo < hi:
            spans.append((lo, hi))
    return spans


def next_call_slot(
    at: dt.datetime, *, brand, hours: dict[int, list[Span]] | None | bool = False
) -> dt.datetime:
    """The first moment at or after ``at`` when staff of ``brand`` call (aware, Berlin).

    ``hours``: the brand's opening hours when the caller has them (``brand_hours``), else
    they are read.
    """
    window = send_window("call")
    if window is None:
        return at
    if hours is False:
        hours = brand_hours(brand)
    least = dt.timedelta(minutes=settings.CALL_SLOT_MINUTES)
    local = at.astimezone(BERLIN)
    day = local.date()
    for _offset in range(366):
        for start, end in day_spans(day, window=window, hours=hours):
            opens, closes = _local(day, start), _local(day, end)
            candidate = max(opens, local)
            if closes - candidate >= least:
                return candidate
        day += dt.timedelta(days=1)
    raise ValueError("no call window within a year; check the call window and opening hours")


def next_attempt_slot(at: dt.datetime, *, brand) -> dt.datetime:
    """When to try again after a call that did not reach the customer: the first slot
    ``CALL_RETRY_MINUTES`` later (Friday 16:30 -> Monday 09:00)."""
    return next_call_slot(at + dt.timedelta(minutes=settings.CALL_RETRY_MINUTES), brand=brand)
