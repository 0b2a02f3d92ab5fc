from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import NOW
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory, SupplierFactory

pytestmark = pytest.mark.django_db


def test_the_customer_page_shows_contact_data_conversations_and_the_timeline(
    client, agent_a, brand_a
):
    customer = CustomerFactory(
        brand=brand_a, last_name="Schwarzkopf", email="a@schwarzkopf.example"
    )
    conv = ConversationFactory(
        brand=brand_a, customer=customer, subject="Wallbox", classification="customer"
    )
    MessageFactory(conversation=conv, text="Die Wallbox blinkt.")
    MessageFactory(
        conversation=conv, direction="out", text="Bitte einmal neu starten.", status="queued"
    )
    client.force_login(agent_a)

    response = client.get(f"/kunden/{customer.pk}/")

    assert response.status_code == 200
    assert "a@schwarzkopf.example" in response.text
    assert "Wallbox" in response.text
    assert "Die Wallbox blinkt." in response.text
    assert "Bitte einmal neu starten." in response.text


@pytest.mark.time_machine(NOW, tick=False)
def test_the_customer_page_filters_by_classification_and_period(client, agent_a, brand_a):
    customer = CustomerFactory(brand=brand_a)
    ConversationFactory(
        brand=brand_a, customer=customer, subject="Aktuell", classification="customer"
    )
    ConversationFactory(
        brand=brand_a,
        customer=customer,
        subject="Uralt",
        classification="customer",
        last_message_at=NOW - dt.timedelta(days=90),
    )
    ConversationFactory(
        brand=brand_a, customer=customer, subject="Werbung", classification="advertising"
    )
    client.force_login(agent_a)

    response = client.get(f"/kunden/{customer.pk}/", {"klasse": "customer", "zeitraum": "30"})

    subjects = [c.subject for c in response.context["conversations"]]
    assert subjects == ["Aktuell"]


def test_a_customer_of_another_brand_is_not_found(client, agent_a, brand_b):
    customer = CustomerFactory(brand=brand_b)
    client.force_login(agent_a)

    assert client.get(f"/kunden/{customer.pk}/").status_code == 404


def test_the_autocomplete_finds_by_name_number_email_and_domain_in_own_brands(
    client, agent_a, brand_a, brand_b
):
    anna = CustomerFactory(
        brand=brand_a, last_name="Schwarzkopf", number="K-777", email="anna@kopf.example"
    )
    SupplierFactory(brand=brand_a, company_name="Schwarzkopf Logistik GmbH")
    CustomerFactory(brand=brand_b, last_name="Schwarzkopf")
    client.force_login(agent_a)

    for term in ["schwarz", "K-777", "anna@kopf", "kopf.example"]:
        response = client.get("/kunden/suche/", {"q": term, "art": "customer"})
        assert response.status_code == 200
        assert response.text.count('role="option"') == 1, term
        assert f'data-id="{anna.pk}"' in response.text
    suppliers = client.get("/kunden/suche/", {"q": "schwarz", "art": "supplier"})
    assert "Schwarzkopf Logistik GmbH" in suppliers.text
