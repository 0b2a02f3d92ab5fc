from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import NOW
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]


def make_conversations(brand, n):
    now = NOW
    for i in range(n):
        customer = CustomerFactory(brand=brand)
        conv = ConversationFactory(
            brand=brand, customer=customer, last_message_at=now - dt.timedelta(minutes=i)
        )
        MessageFactory(conversation=conv)


def test_the_inbox_needs_a_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/anmelden/")


def test_the_inbox_lists_only_the_users_brands(client, agent_a, brand_a, brand_b):
    ConversationFactory(brand=brand_a, subject="Ladekabel für Garage")
    ConversationFactory(brand=brand_b, subject="Geheimes der anderen Marke")
    client.force_login(agent_a)

    response = client.get("/")

    assert response.status_code == 200
    assert "Ladekabel für Garage" in response.text
    assert "Geheimes der anderen Marke" not in response.text
    assert response["Vary"].count("HX-Request")


@pytest.mark.parametrize("n", [5, 60])
def test_a_list_page_costs_the_same_queries_whatever_its_size(
    client, agent_a, brand_a, n, django_assert_max_num_queries
):
    make_conversations(brand_a, n)
    client.force_login(agent_a)

    # session + user, the page, the counts aggregate, the brands of the left pane, the
    # user's permissions (the Automatisierung link), the industries of the
    # filter panel's segment choice, waking due Wiedervorlagen (one UPDATE)
    with django_assert_max_num_queries(8):
        response = client.get("/")

    assert response.status_code == 200
    assert response.text.count('class="row-link"') == min(n, 50)


def test_the_next_page_comes_as_rows_for_htmx(client, agent_a, brand_a):
    make_conversations(brand_a, 55)
    client.force_login(agent_a)
    first = client.get("/")
    cursor = first.context["page"].next_cursor

    response = client.get("/", {"nach": cursor}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response.text.count('class="row-link"') == 5
    assert "<html" not in response.text


def test_a_filter_request_from_htmx_gets_the_list_only(client, agent_a, brand_a):
    ConversationFactory(brand=brand_a, subject="Offen und ungelesen", unread=True)
    ConversationFactory(brand=brand_a, subject="Schon gelesen", unread=False)
    client.force_login(agent_a)

    response = client.get(
        "/", {"ungelesen": "1"}, headers={"HX-Request": "true", "HX-Target": "list-body"}
    )

    assert response.status_code == 200
    assert "Offen und ungelesen" in response.text
    assert "Schon gelesen" not in response.text
    assert "<html" not in response.text


def test_opening_a_conversation_marks_it_read(client, agent_a, brand_a):
    conv = ConversationFactory(brand=brand_a, unread=True, subject="Frage zur Wallbox")
    MessageFactory(conversation=conv, text="Hallo,\nwie geht das?\n\nAm 1.2. schrieb X:\n> alt")
    client.force_login(agent_a)

    response = client.get(
        f"/konversationen/{conv.pk}/", headers={"HX-Request": "true", "HX-Target": "detail"}
    )

    assert response.status_code == 200
    assert "Frage zur Wallbox" in response.text
    assert "Zitierten Text anzeigen" in response.text
    conv.refresh_from_db()
    assert conv.unread is False


def test_a_conversation_of_another_brand_is_not_found(client, agent_a, brand_b):
    conv = ConversationFactory(brand=brand_b)
    message = MessageFactory(conversation=conv, html="<p>geheim</p>")
    client.force_login(agent_a)

    assert client.get(f"/konversationen/{conv.pk}/").status_code == 404
    assert client.get(f"/nachrichten/{message.pk}/html/").status_code == 404
    assert (
        client.post(f"/konversationen/{conv.pk}/status/", {"status": "archived"}).status_code == 404
    )
    conv.refresh_from_db()
    assert conv.status == "open"


def test_the_counts_refresh_only_the_numbers_out_of_band(client, agent_a, brand_a, brand_b):
    ConversationFactory.create_batch(2, brand=brand_a, unread=True)
    ConversationFactory(brand=brand_a, unread=False, classification="customer")
    ConversationFactory(brand=brand_b, unread=True)  # not the agent's brand
    client.force_login(agent_a)

    response = client.get("/zaehler/", headers={"HX-Request": "true"})

    body = response.content.decode()
    assert response.status_code == 200
    assert '<span class="count" id="count-unread" hx-swap-oob="true">2</span>' in body
    assert '<span class="count" id="count-open" hx-swap-oob="true">3</span>' in body
    assert f'id="count-brand-{brand_a.pk}" hx-swap-oob="true">3</span>' in body
    assert "<a " not in body  # the links themselves stay where they are
