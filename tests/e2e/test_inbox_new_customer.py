"""Unknown senders become customers from the classification dialog (k, 1, Ctrl+Enter,
adjust, Enter), by mouse too; the customer page edits contact data and warns of duplicates."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conversations.models import ClassificationChange
from kommunikation.models import Customer
from tests.conftest import login
from tests.factories import (
    ContactPointFactory,
    ConversationFactory,
    CustomerFactory,
    MessageFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# set to a folder to keep screenshots of the dialog (1366x768), e.g. /tmp/shots
SHOTS = os.environ.get("SCREENSHOTS_DIR", "")


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"customers-{name}.png"))


@pytest.fixture
def unknown(brand_a):
    """Two first contacts: a person and a company."""
    now = timezone.now()
    person = ConversationFactory(
        brand=brand_a,
        subject="Angebot Wallbox für die Garage",
        counterpart="anna.huber@example.de",
        counterpart_name="Anna Huber",
        last_message_at=now,
    )
    MessageFactory(conversation=person, text="Was kostet eine Wallbox mit Montage?")
    company = ConversationFactory(
        brand=brand_a,
        subject="Lieferung KW 49",
        counterpart="dispo@huber-bau.example",
        counterpart_name="Huber Bau GmbH",
        last_message_at=now - dt.timedelta(minutes=5),
    )
    MessageFactory(conversation=company, text="Die Lieferung kommt am Donnerstag.")
    return person, company


def test_k_1_ctrl_enter_adjust_enter_creates_and_classifies(page, agent_a, unknown):
    person, _company = unknown
    page.set_viewport_size({"width": 1366, "height": 768})
    login(page, agent_a)
    page.goto("/")

    page.keyboard.press("ArrowDown")
    expect(page.locator("#conv")).to_have_attribute("data-id", str(person.pk))
    page.keyboard.press("k")
    page.keyboard.press("1")
    expect(page.locator("#customer-search")).to_be_focused()
    # the last entry of the (empty) hit list offers the new customer, pre-selected
    expect(page.locator("#customer-options li.option-new")).to_contain_text("Neuen Kunden anlegen")
    _shot(page, "after-picker")
    page.keyboard.press("Control+Enter")

    expect(page.locator("#new-customer")).to_be_visible()
    expect(page.locator("#customer-picker")).to_be_hidden()
    expect(page.locator("#id_neu-first_name")).to_be_focused()
    expect(page.locator("#id_neu-first_name")).to_have_value("Anna")
    expect(page.locator("#id_neu-last_name")).to_have_value("Huber")
    expect(page.locator("#id_neu-email")).to_have_value("anna.huber@example.de")
    _shot(page, "after-form")
    page.keyboard.press("Tab")
    page.keyboard.press("End")
    page.keyboard.type("-Meier")
    page.keyboard.press("Enter")

    expect(page.locator("#notice")).to_contain_text(
        "Neu angelegt und als Kunde klassifiziert: Anna Huber-Meier"
    )
    expect(page.locator("#classify-dialog")).to_be_hidden()
    customer = Customer.objects.get()
    assert (customer.brand_id, customer.kind, customer.last_name) == (
        person.brand_id, "customer", "Huber-Meier",
    )  # fmt: skip
    assert list(customer.contact_points.values_list("value", flat=True)) == [
        "anna.huber@example.de"
    ]
    person.refresh_from_db()
    assert (person.classification, person.customer_id) == ("customer", customer.pk)
    assert ClassificationChange.objects.get(conversation=person).changed_by == agent_a
    expect(page.locator(f"#row-{person.pk} .badge").first).to_have_text("Kunde")


def test_by_mouse_a_new_supplier_from_the_hit_list(page, agent_a, unknown):
    _person, company = unknown
    login(page, agent_a)
    page.goto(f"/konversationen/{company.pk}/")

    page.get_by_role("button", name=re.compile("Klassifizieren")).first.click()
    page.locator("#classify-form .types label", has_text="Lieferant").click()
    page.locator("#customer-search").fill("Huber")
    expect(page.locator("#customer-options li.none")).to_have_text("Kein Treffer.")
    page.locator("#customer-options li.option-new").click()

    expect(page.locator("#id_neu-is_company")).to_have_value("company")
    expect(page.locator("#id_neu-company_name")).to_have_value("Huber Bau GmbH")
    page.locator("#id_neu-phone").fill("089 1234567")
    page.locator("#classify-form button[type=submit]").click()

    expect(page.locator("#notice")).to_contain_text(
        "Neu angelegt und als Lieferant klassifiziert: Huber Bau GmbH"
    )
    supplier = Customer.objects.get()
    assert (supplier.kind, supplier.is_company, supplier.company_name) == (
        "supplier", True, "Huber Bau GmbH",
    )  # fmt: skip
    assert sorted(supplier.contact_points.values_list("value", flat=True)) == [
        "+49891234567", "dispo@huber-bau.example",
    ]  # fmt: skip


def test_the_customer_search_hides_for_intern_newsletter_werbung(page, agent_a, unknown):
    person, _company = unknown
    login(page, agent_a)
    page.goto(f"/konversationen/{person.pk}/")

    page.keyboard.press("k")
    page.keyboard.press("1")
    expect(page.locator("#customer-search")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("k")
    page.keyboard.press("4")

    expect(page.locator("#customer-picker")).to_be_hidden()
    expect(page.locator("#customer-search")).to_be_hidden()


def test_a_bulk_change_refreshes_the_open_conversations_header(page, agent_a, unknown):
    person, _company = unknown
    login(page, agent_a)
    page.goto(f"/konversationen/{person.pk}/")
    expect(page.locator("#conv .conv-head .badge").first).to_have_text("ohne Klassifizierung")

    page.get_by_role("button", name="Alle Treffer").click()
    page.keyboard.press("5")
    expect(page.locator("#classify-count")).to_contain_text("2 Konversationen")
    page.keyboard.press("Enter")

    expect(page.locator("#notice")).to_contain_text("2 Konversationen als Werbung klassifiziert")
    expect(page.locator("#conv .conv-head .badge").first).to_have_text("Werbung")


def test_the_customer_page_edits_contact_data_and_refuses_a_duplicate(page, agent_a, brand_a):
    anna = CustomerFactory(brand=brand_a, first_name="Anna", last_name="Huber", number="K-1")
    ContactPointFactory(customer=anna, value="anna@huber-bau.example")
    max_ = CustomerFactory(brand=brand_a, first_name="Max", last_name="Bauer", number="K-2")
    ContactPointFactory(customer=max_, value="max@huber-bau.example")
    login(page, agent_a)
    page.goto(f"/kunden/{max_.pk}/")

    # the same company domain: a warning with a link
    expect(page.locator(".duplicates")).to_contain_text("Mögliche Dublette:")
    expect(page.locator(".duplicates a")).to_have_attribute("href", f"/kunden/{anna.pk}/")

    page.locator(".contact-edit > summary").click()
    form = page.locator(".contact-point-form")
    form.locator("[name=value]").fill("Anna@Huber-Bau.example")
    form.get_by_role("button", name="Hinzufügen").click()
    expect(page.locator("#contact .error")).to_contain_text("gehört schon zu Anna Huber (K-1)")
    expect(page.locator("#contact .error a")).to_have_attribute("href", f"/kunden/{anna.pk}/")
    assert max_.contact_points.count() == 1

    form = page.locator(".contact-point-form")
    form.locator("[name=channel]").select_option("phone")
    form.locator("[name=value]").fill("0171 2345678")
    form.locator("[name=type]").select_option("mobile")
    form.get_by_role("button", name="Hinzufügen").click()
    expect(page.locator("#contact [role=status]")).to_contain_text("+491712345678 hinzugefügt.")
    expect(page.locator("#contact dl")).to_contain_text("+491712345678")

    page.locator(".contact-edit > summary").click()
    data = page.locator(".contact-data-form")
    data.locator("[name=last_name]").fill("Bauer-Huber")
    data.get_by_role("button", name="Kontaktdaten speichern").click()
    expect(page.locator("#contact [role=status]")).to_contain_text("Kontaktdaten gespeichert.")
    max_.refresh_from_db()
    assert max_.last_name == "Bauer-Huber"
