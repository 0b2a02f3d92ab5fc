"""Bulk classification: 20 newsletters at once, the sender remembered, then undone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conversations.ingest import ingest_raw_email
from conversations.models import ClassificationChange, Conversation, SenderRule
from tests.conftest import login
from tests.factories import ConversationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def newsletters(brand_a):
    now = timezone.now()
    convs = [
        ConversationFactory(
            brand=brand_a,
            subject=f"Angebote der Woche {i}",
            counterpart="news@angebote-shop.example",
            counterpart_name="Angebote-Shop",
            last_message_at=now - dt.timedelta(minutes=i),
        )
        for i in range(20)
    ]
    other = ConversationFactory(
        brand=brand_a,
        subject="Anfrage Wallbox",
        counterpart="kunde@example.de",
        last_message_at=now - dt.timedelta(days=1),
    )
    return convs, other


NEW_MAIL = b"""From: Angebote-Shop <news@angebote-shop.example>
To: support@laderthuis.nl
Subject: Neue Angebote im Dezember
Message-ID: <dezember-1@angebote-shop.example>
Date: Mon, 01 Dec 2025 08:00:00 +0100
Content-Type: text/plain; charset=utf-8

Nur diese Woche: alles reduziert.
"""


def test_bulk_classify_twenty_newsletters_remember_the_sender_then_undo(
    page, agent_a, brand_a, newsletters
):
    convs, other = newsletters
    login(page, agent_a)
    page.goto("/")

    page.keyboard.press("ArrowDown")
    expect(page.locator("#conv")).to_have_attribute("data-id", str(convs[0].pk))
    page.keyboard.press("k")
    page.get_by_role("button", name="alle von diesem Absender").click()
    expect(page.locator("#classify-count")).to_have_text(
        "20 Konversationen von diesem Absender werden geändert."
    )
    page.keyboard.press("4")
    page.get_by_label("Absender merken").select_option("address")
    page.get_by_role("button", name="Speichern").click()

    expect(page.locator("#notice")).to_contain_text(
        "20 Konversationen als Newsletter klassifiziert. 1 Absenderregel gespeichert."
    )
    assert Conversation.objects.filter(classification="newsletter").count() == 20
    other.refresh_from_db()
    assert other.classification == ""
    assert ClassificationChange.objects.filter(changed_by=agent_a).count() == 20
    rule = SenderRule.objects.get()
    assert (rule.pattern, rule.classification, rule.created_by) == (
        "news@angebote-shop.example",
        "newsletter",
        agent_a,
    )
    expect(page.locator(f"#row-{convs[5].pk} .badge")).to_have_text("Newsletter")

    # a new mail from that sender arrives already classified
    result = ingest_raw_email(NEW_MAIL, brand=brand_a)
    assert result.outcome == "new"
    assert result.conversation.classification == "newsletter"

    page.get_by_role("button", name="Rückgängig").click()

    expect(page.locator("#notice")).to_contain_text("20 Klassifizierungen wiederhergestellt.")
    assert (
        Conversation.objects.filter(pk__in=[c.pk for c in convs], classification="").count() == 20
    )
    assert not SenderRule.objects.exists()
    expect(page.locator(f"#row-{convs[5].pk} .badge")).to_have_text("ohne Klassifizierung")


def test_checkbox_shift_click_selects_a_range(page, agent_a, newsletters):
    convs, _other = newsletters
    login(page, agent_a)
    page.goto("/")

    page.locator(f"#row-{convs[0].pk} .row-check").click()
    page.locator(f"#row-{convs[4].pk} .row-check").click(modifiers=["Shift"])
    expect(page.locator("#selection-count")).to_have_text("5 ausgewählt")
    page.get_by_role("button", name="Klassifizieren").first.click()
    page.keyboard.press("5")
    page.keyboard.press("Enter")

    expect(page.locator("#notice")).to_contain_text("5 Konversationen als Werbung klassifiziert")
    assert set(
        Conversation.objects.filter(classification="advertising").values_list("pk", flat=True)
    ) == {c.pk for c in convs[:5]}


def test_all_matches_of_a_filter_across_pages(page, agent_a, brand_a, newsletters):
    now = timezone.now()
    Conversation.objects.bulk_create(
        [
            Conversation(
                brand=brand_a,
                subject=f"Alt {i}",
                counterpart=f"alt{i}@example.de",
                last_message_at=now - dt.timedelta(days=30, minutes=i),
            )
            for i in range(60)
        ]
    )
    login(page, agent_a)
    page.goto("/?aelter=14")
    expect(page.locator("#rows .row")).to_have_count(50)

    page.get_by_role("button", name="Alle Treffer").click()
    expect(page.locator("#classify-count")).to_have_text(
        "60 Konversationen mit diesem Filter (alle Seiten) werden geändert."
    )
    page.keyboard.press("3")
    page.keyboard.press("Enter")

    expect(page.locator("#notice")).to_contain_text("60 Konversationen als Intern klassifiziert")
    assert Conversation.objects.filter(classification="internal").count() == 60
