"""The inbox's side of learning: the "auto" marker, its filter, the proposal on the row,
and the customer picker's search by several words and by domain."""

from __future__ import annotations

import pytest

from tests.conftest import NOW
from tests.factories import ConversationFactory, CustomerFactory, SupplierFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]


def test_an_automatic_classification_shows_a_marker_with_its_reason(client, agent_a, brand_a):
    ConversationFactory(
        brand=brand_a, subject="Rechnung RE-1", classification="supplier",
        classified_automatically=True, classification_reason="Domain eines bekannten Lieferanten",
    )  # fmt: skip
    ConversationFactory(brand=brand_a, subject="Von Hand", classification="customer")
    client.force_login(agent_a)

    response = client.get("/")

    assert response.text.count('class="badge auto"') == 1
    assert 'title="automatisch klassifiziert: Domain eines bekannten Lieferanten"' in response.text


def test_the_filter_automatisch_klassifiziert_lists_only_those(client, agent_a, brand_a):
    ConversationFactory(
        brand=brand_a, subject="Vom Produkt", classification="newsletter",
        classified_automatically=True,
    )  # fmt: skip
    ConversationFactory(brand=brand_a, subject="Von Hand", classification="newsletter")
    ConversationFactory(brand=brand_a, subject="Noch offen")
    client.force_login(agent_a)

    response = client.get("/", {"auto": "1"})

    assert "Vom Produkt" in response.text
    assert "Von Hand" not in response.text and "Noch offen" not in response.text
    assert 'name="auto" value="1" checked' in response.text
    assert 'href="/?auto=1" aria-current="page"' in response.text
    assert '<span id="chip-auto">Automatisch klassifiziert</span>' in response.text


def test_a_proposal_rides_on_the_row_and_the_open_conversation(client, agent_a, brand_a):
    conv = ConversationFactory(
        brand=brand_a, proposed_classification="newsletter",
        proposal_reason="ähnlich wie 12 als Newsletter klassifizierte Mails: List-Id",
    )  # fmt: skip
    client.force_login(agent_a)

    response = client.get(f"/konversationen/{conv.pk}/")

    attributes = (
        'data-proposal="newsletter" data-proposal-reason="ähnlich wie 12 als Newsletter '
        'klassifizierte Mails: List-Id"'
    )
    assert response.text.count(attributes) == 2  # the row and the detail pane


@pytest.mark.parametrize(
    "term", ["Anna Huber", "huber anna", "Huber K-10083", "huber-bau.de", "@huber-bau.de",
             "https://www.huber-bau.de/kontakt"],
)  # fmt: skip
def test_the_customer_picker_finds_by_several_words_and_by_domain(client, agent_a, brand_a, term):
    anna = CustomerFactory(
        brand=brand_a, first_name="Anna", last_name="Huber", number="K-10083",
        email="anna@huber-bau.de",
    )  # fmt: skip
    CustomerFactory(brand=brand_a, first_name="Anna", last_name="Schmidt")
    CustomerFactory(brand=brand_a, first_name="Peter", last_name="Huber")
    SupplierFactory(brand=brand_a, company_name="Huber Bau Lieferant", email="x@huber-bau.de")
    client.force_login(agent_a)

    response = client.get("/kunden/suche/", {"q": term, "art": "customer"})

    assert response.text.count('role="option"') == 1, term
    assert f'data-id="{anna.pk}"' in response.text
