"""The segment filters in a real browser: choose one, combine, drop it by its chip."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import login
from tests.factories import ConversationFactory, CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def segmented(brand_a):
    now = timezone.now()
    for i, (subject, tier, industry) in enumerate(
        [
            ("Großküche bestellt nach", "A", "Gastronomie"),
            ("Baustelle Nord", "A", "Handwerk"),
            ("Frage eines Cafés", "C", "Gastronomie"),
        ]
    ):
        customer = CustomerFactory(brand=brand_a, value_tier=tier, industry=industry)
        ConversationFactory(
            brand=brand_a, customer=customer, subject=subject,
            last_message_at=now - dt.timedelta(minutes=i),
        )  # fmt: skip


def test_segment_filters_combine_and_a_chip_removes_its_filter(page, agent_a, segmented):
    login(page, agent_a)
    page.goto("/?wertklasse=A")
    expect(page.locator("#rows .row")).to_have_count(2)

    page.locator("#filter-panel summary").click()  # the panel opens on request only
    page.locator("select[name=branche]").select_option("Gastronomie")
    expect(page).to_have_url(re.compile(r"wertklasse=A"))
    expect(page).to_have_url(re.compile(r"branche=Gastronomie"))
    expect(page.locator("#rows .row")).to_have_count(1)
    expect(page.locator(".chips")).to_contain_text("Branche: Gastronomie")

    page.get_by_role("link", name="Filter entfernen").and_(
        page.locator("[aria-describedby=chip-wertklasse]")
    ).click()

    expect(page).to_have_url(re.compile(r"/\?branche=Gastronomie$"))
    expect(page.locator("#rows .row")).to_have_count(2)
    expect(page.locator("select[name=wertklasse]")).to_have_value("")
    expect(page.locator(".chips")).not_to_contain_text("Wertklasse")
