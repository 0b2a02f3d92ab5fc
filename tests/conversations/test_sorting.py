"""The inbox's sort orders (?sortierung=): newest, oldest, due first, priority; each pages by
keyset without losing or repeating a row, and the sort stays in every link of the list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import QueryDict
from django.utils import timezone

from conversations.filters import filtered_conversations, list_page, sort_from
from tests.conftest import NOW
from tests.factories import ConversationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]


@pytest.fixture
def five(brand_a):
    """Five conversations, newest first a..e, with deadlines and priorities of their own."""
    now = timezone.now()
    hours = dt.timedelta(hours=1)
    specs = [
        # (name, age in hours, due in hours or None, priority)
        ("a", 1, None, "normal"),
        ("b", 2, 5, "low"),
        ("c", 3, 1, "urgent"),
        ("d", 4, None, "high"),
        ("e", 5, 3, "urgent"),
    ]
    return {
        name: ConversationFactory(
            brand=brand_a,
            subject=name,
            last_message_at=now - age * hours,
            response_due_at=now + due * hours if due is not None else None,
            priority=priority,
        )
        for name, age, due, priority in specs
    }


def order(user, sort: str, size: int = 2) -> list[str]:
    """The subjects of every page, walked by cursor with pages of ``size``."""
    qs = filtered_conversations(user, QueryDict(""))
    seen, cursor = [], ""
    while True:
        page = list_page(qs, cursor, size=size, sort=sort)
        seen += [c.subject for c in page.rows]
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor


def test_newest_first_is_the_default(agent_a, five):
    assert sort_from(QueryDict("")) == "neueste"
    assert sort_from(QueryDict("sortierung=unsinn")) == "neueste"
    assert order(agent_a, "neueste") == ["a", "b", "c", "d", "e"]


def test_oldest_first(agent_a, five):
    assert order(agent_a, "aelteste") == ["e", "d", "c", "b", "a"]


def test_due_first_puts_the_nearest_deadline_on_top_and_those_without_one_last(agent_a, five):
    assert order(agent_a, "faellig") == ["c", "e", "b", "a", "d"]


def test_priority_urgent_first_then_newest(agent_a, five):
    assert order(agent_a, "prioritaet") == ["c", "e", "d", "a", "b"]


@pytest.mark.parametrize("sort", ["neueste", "aelteste", "faellig", "prioritaet"])
def test_every_sort_pages_through_ties_without_loss(agent_a, brand_a, sort):
    at = timezone.now()
    for i in range(7):  # the same time, deadline and priority: the id decides
        ConversationFactory(brand=brand_a, subject=f"t{i}", last_message_at=at)
    assert sorted(order(agent_a, sort, size=3)) == [f"t{i}" for i in range(7)]
    assert len(order(agent_a, sort, size=3)) == 7


def test_a_cursor_of_another_sort_starts_from_the_top(agent_a, five):
    qs = filtered_conversations(agent_a, QueryDict(""))
    newest_cursor = list_page(qs, size=2).next_cursor
    page = list_page(qs, newest_cursor, size=2, sort="prioritaet")
    assert [c.subject for c in page.rows] == ["c", "e"]


def test_the_sort_control_and_the_next_page_link_keep_the_sort(client, agent_a, five):
    client.force_login(agent_a)
    response = client.get("/?sortierung=faellig")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<option value="faellig" selected>' in html
    rows = ["c", "e", "b", "a", "d"]
    positions = [html.index(f'id="row-{five[name].pk}"') for name in rows]
    assert positions == sorted(positions)
    assert f'href="/konversationen/{five["c"].pk}/?sortierung=faellig"' in html


def test_bulk_by_filter_counts_the_same_whatever_the_sort(client, agent_a, five):
    client.force_login(agent_a)
    plain = client.get("/konversationen/klassifizieren/anzahl/", {"scope": "treffer", "query": ""})
    sorted_ = client.get(
        "/konversationen/klassifizieren/anzahl/",
        {"scope": "treffer", "query": "sortierung=prioritaet"},
    )
    assert plain.content == sorted_.content == b"5"
