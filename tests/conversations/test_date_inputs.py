"""Date fields of the staff UI (the period filter of the inbox and the customer page) are text
fields in the UI language's format: a browser's ``type="date"`` follows the browser's locale."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import QueryDict
from django.utils import translation

from conversations.filters import InboxFilterForm, filtered_conversations, parse_date_input
from tests.conftest import NOW
from tests.factories import ConversationFactory, CustomerFactory

pytestmark = pytest.mark.time_machine(NOW, tick=False)
DAY = dt.date(2026, 11, 5)


@pytest.mark.parametrize(
    "language, typed",
    [
        ("de", "05.11.2026"),
        ("de", "5.11.2026"),
        ("de", "05.11.26"),
        ("de", "2026-11-05"),
        ("de", " 05.11.2026 "),
        ("en", "2026-11-05"),
        ("en", "11/05/2026"),
        ("en", "05.11.2026"),
        ("nl", "05-11-2026"),
        ("nl", "2026-11-05"),
        ("nl", "05.11.2026"),
        ("de", "05-11-2026"),
    ],
)
def test_a_date_is_read_in_the_ui_language_and_in_iso(language, typed):
    with translation.override(language):
        assert parse_date_input(typed) == DAY


@pytest.mark.parametrize("typed", ["31.02.2026", "2026-13-01", "gestern", "11/05/2026", ""])
def test_what_is_no_date_in_german_is_none(typed):
    with translation.override("de"):
        assert parse_date_input(typed) is None


@pytest.mark.parametrize(
    "language, shown, placeholder",
    [
        ("de", "05.11.2026", "TT.MM.JJJJ"),
        ("en", "2026-11-05", "YYYY-MM-DD"),
        ("nl", "05-11-2026", "DD-MM-JJJJ"),
    ],
)
def test_the_field_is_text_in_the_ui_languages_format_also_for_an_iso_link(
    language, shown, placeholder
):
    with translation.override(language):
        html = str(InboxFilterForm(QueryDict("zeitraum=eigener&von=2026-11-05"))["von"])

    assert 'type="text"' in html
    assert 'type="date"' not in html
    assert f'value="{shown}"' in html
    assert f'placeholder="{placeholder}"' in html


def test_an_invalid_date_is_shown_as_typed_and_ignored(db, brand_a, agent_a):
    ConversationFactory(brand=brand_a)
    with translation.override("de"):
        form = InboxFilterForm(QueryDict("zeitraum=eigener&von=32.11.2026"))

        assert 'value="32.11.2026"' in str(form["von"])
        assert "von" not in form.values()


@pytest.mark.django_db
def test_the_inbox_filters_by_a_german_period(brand_a, agent_a):
    inside = ConversationFactory(brand=brand_a, last_message_at=NOW - dt.timedelta(days=20))
    ConversationFactory(brand=brand_a, last_message_at=NOW - dt.timedelta(days=10))
    day = (NOW - dt.timedelta(days=20)).date()
    query = QueryDict(f"zeitraum=eigener&von={day:%d.%m.%Y}&bis={day:%d.%m.%Y}")

    with translation.override("de"):
        found = set(filtered_conversations(agent_a, query).values_list("id", flat=True))

    assert found == {inside.pk}


@pytest.mark.django_db
def test_the_inbox_and_the_customer_page_show_german_date_fields(client, agent_a, brand_a):
    customer = CustomerFactory(brand=brand_a)
    client.force_login(agent_a)

    for url in ["/", f"/kunden/{customer.pk}/"]:
        response = client.get(url, {"zeitraum": "eigener", "von": "2026-11-05"})

        assert response.status_code == 200
        assert 'type="date"' not in response.text
        assert 'name="von" value="05.11.2026"' in response.text
