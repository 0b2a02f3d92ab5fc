"""Loaded with -p before Django is set up: the environment every test run starts from."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("CACHE", "locmem")
os.environ.setdefault("Q2_SYNC", "true")
os.environ["Q2_BROKER"] = ""  # never Redis in tests
# tasks run in the request (Q2_SYNC): nothing can arrive while the WhatsApp task waited
os.environ.setdefault("WHATSAPP_GATHER_MS", "0")
os.environ.setdefault(
    "MEDIA_ROOT", os.path.join(os.path.dirname(__file__), "..", "var", "test-media")
)


# --- the clock ---------------------------------------------------------------------------
# No test may depend on today's date. To prove it, run the whole suite with the clock moved:
#   KK_TEST_CLOCK_SHIFT_DAYS=365 .venv/bin/pytest ...
# starts one time-machine travel (ticking) for the whole session, in every xdist worker, before
# Django is set up. Tests that set the clock themselves nest inside it (time-machine keeps a
# stack). The live server runs in a thread of the same process, so server and tests agree;
# only the browser (chromium, another process) keeps the real clock.

CLOCK_SHIFT_VARIABLE = "KK_TEST_CLOCK_SHIFT_DAYS"
_clock_travel = None


def clock_shift_days() -> float:
    raw = os.environ.get(CLOCK_SHIFT_VARIABLE, "").strip()
    try:
        return float(raw or 0)
    except ValueError:
        raise SystemExit(f"{CLOCK_SHIFT_VARIABLE} must be a number of days, not {raw!r}") from None


def pytest_configure(config):
    global _clock_travel
    days = clock_shift_days()
    if days and _clock_travel is None:
        import datetime as dt

        import time_machine

        _clock_travel = time_machine.travel(dt.timedelta(days=days), tick=True)
        _clock_travel.start()


def pytest_unconfigure(config):
    global _clock_travel
    if _clock_travel is not None:
        _clock_travel.stop()
        _clock_travel = None


def pytest_report_header(config):
    days = clock_shift_days()
    if days:
        import datetime as dt

        return f"clock shifted by {days} days: now is {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    return None
