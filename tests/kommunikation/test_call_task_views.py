"""The Aufgaben page: open call tasks by due time, overdue marked, mine or all; outcomes and
assignment by HTMX and by plain forms; brand-isolated; counted in the inbox's left pane."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from kommunikation.calls.models import CallTask
from kommunikation.outbox import enqueue_outbound
from kommunikation.roles import AGENT
from tests.factories import ContactPointFactory, CustomerFactory, UserFactory

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]

HTMX = {"HX-Request": "true"}


def make_task(brand, *, due: dt.datetime, name: str = "Müller", assignee=None, n: int = 0):
    customer = CustomerFactory(brand=brand, last_name=name)
    point = ContactPointFactory(customer=customer, channel="phone", value=f"+49151123456{n:02d}")
    row = enqueue_outbound(
        brand=brand, channels=["call", "email"], category="service", idempotency_key=f"t-{name}-{n}",
        source="rule", customer=customer, text="Leitfaden", trigger=False,
    )  # fmt: skip
    return CallTask.objects.create(
        brand=brand, outbound=row, customer=customer, contact_point=point, phone=point.value,
        script=f"Leitfaden für {name}", due_at=due, assignee=assignee,
    )  # fmt: skip


def test_the_page_lists_open_tasks_by_due_time_with_the_overdue_marked(client, agent_a, brand_a):
    later = make_task(brand_a, due=NOW + dt.timedelta(hours=2), name="Später", n=1)
    overdue = make_task(brand_a, due=NOW - dt.timedelta(hours=1), name="Überfällig", n=2)
    client.force_login(agent_a)

    response = client.get("/aufgaben/")

    assert response.status_code == 200
    text = response.text
    assert text.index(f'id="task-{overdue.pk}"') < text.index(f'id="task-{later.pk}"')
    assert re.search(rf'id="task-{overdue.pk}" class="task is-overdue"', text)
    assert re.search(rf'id="task-{later.pk}" class="task"', text)
    assert 'href="tel:+4915112345601"' in text
    assert "+49 1511 2345601" in text
    assert "1 überfällig" in text


def test_mine_shows_only_the_users_tasks(client, agent_a, brand_a):
    mine = make_task(brand_a, due=NOW, name="Meins", assignee=agent_a, n=1)
    other = make_task(brand_a, due=NOW, name="Andere", n=2)
    client.force_login(agent_a)

    text = client.get("/aufgaben/?wer=ich").text

    assert f'id="task-{mine.pk}"' in text
    assert f'id="task-{other.pk}"' not in text


def test_another_brands_tasks_are_neither_listed_nor_reachable(client, agent_a, brand_b):
    theirs = make_task(brand_b, due=NOW, name="Fremd")
    client.force_login(agent_a)

    assert "Fremd" not in client.get("/aufgaben/").text
    response = client.post(f"/aufgaben/{theirs.pk}/ergebnis/", {"outcome": "reached"}, headers=HTMX)
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "open"


def test_staff_without_the_role_get_403(client, brand_a):
    nobody = UserFactory(username="ohne.rolle", brands=[brand_a])
    client.force_login(nobody)
    assert client.get("/aufgaben/").status_code == 403


def test_an_outcome_by_htmx_answers_with_the_task_and_the_counts(client, agent_a, brand_a):
    task = make_task(brand_a, due=NOW - dt.timedelta(minutes=5))
    client.force_login(agent_a)

    response = client.post(
        f"/aufgaben/{task.pk}/ergebnis/", {"outcome": "reached", "note": "passt"}, headers=HTMX
    )

    assert response.status_code == 200
    assert f'id="task-{task.pk}" class="task is-done"' in response.text
    assert 'id="call-counts" hx-swap-oob="true"' in response.text
    assert "0 offene Anrufe" in response.text
    task.refresh_from_db()
    assert (task.status, task.outcome, task.last_call_by, task.note) == (
        "done", "reached", agent_a, "passt",
    )  # fmt: skip


def test_an_outcome_by_plain_form_goes_back_to_the_list(client, agent_a, brand_a):
    task = make_task(brand_a, due=NOW)
    client.force_login(agent_a)

    response = client.post(
        f"/aufgaben/{task.pk}/ergebnis/", {"outcome": "not_reached", "query": "wer=ich"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/aufgaben/?wer=ich"
    task.refresh_from_db()
    assert (task.status, task.attempts) == ("open", 1)


def test_a_callback_takes_its_date_and_time(client, agent_a, brand_a):
    task = make_task(brand_a, due=NOW)
    client.force_login(agent_a)

    response = client.post(
        f"/aufgaben/{task.pk}/ergebnis/",
        {"outcome": "callback", "callback_date": "27.11.2026", "callback_time": "14:30"},
        headers=HTMX,
    )

    assert response.status_code == 200
    task.refresh_from_db()
    assert task.due_at == dt.datetime(2026, 11, 27, 14, 30, tzinfo=BERLIN)


@pytest.mark.parametrize(
    "data",
    [
        {"outcome": "callback"},
        {"outcome": "callback", "callback_date": "24.11.2026", "callback_time": "10:00"},
        {"outcome": "vielleicht"},
    ],
)
def test_a_refused_outcome_answers_422_with_the_reason(client, agent_a, brand_a, data):
    task = make_task(brand_a, due=NOW)
    client.force_login(agent_a)

    response = client.post(f"/aufgaben/{task.pk}/ergebnis/", data, headers=HTMX)

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#task-errors"
    task.refresh_from_db()
    assert (task.status, task.outcome) == ("open", "")


def test_a_task_done_meanwhile_takes_no_second_outcome(client, agent_a, brand_a):
    task = make_task(brand_a, due=NOW)
    client.force_login(agent_a)
    client.post(f"/aufgaben/{task.pk}/ergebnis/", {"outcome": "reached"}, headers=HTMX)

    response = client.post(
        f"/aufgaben/{task.pk}/ergebnis/", {"outcome": "not_reached"}, headers=HTMX
    )

    assert response.status_code == 422
    assert "schon abgeschlossen" in response.text


def test_an_agent_takes_a_task_but_gives_none_away(client, agent_a, brand_a):
    colleague = UserFactory(username="carla.kollegin", brands=[brand_a], roles=[AGENT])
    task = make_task(brand_a, due=NOW)
    client.force_login(agent_a)

    assert (
        client.post(f"/aufgaben/{task.pk}/zuweisen/", {"assignee": "ich"}, headers=HTMX).status_code
        == 200
    )
    task.refresh_from_db()
    assert task.assignee == agent_a

    response = client.post(
        f"/aufgaben/{task.pk}/zuweisen/", {"assignee": str(colleague.pk)}, headers=HTMX
    )
    assert response.status_code == 422
    task.refresh_from_db()
    assert task.assignee == agent_a


def test_a_team_lead_assigns_colleagues_and_sees_who_has_what(client, team_lead, agent_a, brand_a):
    task = make_task(brand_a, due=NOW - dt.timedelta(hours=1))
    client.force_login(team_lead)

    response = client.post(
        f"/aufgaben/{task.pk}/zuweisen/", {"assignee": str(agent_a.pk)}, headers=HTMX
    )

    assert response.status_code == 200
    task.refresh_from_db()
    assert task.assignee == agent_a
    page = client.get("/aufgaben/").text
    assert "Offene Anrufe je Mitarbeiter/in" in page
    assert re.search(r"Erika Muster</td><td class=\"num\">1</td>.*overdue\">1<", page)


@pytest.mark.parametrize("n", [2, 20])
def test_the_page_costs_the_same_queries_whatever_its_size(
    client, agent_a, brand_a, n, django_assert_max_num_queries
):
    for i in range(n):
        make_task(brand_a, due=NOW + dt.timedelta(minutes=i), name=f"Kunde{i}", n=i)
    client.force_login(agent_a)

    # session + user, permissions, the tasks, the counts
    with django_assert_max_num_queries(6):
        response = client.get("/aufgaben/")

    assert response.text.count('class="tel"') == n


def test_the_inbox_counts_open_and_overdue_call_tasks(client, agent_a, brand_a):
    make_task(brand_a, due=NOW - dt.timedelta(hours=1), n=1)
    make_task(brand_a, due=NOW + dt.timedelta(hours=1), name="Später", n=2)
    client.force_login(agent_a)

    assert 'href="/aufgaben/"' in client.get("/").text
    counts = client.get("/zaehler/").text

    assert '<span class="count" id="count-calls" hx-swap-oob="true">2</span>' in counts
    assert "1 überfällig" in counts
