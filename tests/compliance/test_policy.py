"""Send windows in Europe/Berlin, across the daylight-saving changes."""

from __future__ import annotations

import datetime as dt

from compliance.policy import next_allowed_time
from tests.compliance.conftest import berlin

UTC = dt.UTC


def test_email_may_go_at_any_time():
    assert (
        next_allowed_time(berlin(2026, 3, 29, 3, 30), channel="email", category="service") is None
    )


def test_sms_inside_the_window_goes_now():
    assert next_allowed_time(berlin(2026, 6, 1, 8, 0), channel="sms", category="service") is None
    assert next_allowed_time(berlin(2026, 6, 1, 19, 59), channel="sms", category="service") is None


def test_sms_before_eight_waits_for_eight_the_same_day():
    until = next_allowed_time(berlin(2026, 6, 1, 6, 15), channel="sms", category="service")
    assert until == berlin(2026, 6, 1, 8, 0)


def test_sms_at_twenty_waits_for_the_next_morning():
    until = next_allowed_time(berlin(2026, 6, 1, 20, 0), channel="sms", category="service")
    assert until == berlin(2026, 6, 2, 8, 0)


def test_the_march_clock_change_keeps_eight_oclock_local():
    # 28.03.2026 21:00 CET; on 29.03. at 02:00 the clocks jump to 03:00 (CEST, UTC+2)
    at = dt.datetime(2026, 3, 28, 20, 0, tzinfo=UTC)
    until = next_allowed_time(at, channel="sms", category="service")
    assert until == dt.datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST
    assert until - at == dt.timedelta(hours=10)  # the night is an hour shorter


def test_the_october_clock_change_keeps_eight_oclock_local():
    # 24.10.2026 21:00 CEST; on 25.10. at 03:00 the clocks go back to 02:00 (CET, UTC+1)
    at = dt.datetime(2026, 10, 24, 19, 0, tzinfo=UTC)
    until = next_allowed_time(at, channel="sms", category="service")
    assert until == dt.datetime(2026, 10, 25, 7, 0, tzinfo=UTC)  # 08:00 CET
    assert until - at == dt.timedelta(hours=12)


def test_a_message_in_the_repeated_october_hour_is_deferred_to_eight():
    # 02:30 exists twice on 25.10.2026; both are quiet hours for WhatsApp
    first = dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    for at in (first, second):
        until = next_allowed_time(at, channel="whatsapp", category="service")
        assert until == dt.datetime(2026, 10, 25, 7, 0, tzinfo=UTC)


def test_calls_have_their_own_window(settings):
    until = next_allowed_time(berlin(2026, 6, 1, 17, 0), channel="call", category="service")
    assert until == berlin(2026, 6, 2, 9, 0)


def test_windows_are_configurable(settings):
    settings.COMPLIANCE_SEND_WINDOWS = {"sms": "10:00-12:00"}
    assert next_allowed_time(berlin(2026, 6, 1, 9, 0), channel="sms", category="service") == (
        berlin(2026, 6, 1, 10, 0)
    )
    assert next_allowed_time(berlin(2026, 6, 1, 9, 0), channel="whatsapp", category="x") is None


def test_no_marketing_on_sundays_and_holidays_when_switched_on(settings):
    settings.COMPLIANCE_NO_MARKETING_ON_REST_DAYS = True
    # Saturday 02.05.2026 22:00 -> Sunday 03.05. is skipped -> Monday 04.05. 08:00
    until = next_allowed_time(berlin(2026, 5, 2, 22, 0), channel="sms", category="marketing")
    assert until == berlin(2026, 5, 4, 8, 0)
    # Christmas Day 25.12.2026 (Friday) and Boxing Day -> Sunday 27.12. -> Monday 28.12.
    until = next_allowed_time(berlin(2026, 12, 25, 10, 0), channel="email", category="marketing")
    assert until == berlin(2026, 12, 28, 0, 0)
    # invoices still go on a holiday
    assert (
        next_allowed_time(berlin(2026, 12, 25, 10, 0), channel="email", category="transactional")
        is None
    )


def test_rest_days_are_ignored_by_default():
    assert (
        next_allowed_time(berlin(2026, 5, 3, 10, 0), channel="email", category="marketing") is None
    )
