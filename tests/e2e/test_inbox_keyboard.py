"""The morning routine on the keyboard (seed 001): filter, K-1-name-Enter, K-4-Enter, Esc."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from conversations.models import ClassificationChange, Conversation
from tests.conftest import login
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def morning(brand_a):
    """Three unread unclassified mails (newest first) and one already read."""
    now = timezone.now()
    anna = CustomerFactory(brand=brand_a, first_name="Anna", last_name="Schwarzkopf")
    convs = []
    for i, (subject, sender) in enumerate(
        [
            ("Wallbox lädt nicht", "anna@schwarzkopf.example"),
            ("Ihr Newsletter im November", "news@strom-news.example"),
            ("Frage zur Rechnung", "peter@wagner.example"),
        ]
    ):
        conv = ConversationFactory(
            brand=brand_a,
            subject=subject,
            counterpart=sender,
            unread=True,
            last_message_at=now - dt.timedelta(minutes=i),
        )
        MessageFactory(conversation=conv, text=f"Text zu {subject}")
        convs.append(conv)
    ConversationFactory(
        brand=brand_a,
        subject="Schon gelesen",
        unread=False,
        last_message_at=now - dt.timedelta(hours=2),
    )
    return anna, convs


def test_morning_routine_k_1_name_enter_then_on_to_the_next(page, agent_a, morning):
    anna, (first, second, _third) = morning
    login(page, agent_a)

    page.get_by_role("link", name="Ungelesen").click()
    page.wait_for_url("**/?ungelesen=1")
    expect(page.locator("#rows .row")).to_have_count(3)

    page.keyboard.press("ArrowDown")
    expect(page.locator("#conv")).to_have_attribute("data-id", str(first.pk))
    page.keyboard.press("k")
    expect(page.locator("#classify-dialog")).to_be_visible()
    page.keyboard.press("1")
    expect(page.locator("#customer-search")).to_be_focused()
    page.keyboard.type("Schwarz")
    expect(page.locator("#customer-options li.option")).to_have_count(1)
    page.keyboard.press("Enter")

    expect(page.locator("#notice")).to_contain_text("Als Kunde klassifiziert: Anna Schwarzkopf")
    expect(page.locator("#classify-dialog")).to_be_hidden()
    first.refresh_from_db()
    assert (first.classification, first.customer_id) == ("customer", anna.pk)
    change = ClassificationChange.objects.get(conversation=first)
    assert change.changed_by == agent_a
    # the focus moved on to the next unclassified conversation, and it is open
    expect(page.locator(f"#row-{second.pk}")).to_have_class(re.compile(r"\bis-focused\b"))
    expect(page.locator("#conv")).to_have_attribute("data-id", str(second.pk))
    expect(page.locator(f"#row-{first.pk} .badge")).to_have_text("Kunde")


def test_k_4_enter_classifies_a_newsletter(page, agent_a, morning):
    _anna, (first, second, third) = morning
    login(page, agent_a)
    page.goto(f"/konversationen/{second.pk}/")

    page.keyboard.press("k")
    page.keyboard.press("4")
    expect(page.locator("#classify-form input[value=newsletter]")).to_be_checked()
    page.keyboard.press("Enter")

    expect(page.locator("#notice")).to_contain_text("als Newsletter klassifiziert")
    second.refresh_from_db()
    assert second.classification == "newsletter"
    expect(page.locator("#conv")).to_have_attribute("data-id", str(third.pk))


def test_escape_leaves_everything_unchanged(page, agent_a, morning):
    _anna, (first, *_rest) = morning
    login(page, agent_a)
    page.goto("/")

    page.keyboard.press("ArrowDown")
    expect(page.locator("#conv")).to_have_attribute("data-id", str(first.pk))
    page.keyboard.press("k")
    page.keyboard.press("1")
    page.keyboard.type("Schw")
    expect(page.locator("#customer-options li.option")).to_have_count(1)
    page.keyboard.press("Escape")

    expect(page.locator("#classify-dialog")).to_be_hidden()
    first.refresh_from_db()
    assert (first.classification, first.customer_id) == ("", None)
    assert not ClassificationChange.objects.exists()
    expect(page.locator("#notice")).to_be_empty()


def test_selection_by_x_shift_arrow_and_ctrl_a(page, agent_a, morning):
    login(page, agent_a)
    page.goto("/")

    page.keyboard.press("ArrowDown")
    page.keyboard.press("x")
    expect(page.locator("#selection-count")).to_have_text("1 ausgewählt")
    page.keyboard.press("Shift+ArrowDown")
    expect(page.locator("#selection-count")).to_have_text("2 ausgewählt")
    page.keyboard.press("Control+a")
    expect(page.locator("#selection-count")).to_have_text("4 ausgewählt")
    page.keyboard.press("k")
    expect(page.locator("#classify-count")).to_have_text("4 Konversationen werden geändert.")
    page.keyboard.press("Escape")


def test_the_help_overlay_lists_every_shortcut(page, agent_a, morning):
    login(page, agent_a)
    page.goto("/")

    page.keyboard.press("?")

    help_text = page.locator("#help-dialog").inner_text()
    for key in ["↓", "x", "Shift", "A", "K", "1", "5", "Esc", "e", "u", "r", "n", "a", "/", "?"]:
        assert key in help_text


def test_back_button_restores_the_filter(page, agent_a, morning):
    login(page, agent_a)
    page.goto("/")

    page.get_by_role("link", name="Ungelesen").click()
    page.wait_for_url("**/?ungelesen=1")
    expect(page.locator("#rows .row")).to_have_count(3)
    page.locator("#search").fill("Rechnung")
    expect(page).to_have_url(re.compile(r"\?(q=Rechnung&ungelesen=1|ungelesen=1&q=Rechnung)$"))
    expect(page.locator("#rows .row")).to_have_count(1)

    page.go_back()

    page.wait_for_url("**/?ungelesen=1")
    expect(page.locator("#rows .row")).to_have_count(3)
    expect(page.get_by_role("link", name="Ungelesen")).to_have_attribute("aria-current", "page")
    page.go_back()
    page.wait_for_url("**/")
    expect(page.locator("#rows .row")).to_have_count(4)


def test_reply_note_archive_and_assign_from_the_keyboard(page, agent_a, morning, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _anna, (first, *_rest) = morning
    login(page, agent_a)
    page.goto("/")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#conv")).to_have_attribute("data-id", str(first.pk))

    page.keyboard.press("a")
    expect(page.locator("#conv .conv-head")).to_contain_text("zugewiesen an")
    page.keyboard.press("n")
    page.keyboard.type("Kundin ruft morgen an.")
    page.get_by_role("button", name="Notiz speichern").click()
    expect(page.locator(".msg-note")).to_contain_text("Kundin ruft morgen an.")
    page.locator("body").click(position={"x": 5, "y": 60})
    page.keyboard.press("r")
    page.keyboard.type("Wir melden uns heute noch.")
    page.get_by_role("button", name="Senden", exact=True).click()
    # the reply goes through the outbox at once: queued, then sent
    expect(page.locator(".msg-out .delivery")).to_contain_text("gesendet")
    # the typed text, then the layout's footer (the imprint below "-- ")
    assert [m.body.split("\n-- \n")[0].strip() for m in mail.outbox] == [
        "Wir melden uns heute noch."
    ]
    page.locator("body").click(position={"x": 5, "y": 60})
    page.keyboard.press("e")
    expect(page.locator("#notice")).to_contain_text("archiviert")

    first.refresh_from_db()
    assert (first.assignee, first.status) == (agent_a, "archived")
    assert first.messages.filter(is_internal_note=True).count() == 1
    assert first.messages.filter(direction="out", status="sent").count() == 1
    assert Conversation.objects.filter(pk=first.pk, unread=False).exists()
