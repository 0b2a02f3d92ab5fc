"""The call window: 09:00-17:00 Europe/Berlin on working days, per brand its opening hours."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from kommunikation.automation.availability import OpeningHours
from kommunikation.calls.window import next_attempt_slot, next_call_slot

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("at", "due"),
    [
        (berlin(2026, 11, 25, 12, 0), berlin(2026, 11, 25, 12, 0)),  # Wednesday noon: now
        (berlin(2026, 11, 25, 7, 30), berlin(2026, 11, 25, 9, 0)),  # before the window
        (berlin(2026, 11, 25, 17, 0), berlin(2026, 11, 26, 9, 0)),  # the end is exclusive
        (berlin(2026, 11, 25, 16, 50), berlin(2026, 11, 26, 9, 0)),  # 10 minutes are too few
        (berlin(2026, 11, 27, 16, 30), berlin(2026, 11, 27, 16, 30)),  # Friday, still time
        (berlin(2026, 11, 27, 18, 0), berlin(2026, 11, 30, 9, 0)),  # Friday evening: Monday
        (berlin(2026, 11, 28, 11, 0), berlin(2026, 11, 30, 9, 0)),  # Saturday: Monday
        (berlin(2026, 12, 24, 17, 30), berlin(2026, 12, 28, 9, 0)),  # Christmas: Monday 28th
        (berlin(2026, 10, 2, 18, 0), berlin(2026, 10, 5, 9, 0)),  # Tag der Deutschen Einheit
    ],
)
def test_a_new_call_is_due_in_the_next_slot_of_the_call_window(brand_a, at, due):
    assert next_call_slot(at, brand=brand_a) == due


def test_a_call_not_reached_on_friday_afternoon_is_tried_again_on_monday_at_nine(brand_a):
    assert next_attempt_slot(berlin(2026, 11, 27, 16, 30), brand=brand_a) == berlin(
        2026, 11, 30, 9, 0
    )


def test_a_call_not_reached_in_the_morning_is_tried_again_two_hours_later(brand_a):
    assert next_attempt_slot(berlin(2026, 11, 25, 10, 15), brand=brand_a) == berlin(
        2026, 11, 25, 12, 15
    )


def test_the_wait_before_the_next_attempt_is_configurable(brand_a, settings):
    settings.CALL_RETRY_MINUTES = 24 * 60
    assert next_attempt_slot(berlin(2026, 11, 25, 10, 15), brand=brand_a) == berlin(
        2026, 11, 26, 10, 15
    )


def test_the_holidays_of_the_configured_state_count(brand_a, settings):
    settings.COMPLIANCE_HOLIDAY_STATE = "BY"
    # 6 January (Heilige Drei Könige) is a holiday in Bavaria, not in Berlin
    assert next_call_slot(berlin(2026, 1, 5, 18, 0), brand=brand_a) == berlin(2026, 1, 7, 9, 0)


def test_a_brand_calls_only_within_its_opening_hours(brand_a, brand_b):
    # brand A: Monday to Thursday 10:00-14:00, Friday closed
    OpeningHours.objects.bulk_create(
        OpeningHours(brand=brand_a, weekday=d, opens=dt.time(10), closes=dt.time(14))
        for d in range(4)
    )
    thursday_afternoon = berlin(2026, 11, 26, 15, 0)
    assert next_call_slot(thursday_afternoon, brand=brand_a) == berlin(2026, 11, 30, 10, 0)
    assert next_call_slot(thursday_afternoon, brand=brand_b) == thursday_afternoon


def test_the_call_window_itself_is_configurable(brand_a, settings):
    settings.COMPLIANCE_SEND_WINDOWS = {**settings.COMPLIANCE_SEND_WINDOWS, "call": "08:00-12:00"}
    assert next_call_slot(berlin(2026, 11, 25, 12, 0), brand=brand_a) == berlin(2026, 11, 26, 8, 0)


def test_without_a_call_window_staff_call_at_any_time(brand_a, settings):
    settings.COMPLIANCE_SEND_WINDOWS = {}
    sunday_night = berlin(2026, 11, 29, 23, 0)
    assert next_call_slot(sunday_night, brand=brand_a) == sunday_night


def test_nine_oclock_stays_nine_oclock_across_the_clock_change(brand_a):
    # Saturday before the end of summer time (25 October 2026) -> Monday 09:00 CET
    due = next_call_slot(berlin(2026, 10, 24, 12, 0), brand=brand_a)
    assert due == berlin(2026, 10, 26, 9, 0)
    assert due.utcoffset() == dt.timedelta(hours=1)
