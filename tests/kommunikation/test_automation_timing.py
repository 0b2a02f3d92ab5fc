"""When a step is due: elapsed hours vs calendar days across the March and October clock
changes in Europe/Berlin, times of day, weekdays, and never in the past."""

from __future__ import annotations

import datetime as dt

import pytest

from kommunikation.automation.models import RuleStep
from kommunikation.automation.timing import Late, NoDate, due_at

from .automation_helpers import BERLIN


def step(**fields) -> RuleStep:
    return RuleStep(template_key="x", channels=["email"], **fields)


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


NOW = local(2026, 3, 20, 12, 0)


def due(s: RuleStep, *, occurred=NOW, payload=None, now=NOW, repetition=0) -> dt.datetime:
    return due_at(s, occurred_at=occurred, payload=payload or {}, now=now,
                  repetition=repetition).astimezone(BERLIN)  # fmt: skip


def test_immediately_is_now():
    assert due(step()) == NOW


def test_one_day_before_an_appointment_after_the_march_change_keeps_the_wall_clock():
    # Sunday 29 March 2026 02:00 -> 03:00; the appointment is that Sunday, 09:00
    appointment = {"starts_at": "2026-03-29T09:00:00+02:00"}
    day_before = step(timing="before_date", amount=1, unit="days", date_field="starts_at")
    hours_before = step(timing="before_date", amount=24, unit="hours", date_field="starts_at")

    now = local(2026, 3, 20, 12, 0)
    assert due(day_before, payload=appointment, now=now) == local(2026, 3, 28, 9, 0)
    # 24 elapsed hours earlier: the night was an hour short
    assert due(hours_before, payload=appointment, now=now) == local(2026, 3, 28, 8, 0)


def test_one_day_before_an_appointment_after_the_october_change_keeps_the_wall_clock():
    now = local(2026, 10, 20, 12, 0)
    # Sunday 25 October 2026 03:00 -> 02:00; the appointment is that Sunday, 09:00
    appointment = {"starts_at": "2026-10-25T09:00:00+01:00"}
    day_before = step(timing="before_date", amount=1, unit="days", date_field="starts_at")
    hours_before = step(timing="before_date", amount=24, unit="hours", date_field="starts_at")
    two_hours = step(timing="before_date", amount=2, unit="hours", date_field="starts_at")

    assert due(day_before, payload=appointment, now=now) == local(2026, 10, 24, 9, 0)
    # 24 elapsed hours earlier: the night was an hour long
    assert due(hours_before, payload=appointment, now=now) == local(2026, 10, 24, 10, 0)
    # two hours before 09:00 CET is 07:00 CET, though the clock showed 03:00 twice
    assert due(two_hours, payload=appointment, now=now) == local(2026, 10, 25, 7, 0)


def test_days_after_the_event_cross_the_change_on_the_calendar():
    occurred = local(2026, 3, 27, 10, 30)
    three_days = step(timing="after", amount=3, unit="days")
    seventy_two_hours = step(timing="after", amount=72, unit="hours")

    now = local(2026, 3, 27, 10, 30)
    assert due(three_days, occurred=occurred, now=now) == local(2026, 3, 30, 10, 30)
    assert due(seventy_two_hours, occurred=occurred, now=now) == local(2026, 3, 30, 11, 30)


def test_a_time_of_day_in_the_spring_gap_moves_forward_by_the_gap():
    occurred = local(2026, 3, 28, 12, 0)
    s = step(timing="after", at_time=dt.time(2, 30))  # the next 02:30: on the 29th, missing

    when = due(s, occurred=occurred, now=occurred)

    assert when == dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC).astimezone(BERLIN)
    assert (when.hour, when.minute) == (3, 30)


def test_at_a_time_of_day_and_on_the_next_weekday():
    friday_evening = local(2026, 3, 20, 18, 45)
    morning = step(timing="after", at_time=dt.time(9, 0))
    monday = step(timing="after", at_time=dt.time(9, 0), weekday=0)

    assert due(morning, occurred=friday_evening, now=friday_evening) == local(2026, 3, 21, 9, 0)
    assert due(monday, occurred=friday_evening, now=friday_evening) == local(2026, 3, 23, 9, 0)


def test_minute_precision():
    occurred = local(2026, 3, 20, 12, 0, 41)
    s = step(timing="after", amount=30, unit="minutes")

    assert due(s, occurred=occurred, now=occurred) == local(2026, 3, 20, 12, 30)


def test_a_reminder_whose_time_has_passed_is_skipped_with_the_reason():
    appointment = {"starts_at": "2026-03-21T10:00:00+01:00"}  # tomorrow 10:00
    s = step(timing="before_date", amount=48, unit="hours", date_field="starts_at")

    with pytest.raises(Late, match="19.03.2026 10:00 ist schon vorbei"):
        due(s, payload=appointment)


def test_a_follow_up_reached_late_goes_now_within_the_grace_else_it_is_skipped(settings):
    settings.AUTOMATION_LATE_HOURS = 24
    s = step(timing="after", amount=3, unit="days")

    assert due(s, occurred=NOW - dt.timedelta(days=3, hours=2)) == NOW
    with pytest.raises(Late):
        due(s, occurred=NOW - dt.timedelta(days=5))


def test_weekly_repetitions_count_on_from_the_event():
    s = step(timing="after", amount=1, unit="weeks", repeat=3)
    occurred = local(2026, 3, 20, 9, 0)

    assert [due(s, occurred=occurred, now=occurred, repetition=i) for i in range(4)] == [
        local(2026, 3, 27, 9, 0), local(2026, 4, 3, 9, 0), local(2026, 4, 10, 9, 0),
        local(2026, 4, 17, 9, 0),
    ]  # fmt: skip


def test_a_missing_or_broken_date_is_named():
    s = step(timing="before_date", amount=1, unit="days", date_field="starts_at")

    with pytest.raises(NoDate, match="kein Datum „starts_at“"):
        due(s, payload={})
    with pytest.raises(NoDate, match="ist kein Datum"):
        due(s, payload={"starts_at": "morgen"})
