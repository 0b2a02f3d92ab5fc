"""Personas and shared fixtures: an agent of brand A, a team lead, an agent of brand B."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from kommunikation.roles import AGENT, TEAM_LEAD
from tests.factories import BrandFactory, UserFactory

DATA = Path(__file__).parent / "data"

#: The one "now" of every test that needs a fixed date (``pytest.mark.time_machine(NOW)``):
#: a Wednesday noon in Berlin, after every date in the test data. Fixed dates are written
#: relative to it. The suite also runs with the clock shifted (see tests/pytest_env.py).
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _whatsapp_accounts():
    """The WhatsApp webhook keeps the numbers it looked up in the process; a test's number
    goes with its transaction, so no later test may meet it."""
    from conversations.whatsapp import forget_accounts

    yield
    forget_accounts()


@pytest.fixture(autouse=True)
def _language_reset():
    """A request with the English language cookie activates English in this thread
    (LocaleMiddleware) and nothing deactivates it: the next test would inherit it."""
    yield
    translation.deactivate()


@pytest.fixture
def brand_a(db):
    return BrandFactory(
        name="LaderThuis",
        slug="laderthuis",
        domains=["laderthuis.nl"],
        support_email="support@laderthuis.nl",
    )


@pytest.fixture
def brand_b(db):
    return BrandFactory(
        name="ZaptecShop",
        slug="zaptecshop",
        domains=["zaptecshop.nl"],
        support_email="support@zaptecshop.nl",
    )


@pytest.fixture
def agent_a(brand_a):
    return UserFactory(username="anna.agent", brands=[brand_a], roles=[AGENT])


@pytest.fixture
def agent_b(brand_b):
    return UserFactory(username="bernd.agent", brands=[brand_b], roles=[AGENT])


@pytest.fixture
def team_lead(brand_a, brand_b):
    return UserFactory(username="tina.lead", brands=[brand_a, brand_b], roles=[TEAM_LEAD])


@pytest.fixture
def email_data():
    return DATA / "emails"


# --- the browser: Debian's chromium driven by Playwright -------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def _playwright_browser():
    import os

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} fehlt: `make install` installiert Debians chromium.")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright runs an event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(_playwright_browser, live_server, transactional_db):
    """A fresh browser page (own cookies) whose base URL is the live test server.

    It depends on the database so that it is closed before the database is emptied: a
    request of the page still running in the live server held row locks while the
    teardown's TRUNCATE waited for them (a deadlock, once)."""
    context = _playwright_browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 800}, locale="de-DE"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def login(page, user, password: str = "geheim-123") -> None:
    """Log in through the real login form."""
    page.goto("/anmelden/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
