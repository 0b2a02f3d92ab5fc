"""Completing a call task in the browser: by keyboard (nicht erreicht, then erreicht) and by
mouse (Rückruf vereinbart with its date and time); the thread shows each outcome."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kommunikation.calls.models import CallTask
from kommunikation.dispatch import dispatch_batch
from kommunikation.outbox import enqueue_outbound
from tests.conftest import login
from tests.factories import ContactPointFactory, CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCRIPT = "Anruf bei Sheena Nelson zum Angebot AN-7. Fragen: Passt das Angebot?"


@pytest.fixture
def call_task(brand_a, settings):
    settings.COMPLIANCE_SEND_WINDOWS = {}  # any hour of the test run, for the gate and the task
    customer = CustomerFactory(brand=brand_a, first_name="Sheena", last_name="Nelson")
    ContactPointFactory(customer=customer, channel="phone", value="0151 12345678", type="mobile")
    enqueue_outbound(
        brand=brand_a, channels=["call", "email"], category="service", idempotency_key="e2e-call",
        source="rule", customer=customer, subject="Angebot AN-7", text=SCRIPT, trigger=False,
    )  # fmt: skip
    assert dispatch_batch().sent == 1
    return CallTask.objects.get()


def test_a_call_task_is_completed_by_keyboard(page, agent_a, call_task):
    login(page, agent_a)
    page.goto("/")
    page.get_by_role("link", name=re.compile("Aufgaben")).click()

    task = page.locator(f"#task-{call_task.pk}")
    expect(task.locator("a.tel")).to_have_attribute("href", "tel:+4915112345678")
    expect(task).to_contain_text("+49 1511 2345678")
    expect(task).to_contain_text("Versuch 1 von 3")

    page.keyboard.press("j")
    expect(task).to_be_focused()
    page.keyboard.press("2")  # nicht erreicht: the next attempt is planned

    expect(task).to_contain_text("Versuch 2 von 3")
    expect(page.locator("#notice")).to_contain_text("nicht erreicht")
    expect(task).to_be_focused()
    page.keyboard.press("1")  # erreicht

    expect(task).to_have_class(re.compile("is-done"))
    expect(task.locator(".task-result")).to_contain_text("erreicht")
    expect(page.locator("#call-counts")).to_contain_text("0 offene Anrufe")
    call_task.refresh_from_db()
    assert (call_task.status, call_task.outcome, call_task.attempts) == ("done", "reached", 1)
    assert call_task.last_call_by == agent_a

    # the thread shows both outcomes, with who and when
    task.get_by_role("link", name="Verlauf öffnen").click()
    entry = page.locator(f"#msg-{call_task.message_id}")
    expect(entry.locator("header .msg-status")).to_have_text("zugestellt")
    thread = page.locator(".thread")
    expect(thread).to_contain_text("Anruf: nicht erreicht (Versuch 1 von 3)")
    expect(thread).to_contain_text("Anruf: erreicht – Erika Muster")


def test_a_call_back_is_agreed_with_the_mouse(page, agent_a, call_task):
    agreed = timezone.localdate() + dt.timedelta(days=2)
    login(page, agent_a)
    page.goto("/aufgaben/")

    task = page.locator(f"#task-{call_task.pk}")
    task.get_by_label("Rückruf am").fill(agreed.strftime("%d.%m.%Y"))
    task.get_by_label("um", exact=True).fill("14:30")
    task.get_by_role("button", name=re.compile("Rückruf vereinbart")).click()

    expect(task).to_contain_text("Rückruf vereinbart")
    expect(task.locator(".due")).to_contain_text(f"{agreed:%d.%m.%Y} 14:30")
    call_task.refresh_from_db()
    assert (call_task.status, call_task.outcome) == ("open", "callback")
    assert timezone.localtime(call_task.due_at).strftime("%d.%m.%Y %H:%M") == (
        f"{agreed:%d.%m.%Y} 14:30"
    )


def test_a_callback_without_its_time_is_refused_visibly(page, agent_a, call_task):
    login(page, agent_a)
    page.goto("/aufgaben/")

    page.locator(f"#task-{call_task.pk}").get_by_role(
        "button", name=re.compile("Rückruf vereinbart")
    ).click()

    expect(page.locator("#task-errors")).to_contain_text("Datum und Uhrzeit")
    call_task.refresh_from_db()
    assert call_task.outcome == ""
