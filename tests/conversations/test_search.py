"""The inbox search finds a conversation by what an agent has at hand: the customer's name or
number (however the customer was linked), a phone number as it was dictated, an invoice or
order number. Runs on SQLite and, with DATABASE_URL, on PostgreSQL's full-text search."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from conversations.filters import filtered_conversations
from conversations.search import phone_in_term
from kommunikation.models import ContactPoint
from tests.conftest import NOW
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]


def found(user, term: str) -> set[int]:
    params = QueryDict(mutable=True)
    params["q"] = term
    return set(filtered_conversations(user, params).values_list("id", flat=True))


@pytest.fixture
def linked_by_hand(brand_a):
    """Anna Huber's conversation came from an address nobody knows; the agent chose her."""
    anna = CustomerFactory(brand=brand_a, number="K-10083", first_name="Anna", last_name="Huber")
    conversation = ConversationFactory(
        brand=brand_a,
        customer=anna,
        classification="customer",
        subject="Frage",
        counterpart="a.h.1984@freemail.example",
        counterpart_name="",
    )
    MessageFactory(conversation=conversation, text="Hallo, kurze Frage.")
    ConversationFactory(brand=brand_a, subject="Andere Frage")
    return conversation


def test_it_finds_a_hand_linked_conversation_by_the_customers_number(agent_a, linked_by_hand):
    assert found(agent_a, "K-10083") == {linked_by_hand.pk}
    assert found(agent_a, "k-10083") == {linked_by_hand.pk}
    assert found(agent_a, "K-10084") == set()


def test_it_finds_a_hand_linked_conversation_by_the_customers_full_name(agent_a, linked_by_hand):
    assert found(agent_a, "Anna Huber") == {linked_by_hand.pk}
    assert found(agent_a, "Huber") == {linked_by_hand.pk}
    assert found(agent_a, "Anna Meier") == set()


def test_it_does_not_find_another_brands_customer_by_number(agent_b, linked_by_hand):
    assert found(agent_b, "K-10083") == set()


@pytest.fixture
def caller(brand_a):
    """A customer with a mobile number, and an SMS thread from that number."""
    bernd = CustomerFactory(brand=brand_a, first_name="Bernd", last_name="Kraus")
    ContactPoint.objects.create(
        customer=bernd, channel="phone", type="mobile", value="+49 171 2345678"
    )
    by_contact = ConversationFactory(
        brand=brand_a, customer=bernd, counterpart="bernd@kraus.example", subject="Angebot"
    )
    sms = ConversationFactory(
        brand=brand_a, channel="sms", counterpart="+491712345678", subject="", counterpart_name=""
    )
    ConversationFactory(brand=brand_a, channel="sms", counterpart="+491719999999", subject="")
    return by_contact, sms


@pytest.mark.parametrize(
    "typed", ["0171 2345678", "+49 171 2345678", "0171/2345678", "01712345678", "+491712345678"]
)
def test_it_finds_a_phone_number_in_national_or_international_form(agent_a, caller, typed):
    by_contact, sms = caller
    assert found(agent_a, typed) == {by_contact.pk, sms.pk}


def test_a_phone_number_is_read_as_german_and_only_when_it_looks_like_one():
    assert phone_in_term("0171 2345678") == "+491712345678"
    assert phone_in_term("0171/2345678") == "+491712345678"
    assert phone_in_term("+31 6 12345678") == "+31612345678"
    assert phone_in_term("RE-2026-0042") == ""
    assert phone_in_term("4711") == ""


@pytest.fixture
def documents(brand_a):
    invoice = ConversationFactory(brand=brand_a, subject="Ihre Rechnung RE-2026-0042")
    MessageFactory(conversation=invoice, text="Anbei die Rechnung.")
    order = ConversationFactory(brand=brand_a, subject="Rückfrage")
    MessageFactory(
        conversation=order, text="Zu Ihrer Auftragsbestätigung AB-1234, Lieferung nächste Woche."
    )
    other = ConversationFactory(brand=brand_a, subject="Rechnung RE-2026-0043")
    MessageFactory(conversation=other, text="Auftrag AB-1235.")
    return invoice, order


def test_it_finds_an_invoice_number_in_the_subject_whole(agent_a, documents):
    invoice, _order = documents
    assert found(agent_a, "RE-2026-0042") == {invoice.pk}
    assert found(agent_a, "re-2026-0042") == {invoice.pk}


def test_it_finds_an_order_number_in_the_body_whole(agent_a, documents):
    _invoice, order = documents
    assert found(agent_a, "AB-1234") == {order.pk}
