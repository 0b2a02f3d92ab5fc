"""Call tasks through the outbox: planned for staff, in the thread, done with an outcome;
"nicht erreicht" tries again and then falls back to the rule's next channel."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from conversations.models import Message
from kommunikation.calls.models import CallTask
from kommunikation.calls.services import (
    CallTaskClosed,
    assign_call_task,
    call_task_counts,
    record_call_outcome,
)
from kommunikation.dispatch import dispatch_batch
from kommunikation.models import OutboundMessage, OutboundStatus
from kommunikation.outbox import enqueue_outbound
from tests.factories import ContactPointFactory, CustomerFactory, UserFactory

BERLIN = ZoneInfo("Europe/Berlin")
WEDNESDAY_NOON = dt.datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)
FRIDAY_4_30 = dt.datetime(2026, 11, 27, 16, 30, tzinfo=BERLIN)

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(WEDNESDAY_NOON, tick=False)]

SCRIPT = "Anruf bei Anna Müller zum Angebot AN-1. Fragen: Passt das Angebot?"


@pytest.fixture
def customer(brand_a):
    customer = CustomerFactory(brand=brand_a, first_name="Anna", last_name="Müller",
                               email="anna@kunde.example")  # fmt: skip
    ContactPointFactory(customer=customer, channel="phone", value="030 1234567", type="work")
    ContactPointFactory(customer=customer, channel="phone", value="0151 12345678", type="mobile")
    return customer


def enqueue_call(customer, *, channels=("call",), key="call-1", **kwargs) -> OutboundMessage:
    return enqueue_outbound(
        brand=customer.brand, channels=list(channels), category="service",
        idempotency_key=key, source="rule", customer=customer, subject="Angebot AN-1",
        text=SCRIPT, trigger=False, **kwargs,
    )  # fmt: skip


def timeline(message: Message) -> list[tuple[str, str]]:
    return [(c.status, c.detail) for c in message.status_changes.order_by("at", "id")]


def planned(customer, **kwargs) -> CallTask:
    row = enqueue_call(customer, **kwargs)
    result = dispatch_batch()
    assert (result.sent, result.failed) == (1, 0), result.reasons
    return CallTask.objects.get(outbound=row)


# --- planning ------------------------------------------------------------------------------


def test_the_call_channel_plans_a_task_instead_of_sending(customer, brand_a):
    row = enqueue_call(customer)

    result = dispatch_batch()

    assert (result.claimed, result.sent, result.failed) == (1, 1, 0)
    row.refresh_from_db()
    task = CallTask.objects.get()
    assert (row.status, row.provider_id) == (OutboundStatus.SENT, f"anruf-{task.pk}")
    assert task.phone == "+4915112345678"  # the mobile number first, E.164
    assert task.contact_point.value == "+4915112345678"
    assert (task.customer, task.brand, task.outbound) == (customer, brand_a, row)
    assert task.script == SCRIPT
    assert task.due_at == WEDNESDAY_NOON
    assert (task.status, task.attempts, task.max_attempts) == ("open", 0, 3)
    # the thread entry waits until the call is made
    message = task.message
    assert message == row.message
    assert task.conversation == message.conversation
    assert (message.channel, message.direction, message.status) == ("call", "out", "queued")
    assert message.text == SCRIPT
    assert timeline(message) == [("queued", ""), ("queued", "Anruf geplant für 25.11.2026 12:00")]


def test_a_call_planned_late_on_friday_is_due_on_monday_at_nine(customer):
    # 16:50 is inside the gate's call window, but ten minutes are too few for a call
    with time_machine.travel(dt.datetime(2026, 11, 27, 16, 50, tzinfo=BERLIN), tick=False):
        task = planned(customer)
    assert task.due_at == dt.datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN)
    assert timeline(task.message)[-1] == ("queued", "Anruf geplant für 30.11.2026 09:00")


def test_outside_the_call_window_the_gate_holds_the_call_until_nine(customer):
    with time_machine.travel(dt.datetime(2026, 11, 25, 19, 0, tzinfo=BERLIN), tick=False):
        row = enqueue_call(customer)
        assert dispatch_batch().deferred == 1
    row.refresh_from_db()
    assert row.next_attempt_at == dt.datetime(2026, 11, 26, 9, 0, tzinfo=BERLIN)
    assert not CallTask.objects.exists()


def test_a_retried_send_finds_the_task_planned_already(customer):
    from kommunikation.channels.base import Outgoing
    from kommunikation.channels.call import CallChannel

    row = enqueue_call(customer)
    out = Outgoing(outbound_id=row.pk, brand=row.brand, recipient="+4915112345678",
                   category="service", text=SCRIPT)  # fmt: skip
    first, second = CallChannel().send(out), CallChannel().send(out)

    assert first.provider_id == second.provider_id
    assert CallTask.objects.count() == 1


def test_a_customer_without_a_phone_number_falls_back_at_once(brand_a):
    customer = CustomerFactory(brand=brand_a, email="ohne.telefon@kunde.example")
    row = enqueue_call(customer, channels=("call", "email"))

    result = dispatch_batch()

    assert result.fallback == 1
    row.refresh_from_db()
    assert (row.channel, row.status) == ("email", OutboundStatus.QUEUED)
    assert not CallTask.objects.exists()


def test_the_customers_own_contact_person_gets_the_task(customer, brand_a):
    owner = UserFactory(username="olga.owner", brands=[brand_a])
    customer.owner = owner
    customer.save(update_fields=["owner"])

    assert planned(customer).assignee == owner


# --- outcomes --------------------------------------------------------------------------------


def test_reached_closes_the_task_and_the_thread_shows_who_and_when(customer, agent_a):
    task = planned(customer)

    with time_machine.travel(dt.datetime(2026, 11, 25, 14, 5, tzinfo=BERLIN), tick=False):
        record_call_outcome(task=task, outcome="reached", user=agent_a, note="Angebot passt.")

    task.refresh_from_db()
    assert (task.status, task.outcome, task.last_call_by) == ("done", "reached", agent_a)
    assert task.closed_at == dt.datetime(2026, 11, 25, 14, 5, tzinfo=BERLIN)
    assert task.message.status == "delivered"
    assert timeline(task.message)[-2:] == [
        ("sent", "Anruf"),
        ("delivered", "Anruf: erreicht – Erika Muster, 25.11.2026 14:05: Angebot passt."),
    ]


def test_not_reached_plans_the_next_attempt_in_the_next_slot(customer, agent_a):
    task = planned(customer)

    with time_machine.travel(FRIDAY_4_30, tick=False):
        record_call_outcome(task=task, outcome="not_reached", user=agent_a)

    task.refresh_from_db()
    assert (task.status, task.attempts) == ("open", 1)
    assert task.due_at == dt.datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN)
    assert task.message.status == "sent"
    assert timeline(task.message)[-1] == (
        "sent",
        "Anruf: nicht erreicht (Versuch 1 von 3), nächster Versuch 30.11.2026 09:00"
        " – Erika Muster, 27.11.2026 16:30",
    )


def test_after_the_last_attempt_the_rule_falls_back_to_its_next_channel(customer, agent_a):
    task = planned(customer, channels=("call", "email"))
    for hour in (12, 14, 16):
        with time_machine.travel(WEDNESDAY_NOON.replace(hour=hour, minute=1), tick=False):
            record_call_outcome(task=task, outcome="not_reached", user=agent_a)

    task.refresh_from_db()
    assert (task.status, task.attempts) == ("fallback", 3)
    row = task.outbound
    row.refresh_from_db()
    # the outbox row goes on with the chain's next channel, due at once
    assert (row.channel, row.channel_index, row.status) == ("email", 1, OutboundStatus.QUEUED)
    with time_machine.travel(WEDNESDAY_NOON.replace(hour=16, minute=2), tick=False):
        assert dispatch_batch().sent == 1
    row.refresh_from_db()
    assert row.status == OutboundStatus.SENT
    assert [m.to for m in mail.outbox] == [["anna@kunde.example"]]
    call_entry = Message.objects.get(pk=task.message_id)
    assert call_entry.status == "failed"
    assert timeline(call_entry)[-1] == (
        "failed",
        "Anruf: nicht erreicht (Versuch 3 von 3) – weiter mit E-Mail – Erika Muster, 25.11.2026 16:01",
    )
    # the whole chain in one thread: the call, then the email
    email_entry = row.message
    assert email_entry != call_entry
    assert email_entry.conversation == call_entry.conversation
    assert (email_entry.channel, email_entry.status) == ("email", "sent")


def test_after_the_last_attempt_without_a_fallback_the_task_fails(customer, agent_a, settings):
    settings.CALL_MAX_ATTEMPTS = 1
    task = planned(customer)

    record_call_outcome(task=task, outcome="not_reached", user=agent_a)

    task.refresh_from_db()
    assert (task.status, task.max_attempts) == ("failed", 1)
    assert task.message.status == "failed"
    assert timeline(task.message)[-1][1].startswith(
        "Anruf: nicht erreicht (Versuch 1 von 1) – kein weiterer Kanal"
    )
    task.outbound.refresh_from_db()
    assert task.outbound.status == OutboundStatus.SENT


def test_a_callback_keeps_the_task_open_until_the_agreed_time(customer, agent_a):
    task = planned(customer)
    agreed = dt.datetime(2026, 11, 27, 10, 30, tzinfo=BERLIN)

    record_call_outcome(task=task, outcome="callback", user=agent_a, callback_at=agreed)

    task.refresh_from_db()
    assert (task.status, task.outcome, task.due_at, task.callback_at) == (
        "open", "callback", agreed, agreed,
    )  # fmt: skip
    assert timeline(task.message)[-1] == (
        "delivered",
        "Anruf: Rückruf vereinbart für 27.11.2026 10:30 – Erika Muster, 25.11.2026 12:00",
    )
    # the call at the agreed time reaches the customer: a note, the status stays
    record_call_outcome(task=task, outcome="reached", user=agent_a)
    assert timeline(task.message)[-1] == (
        "delivered",
        "Anruf: erreicht – Erika Muster, 25.11.2026 12:00",
    )
    assert task.message.status_changes.filter(status="delivered").count() == 2


def test_a_callback_needs_its_time(customer, agent_a):
    task = planned(customer)
    with pytest.raises(ValueError):
        record_call_outcome(task=task, outcome="callback", user=agent_a)


def test_a_wrong_number_is_flagged_not_deleted_and_the_next_channel_follows(customer, agent_a):
    task = planned(customer, channels=("call", "email"))

    record_call_outcome(task=task, outcome="wrong_number", user=agent_a)

    point = task.contact_point
    point.refresh_from_db()
    assert (point.wrong_number, point.bouncing) == (True, True)
    assert customer.contact_points.filter(channel="phone").count() == 2
    task.refresh_from_db()
    assert (task.status, task.outcome) == ("fallback", "wrong_number")
    task.outbound.refresh_from_db()
    assert task.outbound.channel == "email"
    assert dispatch_batch().sent == 1
    assert len(mail.outbox) == 1
    assert timeline(Message.objects.get(pk=task.message_id))[-1][1].startswith(
        "Anruf: falsche Nummer +4915112345678 – weiter mit E-Mail"
    )


def test_a_flagged_number_is_not_called_again(customer, agent_a):
    task = planned(customer, channels=("call", "call"))
    record_call_outcome(task=task, outcome="wrong_number", user=agent_a)
    assert dispatch_batch().sent == 1

    second = CallTask.objects.exclude(pk=task.pk).get()
    assert second.phone == "+49301234567"  # the office number, the mobile is flagged
    assert second.channel_index == 1


def test_a_completed_task_takes_no_second_outcome(customer, agent_a, agent_b):
    task = planned(customer)
    stale = CallTask.objects.get(pk=task.pk)
    record_call_outcome(task=task, outcome="reached", user=agent_a)

    with pytest.raises(CallTaskClosed):
        record_call_outcome(task=stale, outcome="not_reached", user=agent_b)
    task.refresh_from_db()
    assert (task.outcome, task.attempts) == ("reached", 0)


# --- counts and assignment -------------------------------------------------------------------


def test_open_and_overdue_tasks_are_counted_for_the_users_brands(
    customer, agent_a, agent_b, team_lead
):
    first = planned(customer, key="c1")
    planned(customer, key="c2")
    assign_call_task(task=first, assignee=agent_a)

    with time_machine.travel(WEDNESDAY_NOON + dt.timedelta(hours=1), tick=False):
        assert call_task_counts(agent_a) == {"open": 2, "overdue": 2, "mine": 1}
        assert call_task_counts(team_lead) == {"open": 2, "overdue": 2, "mine": 0}
        assert call_task_counts(agent_b) == {"open": 0, "overdue": 0, "mine": 0}
    assert call_task_counts(agent_a)["overdue"] == 0


def test_a_task_is_assigned_only_to_staff_of_its_brand(customer, agent_b):
    task = planned(customer)
    with pytest.raises(ValueError):
        assign_call_task(task=task, assignee=agent_b)
