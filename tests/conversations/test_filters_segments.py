"""The inbox filters by the customer's segment (issue 9 §5): value tier, activity, industry.
Each a URL parameter, shown as a removable chip, combinable, keyset paging intact."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import QueryDict

from conversations.filters import filter_chips, filtered_conversations, list_page
from tests.conftest import NOW
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]


def ids(user, query: str) -> set[int]:
    return set(filtered_conversations(user, QueryDict(query)).values_list("id", flat=True))


def conversation(brand, minutes=0, **segment):
    customer = CustomerFactory(brand=brand, **segment)
    made = ConversationFactory(
        brand=brand, customer=customer, last_message_at=NOW - dt.timedelta(minutes=minutes)
    )
    MessageFactory(conversation=made)
    return made


@pytest.fixture
def segments(brand_a, brand_b):
    return {
        "a_active_food": conversation(brand_a, 1, value_tier="A", activity="active",
                                      industry="Gastronomie"),
        "a_inactive_build": conversation(brand_a, 2, value_tier="A", activity="inactive",
                                         industry="Handwerk"),
        "c_active_food": conversation(brand_a, 3, value_tier="C", activity="active",
                                      industry="Gastronomie"),
        "new": conversation(brand_a, 4, value_tier="C", activity="new"),
        "no_customer": ConversationFactory(brand=brand_a, customer=None),
        "other_brand": conversation(brand_b, 5, value_tier="A", activity="active",
                                    industry="Geheimbranche"),
    }  # fmt: skip


def test_value_tier_activity_and_industry_filter_and_combine(agent_a, segments):
    pk = {name: c.pk for name, c in segments.items()}

    assert ids(agent_a, "wertklasse=A") == {pk["a_active_food"], pk["a_inactive_build"]}
    assert ids(agent_a, "aktivitaet=active") == {pk["a_active_food"], pk["c_active_food"]}
    assert ids(agent_a, "aktivitaet=new") == {pk["new"]}
    assert ids(agent_a, "branche=gastronomie") == {pk["a_active_food"], pk["c_active_food"]}
    assert ids(agent_a, "wertklasse=A&aktivitaet=active&branche=Gastronomie") == {
        pk["a_active_food"]
    }
    assert ids(agent_a, "wertklasse=C&branche=Handwerk") == set()
    # an unknown value is ignored as every hand-edited value is: the whole list
    assert pk["no_customer"] in ids(agent_a, "wertklasse=Z")


def test_keyset_paging_keeps_the_segment_filter(agent_a, brand_a, segments):
    for minutes in range(10, 15):
        conversation(brand_a, minutes, value_tier="A")
    qs = filtered_conversations(agent_a, QueryDict("wertklasse=A"))

    seen, cursor = [], ""
    while True:
        page = list_page(qs, cursor, size=2)
        seen += [c.pk for c in page.rows]
        if not page.next_cursor:
            break
        cursor = page.next_cursor

    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == ids(agent_a, "wertklasse=A")


def test_each_active_filter_is_a_chip_that_removes_only_itself():
    chips = filter_chips(QueryDict("wertklasse=A&aktivitaet=inactive&branche=Handwerk&nach=x"))

    assert [(c.name, c.text) for c in chips] == [
        ("wertklasse", "Wertklasse: A (hoher Umsatz)"),
        ("aktivitaet", "Aktivität: inaktiv"),
        ("branche", "Branche: Handwerk"),
    ]
    assert chips[0].query == "aktivitaet=inactive&branche=Handwerk"  # the cursor goes too
    custom = filter_chips(QueryDict("zeitraum=eigener&von=2026-11-01&bis=2026-11-20&ungelesen=1"))
    assert [c.text for c in custom][:2] == ["Ungelesen", "Zeitraum: Eigener Zeitraum"]
    assert custom[1].query == "ungelesen=1"  # from and until go with their period


def test_the_inbox_page_offers_the_segment_filters_and_shows_them_as_chips(
    client, agent_a, segments
):
    segments["a_active_food"].subject = "Bestellung Großküche"
    segments["a_active_food"].save()
    segments["c_active_food"].subject = "Frage zur Wallbox"
    segments["c_active_food"].save()
    client.force_login(agent_a)

    response = client.get("/", {"wertklasse": "A", "branche": "Gastronomie"})

    assert response.status_code == 200
    text = response.text
    assert "Bestellung Großküche" in text
    assert "Frage zur Wallbox" not in text
    assert '<option value="Gastronomie" selected>Gastronomie</option>' in text
    assert '<option value="Handwerk" >Handwerk</option>' in text
    assert "Geheimbranche" not in text  # the industries of the user's brands only
    assert '<option value="A" selected>A (hoher Umsatz)</option>' in text
    assert 'name="aktivitaet"' in text
    assert "Wertklasse: A (hoher Umsatz)" in text
    assert 'href="/?branche=Gastronomie" hx-get="/?branche=Gastronomie"' in text  # removes A


def test_the_next_page_link_carries_the_segment_filter(client, agent_a, brand_a):
    for minutes in range(51):
        conversation(brand_a, minutes, value_tier="B")
    conversation(brand_a, 60, value_tier="C")
    client.force_login(agent_a)

    first = client.get("/", {"wertklasse": "B"})
    cursor = first.context["page"].next_cursor
    assert "?wertklasse=B&amp;nach=" in first.text
    more = client.get("/", {"wertklasse": "B", "nach": cursor}, headers={"HX-Request": "true"})

    assert more.text.count('class="row-link"') == 1
    assert "<html" not in more.text


def test_a_filter_change_from_htmx_gets_the_list_with_its_chips_and_no_panel(
    client, agent_a, segments, django_assert_max_num_queries
):
    client.force_login(agent_a)

    # session + user, the page, the brands (a badge), waking due Wiedervorlagen; the
    # industries only with the panel
    with django_assert_max_num_queries(5):
        response = client.get(
            "/", {"aktivitaet": "new"}, headers={"HX-Request": "true", "HX-Target": "list-body"}
        )

    assert response.status_code == 200
    assert "Aktivität: neu" in response.text
    assert 'name="branche"' not in response.text
