"""Finding the right conversation on the keyboard (issue 10 §3, §5): the search box's Esc and ↓,
the customer filter's autocomplete, previews that become read after the user's dwell, the sort
control, and the filter panel that opens only on request."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conversations.models import Conversation, InboxSettings
from tests.conftest import login
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def inbox(brand_a):
    """Four unread conversations, newest first; the third is urgent, the second Anna Huber's
    (linked by hand: it came from an address nobody knew)."""
    now = timezone.now()
    anna = CustomerFactory(brand=brand_a, number="K-10083", first_name="Anna", last_name="Huber")
    CustomerFactory(brand=brand_a, number="K-10084", first_name="Hubert", last_name="Hubmann")
    convs = []
    for i, (subject, customer, priority) in enumerate(
        [
            ("Wallbox lädt nicht", None, "normal"),
            ("Frage zur Rechnung", anna, "normal"),
            ("Dringend: Ausfall", None, "urgent"),
            ("Angebot Wallbox", None, "normal"),
        ]
    ):
        conv = ConversationFactory(
            brand=brand_a,
            subject=subject,
            customer=customer,
            classification="customer" if customer else "",
            priority=priority,
            unread=True,
            last_message_at=now - dt.timedelta(minutes=i),
        )
        MessageFactory(conversation=conv, text=f"Text zu {subject}")
        convs.append(conv)
    return anna, convs


def unread(conv) -> bool:
    return Conversation.objects.get(pk=conv.pk).unread


def wait_for(condition, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_esc_leaves_the_search_keeping_the_query_a_second_esc_clears_it(page, agent_a, inbox):
    _anna, (first, _second, _third, fourth) = inbox
    login(page, agent_a)
    search = page.locator("#search")

    page.keyboard.press("/")
    expect(search).to_be_focused()
    page.keyboard.type("Wallbox")
    expect(page).to_have_url(re.compile(r"q=Wallbox"))
    expect(page.locator("#rows .row")).to_have_count(2)

    page.keyboard.press("Escape")
    expect(search).not_to_be_focused()
    expect(search).to_have_value("Wallbox")
    expect(page.locator("#rows .row")).to_have_count(2)

    page.keyboard.press("Escape")
    expect(search).to_have_value("")
    expect(page.locator("#rows .row")).to_have_count(4)


def test_arrow_down_from_the_search_box_moves_into_the_results(page, agent_a, inbox):
    _anna, (first, _second, _third, fourth) = inbox
    login(page, agent_a)
    page.keyboard.press("/")
    page.keyboard.type("Wallbox")
    expect(page.locator("#rows .row")).to_have_count(2)

    page.keyboard.press("ArrowDown")
    expect(page.locator("#search")).not_to_be_focused()
    expect(page.locator(f"#row-{first.pk}")).to_have_class(re.compile(r"\bis-focused\b"))
    expect(page.locator("#conv")).to_have_attribute("data-id", str(first.pk))
    page.keyboard.press("ArrowDown")
    expect(page.locator("#conv")).to_have_attribute("data-id", str(fourth.pk))


def test_the_customer_filter_autocompletes_by_keyboard(page, agent_a, inbox):
    anna, (_first, second, _third, _fourth) = inbox
    login(page, agent_a)
    panel = page.locator("#filter-panel")

    page.keyboard.press("f")
    expect(panel).to_have_attribute("open", "")
    field = page.locator("#filter-kunde-search")
    field.focus()
    page.keyboard.type("Hub")
    options = page.locator("#filter-kunde-options li.option")
    expect(options).to_have_count(2)
    # the pre-selected hit is clearly marked: the accent colour, not a faint tint
    selected = page.locator('#filter-kunde-options li.option[aria-selected="true"]')
    expect(selected).to_have_count(1)
    expect(selected).to_have_css("background-color", "rgb(31, 95, 153)")
    expect(field).to_have_attribute("aria-expanded", "true")

    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    expect(selected).to_contain_text("Anna Huber")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(rf"kunde={anna.pk}"))
    expect(page.locator("#rows .row")).to_have_count(1)
    expect(page.locator(f"#row-{second.pk}")).to_be_visible()
    expect(page.locator(".chips")).to_contain_text("Kunde: Anna Huber (K-10083)")
    expect(field).to_have_value("Anna Huber (K-10083)")


def test_the_customer_filter_takes_a_click_too(page, agent_a, inbox):
    anna, _convs = inbox
    login(page, agent_a)
    page.locator("#filter-panel summary").click()
    page.locator("#filter-kunde-search").fill("K-10083")
    page.locator("#filter-kunde-options li.option").first.click()
    expect(page).to_have_url(re.compile(rf"kunde={anna.pk}"))
    expect(page.locator("#rows .row")).to_have_count(1)


def test_browsing_previews_without_marking_read_then_reads_after_the_dwell(page, agent_a, inbox):
    _anna, (first, second, _third, _fourth) = inbox
    InboxSettings.save_read_delay(user=agent_a, read_delay_ms=1500)
    login(page, agent_a)

    page.keyboard.press("ArrowDown")
    expect(page.locator("#conv")).to_have_attribute("data-id", str(first.pk))
    page.keyboard.press("j")  # moved on before the dwell was over
    expect(page.locator("#conv")).to_have_attribute("data-id", str(second.pk))
    expect(page.locator(f"#row-{second.pk}")).to_have_class(re.compile(r"\bis-unread\b"))
    assert unread(second)

    # after the dwell the shown one is read; the one passed over stays unread
    expect(page.locator(f"#row-{second.pk}")).not_to_have_class(
        re.compile(r"\bis-unread\b"), timeout=5000
    )
    assert wait_for(lambda: not unread(second))
    assert unread(first)
    expect(page.locator(f"#row-{first.pk}")).to_have_class(re.compile(r"\bis-unread\b"))


def test_an_action_on_a_previewed_conversation_reads_it_at_once(page, agent_a, inbox):
    _anna, (first, _second, _third, _fourth) = inbox
    InboxSettings.save_read_delay(user=agent_a, read_delay_ms=60_000)
    login(page, agent_a)

    page.keyboard.press("ArrowDown")
    expect(page.locator("#conv")).to_have_attribute("data-id", str(first.pk))
    assert unread(first)
    page.keyboard.press("a")  # assign to me
    expect(page.locator(f"#row-{first.pk}")).not_to_have_class(re.compile(r"\bis-unread\b"))
    assert wait_for(lambda: not unread(first))


def test_the_sort_control_orders_the_list_and_keeps_the_filter(page, agent_a, inbox):
    _anna, (first, _second, third, _fourth) = inbox
    login(page, agent_a)
    page.goto("/?ungelesen=1")
    expect(page.locator("#rows .row").first).to_have_attribute("data-id", str(first.pk))

    page.locator("#sort").select_option("prioritaet")
    expect(page).to_have_url(re.compile(r"sortierung=prioritaet"))
    expect(page).to_have_url(re.compile(r"ungelesen=1"))
    expect(page.locator("#rows .row").first).to_have_attribute("data-id", str(third.pk))
    page.reload()
    expect(page.locator("#sort")).to_have_value("prioritaet")
    expect(page.locator("#rows .row").first).to_have_attribute("data-id", str(third.pk))


def test_the_filter_panel_is_closed_with_active_filters_shown_as_chips(page, agent_a, inbox):
    login(page, agent_a)
    page.goto("/?ungelesen=1&kanal=email")
    panel = page.locator("#filter-panel")
    expect(panel).not_to_have_attribute("open", re.compile(".*"))
    expect(page.locator(".chips .chip")).to_have_count(2)
    expect(page.locator("select[name=kanal]")).to_be_hidden()

    page.keyboard.press("f")
    expect(page.locator("select[name=kanal]")).to_be_visible()
    page.locator("#filter-panel summary").click()
    expect(page.locator("select[name=kanal]")).to_be_hidden()
