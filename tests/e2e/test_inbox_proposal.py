"""First contact in the browser: the model's proposal is pre-selected with its reason."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conversations.ingest import ingest_raw_email
from conversations.learning import train_brand
from conversations.models import ClassificationChange
from tests.conftest import login
from tests.factories import ConversationFactory, MessageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cold_offer(brand_a):
    """A brand whose staff classified 12 cold offers and 12 newsletters, and a new offer."""
    for i in range(12):
        for classification, text in (
            ("advertising", "Haben Sie 15 Minuten für ein unverbindliches Gespräch über SEO?"),
            ("newsletter", "Neuigkeiten der Woche. Newsletter abbestellen: hier abmelden."),
        ):
            conv = ConversationFactory(
                brand=brand_a, classification=classification,
                counterpart=f"a{i}@{classification}{i}.example",
            )  # fmt: skip
            MessageFactory(conversation=conv, subject=f"Betreff {i}", text=text)
    train_brand(brand_a)
    raw = (
        b"From: Kevin Brauer <k.brauer@toprank.example>\nTo: support@laderthuis.nl\n"
        b"Subject: Mehr Anfragen?\nMessage-ID: <offer@toprank.example>\n"
        b"Content-Type: text/plain; charset=utf-8\n\n"
        + "Haben Sie 15 Minuten für ein unverbindliches Gespräch über SEO?\n".encode()
    )
    return ingest_raw_email(raw, brand=brand_a).conversation


def test_k_shows_the_proposal_pre_selected_and_enter_takes_it(page, agent_a, cold_offer):
    assert (cold_offer.classification, cold_offer.proposed_classification) == ("", "advertising")
    login(page, agent_a)
    page.goto(f"/konversationen/{cold_offer.pk}/")

    page.keyboard.press("k")

    expect(page.locator("#classify-dialog")).to_be_visible()
    expect(page.locator("#classify-form input[value=advertising]")).to_be_checked()
    expect(page.locator("#classify-form input[value=advertising]")).to_be_focused()
    expect(page.locator("#classify-proposal")).to_be_visible()
    expect(page.locator("#classify-proposal")).to_contain_text(
        "Vorschlag: ähnlich wie 12 als Werbung klassifizierte Mails:"
    )
    page.keyboard.press("Enter")

    expect(page.locator("#notice")).to_contain_text("1 Konversation als Werbung klassifiziert")
    cold_offer.refresh_from_db()
    assert (cold_offer.classification, cold_offer.classified_automatically) == (
        "advertising", False,
    )  # fmt: skip
    assert ClassificationChange.objects.get(conversation=cold_offer).changed_by == agent_a


def test_another_key_overrides_the_proposal(page, agent_a, cold_offer):
    login(page, agent_a)
    page.goto(f"/konversationen/{cold_offer.pk}/")

    page.keyboard.press("k")
    expect(page.locator("#classify-form input[value=advertising]")).to_be_checked()
    page.keyboard.press("4")
    page.keyboard.press("Enter")

    expect(page.locator("#notice")).to_contain_text("als Newsletter klassifiziert")
    cold_offer.refresh_from_db()
    assert cold_offer.classification == "newsletter"
