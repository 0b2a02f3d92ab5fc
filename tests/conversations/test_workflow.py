"""Finishing work (issue 10 §4): the status workflow, Wiedervorlage, bulk actions with
their count preview, history and undo."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from conversations import workflow
from conversations.ingest import ingest_raw_email
from conversations.models import Conversation, ConversationChange, Status
from tests.conftest import NOW
from tests.conversations.test_ingest import mail
from tests.factories import ConversationFactory, MessageFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW)]
HTMX = {"HX-Request": "true", "HX-Target": "detail"}


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def conv(brand_a):
    conv = ingest_raw_email(mail(), brand=brand_a).conversation
    conv.refresh_from_db()
    return conv


# --- status -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("then", "status"), [("", "open"), ("pending", "pending"), ("closed", "closed")]
)
def test_send_and_then_sets_the_status_with_the_reply(client, agent_a, conv, then, status):
    client.force_login(agent_a)

    response = client.post(
        f"/konversationen/{conv.pk}/antwort/", {"text": "Erledigt.", "then": then}, headers=HTMX
    )

    assert response.status_code == 200
    conv.refresh_from_db()
    assert conv.status == status
    assert conv.messages.filter(direction="out", text="Erledigt.").exists()
    assert conv.response_due_at is None
    if then:
        change = ConversationChange.objects.get(conversation=conv)
        assert (change.field, change.from_value, change.to_value) == ("status", "open", status)
        assert change.changed_by == agent_a


def test_the_composer_offers_the_three_send_buttons_with_their_keys(client, agent_a, conv):
    client.force_login(agent_a)

    response = client.get(f"/konversationen/{conv.pk}/", headers=HTMX)

    assert 'data-send="pending"' in response.text and "Senden & wartend" in response.text
    assert 'aria-keyshortcuts="Control+Shift+Enter"' in response.text
    assert "Senden & erledigen" in response.text


@pytest.mark.parametrize("status", [Status.PENDING, Status.CLOSED, Status.ARCHIVED])
def test_a_new_message_from_the_customer_reopens_it(brand_a, agent_a, conv, status):
    workflow.set_status_many(
        conversations=Conversation.objects.filter(pk=conv.pk), status=status, actor=agent_a
    )

    ingest_raw_email(
        mail(message_id="<q2@beispiel.de>", extra="In-Reply-To: <q1@beispiel.de>\n"),
        brand=brand_a,
    )

    conv.refresh_from_db()
    assert (conv.status, conv.unread, conv.message_count) == (Status.OPEN, True, 2)
    assert conv.response_due_at is not None


def test_the_status_filter_shows_waiting_conversations(client, agent_a, brand_a):
    ConversationFactory(brand=brand_a, subject="Wartet auf Kunde", status=Status.PENDING)
    ConversationFactory(brand=brand_a, subject="Ist erledigt", status=Status.CLOSED)
    client.force_login(agent_a)

    pending = client.get("/", {"status": "pending"}).text
    closed = client.get("/", {"status": "closed"}).text

    assert "Wartet auf Kunde" in pending and "Ist erledigt" not in pending
    assert "Ist erledigt" in closed and "Wartet auf Kunde" not in closed


# --- Wiedervorlage ------------------------------------------------------------------


def test_quick_choices_are_berlin_times():
    berlin = timezone.localtime(NOW)  # Wednesday 12:00
    assert workflow.later_today(NOW) == berlin.replace(hour=17)
    assert timezone.localtime(workflow.tomorrow_morning(NOW)).isoformat() == (
        "2026-11-26T08:00:00+01:00"
    )
    assert timezone.localtime(workflow.next_monday_morning(NOW)).isoformat() == (
        "2026-11-30T08:00:00+01:00"
    )


def test_a_snoozed_conversation_leaves_the_open_list_and_shows_under_wiedervorlage(
    client, agent_a, conv
):
    client.force_login(agent_a)

    response = client.post(
        f"/konversationen/{conv.pk}/wiedervorlage/", {"wann": "morgen"}, headers=HTMX
    )

    assert response.status_code == 200
    assert "Wiedervorlage am 26.11.2026 08:00" in response.text
    conv.refresh_from_db()
    assert timezone.localtime(conv.snoozed_until).isoformat() == "2026-11-26T08:00:00+01:00"
    assert f'id="row-{conv.pk}"' not in client.get("/").text
    assert f'id="row-{conv.pk}"' in client.get("/", {"status": "wiedervorlage"}).text


def test_a_date_and_time_typed_in_german_form(client, agent_a, conv):
    client.force_login(agent_a)

    client.post(
        f"/konversationen/{conv.pk}/wiedervorlage/",
        {"wann": "eigene", "datum": "03.12.2026", "uhrzeit": "14:30"},
        headers=HTMX,
    )

    conv.refresh_from_db()
    assert timezone.localtime(conv.snoozed_until).isoformat() == "2026-12-03T14:30:00+01:00"


def test_a_time_in_the_past_is_refused(client, agent_a, conv):
    client.force_login(agent_a)

    response = client.post(
        f"/konversationen/{conv.pk}/wiedervorlage/",
        {"wann": "eigene", "datum": "01.11.2026", "uhrzeit": "08:00"},
        headers=HTMX,
    )

    assert response.status_code == 400
    assert "Zukunft" in response.text
    conv.refresh_from_db()
    assert conv.snoozed_until is None


def test_wake_snoozed_brings_it_back_unread_and_on_top(brand_a, agent_a, conv, time_machine):
    other = ConversationFactory(brand=brand_a, subject="Neuer", last_message_at=NOW)
    conv.unread = False
    conv.status = Status.PENDING
    conv.save(update_fields=["unread", "status"])
    workflow.snooze(
        conversations=Conversation.objects.filter(pk=conv.pk),
        until=NOW + dt.timedelta(days=1),
        actor=agent_a,
    )
    time_machine.move_to(NOW + dt.timedelta(days=1, minutes=1))

    call_command("wake_snoozed")

    conv.refresh_from_db()
    assert conv.snoozed_until is None
    assert (conv.unread, conv.status) == (True, Status.OPEN)
    assert conv.last_message_at == NOW + dt.timedelta(days=1)
    assert list(Conversation.objects.open().order_by("-last_message_at")[:2]) == [conv, other]


def test_the_inbox_wakes_a_due_one_itself_when_the_worker_lags(
    client, agent_a, brand_a, conv, time_machine
):
    ConversationFactory(brand=brand_a, subject="Neuer", last_message_at=NOW)
    workflow.snooze(
        conversations=Conversation.objects.filter(pk=conv.pk),
        until=NOW + dt.timedelta(hours=2),
        actor=agent_a,
    )
    client.force_login(agent_a)
    assert f'id="row-{conv.pk}"' not in client.get("/").text
    time_machine.move_to(NOW + dt.timedelta(hours=3))

    page = client.get("/").text

    first_row = page.split('<li id="row-')[1]
    assert first_row.startswith(f'{conv.pk}" class="row is-unread"')


def test_a_new_message_ends_the_snooze(brand_a, agent_a, conv):
    workflow.snooze(
        conversations=Conversation.objects.filter(pk=conv.pk),
        until=NOW + dt.timedelta(days=3),
        actor=agent_a,
    )

    ingest_raw_email(
        mail(message_id="<q2@beispiel.de>", extra="In-Reply-To: <q1@beispiel.de>\n"),
        brand=brand_a,
    )

    conv.refresh_from_db()
    assert conv.snoozed_until is None
    assert Conversation.objects.open().awake().filter(pk=conv.pk).exists()


def test_the_schedule_wakes_snoozed_every_minute():
    from config.schedules import SCHEDULES

    assert ("wake-snoozed", "conversations.tasks.wake_snoozed", "* * * * *") in [
        row[:3] for row in SCHEDULES
    ]


# --- bulk actions -------------------------------------------------------------------


@pytest.fixture
def three(brand_a):
    return [
        ConversationFactory(brand=brand_a, subject=f"Sammel {n}", unread=True) for n in range(3)
    ]


def test_bulk_archive_of_a_selection_and_its_undo(client, agent_a, three):
    client.force_login(agent_a)
    ids = ",".join(str(c.pk) for c in three[:2])

    response = client.post(
        "/konversationen/aktionen/",
        {"action": "archive", "scope": "auswahl", "ids": ids},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert "2 Konversationen archiviert." in response.text
    assert [c.status for c in Conversation.objects.order_by("pk")] == [
        "archived", "archived", "open",
    ]  # fmt: skip
    changes = ConversationChange.objects.filter(field="status", to_value="archived")
    assert changes.count() == 2 and len({c.batch for c in changes}) == 1
    undo_url = f"/aenderungen/{changes[0].batch}/rueckgaengig/"
    assert undo_url in response.text

    undone = client.post(undo_url, headers={"HX-Request": "true"})

    assert undone.status_code == 200
    assert "2 Änderungen rückgängig gemacht." in undone.text
    assert [c.status for c in Conversation.objects.all()] == ["open"] * 3
    assert ConversationChange.objects.filter(to_value="open").count() == 2


def test_bulk_on_all_matches_of_a_filter_previews_its_count(client, agent_a, brand_a, three):
    ConversationFactory(brand=brand_a, subject="Anderes Thema")
    client.force_login(agent_a)

    count = client.get(
        "/konversationen/klassifizieren/anzahl/", {"scope": "treffer", "query": "q=Sammel"}
    )
    response = client.post(
        "/konversationen/aktionen/",
        {"action": "read", "scope": "treffer", "query": "q=Sammel"},
        headers={"HX-Request": "true"},
    )

    assert count.text == "3"
    assert "3 Konversationen als gelesen markiert." in response.text
    assert sorted(Conversation.objects.values_list("subject", "unread")) == [
        ("Anderes Thema", True), ("Sammel 0", False), ("Sammel 1", False), ("Sammel 2", False),
    ]  # fmt: skip


def test_bulk_priority_status_and_assign(client, agent_a, three):
    client.force_login(agent_a)
    ids = ",".join(str(c.pk) for c in three)
    post = lambda data: client.post(  # noqa: E731
        "/konversationen/aktionen/", {"scope": "auswahl", "ids": ids, **data},
        headers={"HX-Request": "true"},
    )  # fmt: skip

    post({"action": "priority", "priority": "high"})
    post({"action": "status", "status": "pending"})
    post({"action": "assign", "assignee": "ich"})

    assert set(Conversation.objects.values_list("priority", "status", "assignee")) == {
        ("high", "pending", agent_a.pk)
    }
    assert ConversationChange.objects.count() == 9


def test_an_agent_may_not_bulk_assign_to_a_colleague(client, agent_a, brand_a, three):
    colleague = UserFactory(username="kollege", brands=[brand_a])
    client.force_login(agent_a)

    response = client.post(
        "/konversationen/aktionen/",
        {"action": "assign", "assignee": str(colleague.pk), "scope": "auswahl",
         "ids": str(three[0].pk)},
        headers={"HX-Request": "true"},
    )  # fmt: skip

    assert response.status_code == 422
    assert "Team-Leads" in response.text
    assert not Conversation.objects.filter(assignee__isnull=False).exists()


def test_bulk_never_touches_another_brands_conversation(client, agent_a, brand_b):
    foreign = ConversationFactory(brand=brand_b)
    client.force_login(agent_a)

    client.post(
        "/konversationen/aktionen/",
        {"action": "archive", "scope": "auswahl", "ids": str(foreign.pk)},
        headers={"HX-Request": "true"},
    )

    foreign.refresh_from_db()
    assert foreign.status == "open"


def test_single_changes_are_in_the_history_too(client, agent_a, conv):
    client.force_login(agent_a)

    client.post(f"/konversationen/{conv.pk}/status/", {"status": "archived"}, headers=HTMX)
    client.post(f"/konversationen/{conv.pk}/prioritaet/", {"priority": "low"}, headers=HTMX)

    assert list(
        ConversationChange.objects.order_by("id").values_list("field", "from_value", "to_value")
    ) == [("status", "open", "archived"), ("priority", "normal", "low")]


def test_archiving_ends_a_wiedervorlage(agent_a, conv):
    one = Conversation.objects.filter(pk=conv.pk)
    workflow.snooze(conversations=one, until=NOW + dt.timedelta(days=1), actor=agent_a)

    workflow.set_status_many(conversations=one, status=Status.ARCHIVED, actor=agent_a)

    conv.refresh_from_db()
    assert conv.snoozed_until is None


def test_undo_of_a_snooze_restores_the_time(agent_a, brand_a):
    conv = ConversationFactory(brand=brand_a)
    MessageFactory(conversation=conv)
    one = Conversation.objects.filter(pk=conv.pk)
    until = NOW + dt.timedelta(days=2)
    workflow.snooze(conversations=one, until=until, actor=agent_a)
    batch = workflow.unsnooze(conversations=one, actor=agent_a)

    workflow.undo_change_batch(batch=batch.id, actor=agent_a, brands=[brand_a])

    conv.refresh_from_db()
    assert conv.snoozed_until == until


def test_archiving_one_offers_its_undo(client, agent_a, conv):
    client.force_login(agent_a)

    response = client.post(
        f"/konversationen/{conv.pk}/status/", {"status": "archived"}, headers=HTMX
    )

    batch = ConversationChange.objects.get().batch
    assert f"/aenderungen/{batch}/rueckgaengig/" in response.text
    client.post(f"/aenderungen/{batch}/rueckgaengig/", headers={"HX-Request": "true"})
    conv.refresh_from_db()
    assert conv.status == "open"
