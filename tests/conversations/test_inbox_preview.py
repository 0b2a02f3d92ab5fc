"""Browsing the list with the keyboard previews a conversation without marking it read; it is
read after the user's dwell (a per-user setting, 2 s unless changed) or on any action."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from conversations.filters import contact_labels, filter_chips
from conversations.models import InboxSettings
from tests.factories import ConversationFactory, CustomerFactory

pytestmark = pytest.mark.django_db

PREVIEW = {"HX-Request": "true", "HX-Target": "detail", "X-Inbox-Preview": "1"}


@pytest.fixture
def unread(brand_a):
    return ConversationFactory(brand=brand_a, unread=True, subject="Neu")


def test_a_preview_leaves_the_conversation_unread_and_says_when_it_counts_as_read(
    client, agent_a, unread
):
    client.force_login(agent_a)
    response = client.get(f"/konversationen/{unread.pk}/", headers=PREVIEW)
    assert response.status_code == 200
    unread.refresh_from_db()
    assert unread.unread is True
    assert '"read_after": 2000' in response["HX-Trigger"]


def test_opening_with_the_mouse_still_marks_read_at_once(client, agent_a, unread):
    client.force_login(agent_a)
    response = client.get(
        f"/konversationen/{unread.pk}/", headers={"HX-Request": "true", "HX-Target": "detail"}
    )
    assert response.status_code == 200
    unread.refresh_from_db()
    assert unread.unread is False
    assert '"read_after": 0' in response["HX-Trigger"]


def test_a_user_who_set_no_dwell_reads_on_preview(client, agent_a, unread):
    InboxSettings.save_read_delay(user=agent_a, read_delay_ms=0)
    client.force_login(agent_a)
    client.get(f"/konversationen/{unread.pk}/", headers=PREVIEW)
    unread.refresh_from_db()
    assert unread.unread is False


def test_after_the_dwell_the_page_marks_it_read(client, agent_a, unread):
    client.force_login(agent_a)
    response = client.post(f"/konversationen/{unread.pk}/gelesen/", headers={"HX-Request": "true"})
    assert response.status_code == 204
    unread.refresh_from_db()
    assert unread.unread is False


def test_another_brands_conversation_cannot_be_marked_read(client, agent_b, unread):
    client.force_login(agent_b)
    response = client.post(f"/konversationen/{unread.pk}/gelesen/", headers={"HX-Request": "true"})
    assert response.status_code == 404
    unread.refresh_from_db()
    assert unread.unread is True


def test_the_dwell_is_the_users_own(agent_a, team_lead):
    InboxSettings.save_read_delay(user=agent_a, read_delay_ms=500)
    assert InboxSettings.read_delay_for(agent_a) == 500
    assert InboxSettings.read_delay_for(team_lead) == InboxSettings.DEFAULT_READ_DELAY_MS == 2000


def test_the_settings_page_shows_and_saves_the_dwell_in_seconds(client, agent_a):
    client.force_login(agent_a)
    page = client.get("/einstellungen/")
    assert page.status_code == 200
    assert 'value="2,0"' in page.content.decode()

    saved = client.post("/einstellungen/", {"read_delay": "0,5"})
    assert saved.status_code == 200
    assert InboxSettings.objects.get(user=agent_a).read_delay_ms == 500
    assert "Gespeichert." in saved.content.decode()


def test_the_settings_page_refuses_a_dwell_out_of_range(client, agent_a):
    client.force_login(agent_a)
    response = client.post("/einstellungen/", {"read_delay": "120"})
    assert response.status_code == 400
    assert not InboxSettings.objects.filter(user=agent_a).exists()


def test_the_customer_chip_names_the_customer_and_number(agent_a, agent_b, brand_a):
    anna = CustomerFactory(brand=brand_a, number="K-10083", first_name="Anna", last_name="Huber")
    params = QueryDict(f"kunde={anna.pk}&ungelesen=1")

    chips = filter_chips(params, contact_labels(agent_a, params))
    assert [c.text for c in chips if c.name == "kunde"] == ["Kunde: Anna Huber (K-10083)"]
    # a colleague of another brand learns nothing from the id
    other = filter_chips(params, contact_labels(agent_b, params))
    assert [c.text for c in other if c.name == "kunde"] == [f"Kunde: {anna.pk}"]


def test_the_inbox_shows_the_chosen_customer_in_chip_and_filter_field(client, agent_a, brand_a):
    anna = CustomerFactory(brand=brand_a, number="K-10083", first_name="Anna", last_name="Huber")
    ConversationFactory(brand=brand_a, customer=anna)
    client.force_login(agent_a)
    html = client.get(f"/?kunde={anna.pk}").content.decode()
    assert "Kunde: Anna Huber (K-10083)" in html
    assert 'value="Anna Huber (K-10083)"' in html
    assert "Nr. intern" not in html


def test_acting_on_a_previewed_conversation_reads_it(client, agent_a, unread):
    client.force_login(agent_a)
    client.get(f"/konversationen/{unread.pk}/", headers=PREVIEW)
    response = client.post(
        f"/konversationen/{unread.pk}/prioritaet/", {"priority": "high"}, headers=PREVIEW
    )
    assert response.status_code == 200
    unread.refresh_from_db()
    assert (unread.priority, unread.unread) == ("high", False)
