from __future__ import annotations

import datetime as dt

import pytest
from django.http import QueryDict
from django.utils import timezone

from conversations.filters import decode_cursor, filtered_conversations, list_page, view_counts
from tests.conftest import NOW
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory, SupplierFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]


def ids(user, query: str) -> set[int]:
    return set(filtered_conversations(user, QueryDict(query)).values_list("id", flat=True))


def test_the_default_list_shows_open_conversations_of_the_users_brands_only(
    brand_a, brand_b, agent_a
):
    mine = ConversationFactory(brand=brand_a)
    ConversationFactory(brand=brand_a, status="archived")
    ConversationFactory(brand=brand_b)

    assert ids(agent_a, "") == {mine.pk}
    assert len(ids(agent_a, "status=alle")) == 2


def test_filters_combine(brand_a, agent_a):
    customer = CustomerFactory(brand=brand_a)
    supplier = SupplierFactory(brand=brand_a)
    hit = ConversationFactory(
        brand=brand_a, unread=True, classification="customer", customer=customer
    )
    ConversationFactory(brand=brand_a, unread=False, classification="customer", customer=customer)
    ConversationFactory(brand=brand_a, unread=True, classification="newsletter")
    sup = ConversationFactory(brand=brand_a, classification="supplier", customer=supplier)
    unclassified = ConversationFactory(brand=brand_a, unread=True)

    assert ids(agent_a, f"ungelesen=1&klasse=customer&kunde={customer.pk}") == {hit.pk}
    assert ids(agent_a, f"lieferant={supplier.pk}") == {sup.pk}
    assert ids(agent_a, f"kunde={supplier.pk}") == set()
    assert ids(agent_a, "ohne=1") == {unclassified.pk}


def test_period_age_channel_assignee_priority_and_brand(brand_a, brand_b, team_lead, agent_a):
    now = NOW
    today = ConversationFactory(brand=brand_a, last_message_at=now)
    week = ConversationFactory(brand=brand_a, last_message_at=now - dt.timedelta(days=5))
    old = ConversationFactory(brand=brand_a, last_message_at=now - dt.timedelta(days=20))
    wa = ConversationFactory(brand=brand_b, channel="whatsapp", priority="urgent")
    ConversationFactory(brand=brand_a, assignee=team_lead)

    assert today.pk in ids(team_lead, "zeitraum=heute")
    assert week.pk not in ids(team_lead, "zeitraum=heute")
    assert {today.pk, week.pk} <= ids(team_lead, "zeitraum=7")
    assert old.pk not in ids(team_lead, "zeitraum=7")
    assert ids(team_lead, "aelter=7") == {old.pk}
    assert ids(team_lead, "kanal=whatsapp") == {wa.pk}
    assert ids(team_lead, "prio=urgent") == {wa.pk}
    assert ids(team_lead, "marke=zaptecshop") == {wa.pk}
    assert len(ids(team_lead, "zugewiesen=ich")) == 1
    day = (now - dt.timedelta(days=20)).astimezone(timezone.get_current_timezone()).date()
    assert ids(team_lead, f"zeitraum=eigener&von={day}&bis={day}") == {old.pk}


def test_invalid_values_are_ignored(brand_a, agent_a):
    conv = ConversationFactory(brand=brand_a)

    assert ids(agent_a, "klasse=quatsch&aelter=x&kunde=-3") == {conv.pk}


def test_search_finds_subject_body_sender_and_customer_name(brand_a, agent_a):
    customer = CustomerFactory(brand=brand_a, last_name="Schwarzkopf")
    by_subject = ConversationFactory(brand=brand_a, subject="Rechnung Wallbox")
    by_body = ConversationFactory(brand=brand_a)
    MessageFactory(conversation=by_body, text="Die Ladesäule blinkt rot.")
    by_sender = ConversationFactory(brand=brand_a, counterpart="einkauf@elektro-huber.de")
    by_customer = ConversationFactory(brand=brand_a, customer=customer)

    assert ids(agent_a, "q=Wallbox") == {by_subject.pk}
    assert ids(agent_a, "q=Ladesäule") == {by_body.pk}
    assert ids(agent_a, "q=elektro-huber.de") == {by_sender.pk}
    assert ids(agent_a, "q=Schwarzkopf") == {by_customer.pk}


def test_keyset_pages_cover_every_row_once_even_with_equal_timestamps(brand_a, agent_a):
    at = NOW
    convs = ConversationFactory.create_batch(7, brand=brand_a, last_message_at=at)
    convs += ConversationFactory.create_batch(
        5, brand=brand_a, last_message_at=at - dt.timedelta(hours=1)
    )
    qs = filtered_conversations(agent_a, QueryDict(""))

    seen, cursor = [], ""
    while True:
        page = list_page(qs, cursor, size=5)
        seen += [c.pk for c in page.rows]
        cursor = page.next_cursor
        if not cursor:
            break

    assert len(seen) == 12 and set(seen) == {c.pk for c in convs}
    assert decode_cursor("kaputt") is None


def test_view_counts_in_one_query(brand_a, brand_b, team_lead, django_assert_num_queries):
    ConversationFactory(brand=brand_a, unread=True)
    ConversationFactory(
        brand=brand_a, unread=False, classification="newsletter", assignee=team_lead
    )
    ConversationFactory(brand=brand_b, channel="whatsapp", unread=False, classification="internal")
    ConversationFactory(
        brand=brand_b,
        last_message_at=NOW - dt.timedelta(days=9),
        unread=False,
        classification="customer",
    )
    ConversationFactory(brand=brand_b, status="archived")

    with django_assert_num_queries(2):  # the aggregate, and the brands for their names
        total, brands = view_counts(team_lead)

    assert (total.unread, total.unclassified, total.older, total.mine, total.whatsapp) == (
        1, 1, 1, 1, 1,
    )  # fmt: skip
    assert [(b.slug, n) for b, n in brands] == [("laderthuis", 2), ("zaptecshop", 2)]
