"""Rules in the admin: an Admin of a brand creates one; a bad template is refused with the
reason; a Team-Lead reads but cannot change; rules for all brands stay read-only."""

from __future__ import annotations

import pytest

from kommunikation.automation.models import AutomationRule
from kommunikation.roles import ADMIN, TEAM_LEAD
from templates_app.loading import LIBRARY_DIR, load_library
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/admin/kommunikation/automationrule/add/"


def form(brand, template: str) -> dict:
    return {
        "brand": brand.pk, "key": "danke", "name": "Danke", "active": "on",
        "event_type": "payment.received", "from_status": "", "to_status": "",
        "conditions": "[]", "category": "transactional", "priority": "2",
        "purpose": "support", "address_type": "auto", "address_position": "first",
        "auto_reply": "", "reply_window_hours": "24", "steps-0-action": "send",
        "steps-0-assign_to": "", "steps-0-assign_user": "", "steps-0-set_priority": "",
        "steps-0-tags": "[]",
        "steps-TOTAL_FORMS": "1", "steps-INITIAL_FORMS": "0", "steps-MIN_NUM_FORMS": "1",
        "steps-MAX_NUM_FORMS": "1000", "steps-0-position": "0", "steps-0-name": "",
        "steps-0-template_key": template, "steps-0-channels": '["email"]',
        "steps-0-channel_mode": "fallback", "steps-0-category": "", "steps-0-timing": "immediate",
        "steps-0-amount": "0", "steps-0-unit": "days", "steps-0-date_field": "",
        "steps-0-at_time": "", "steps-0-weekday": "", "steps-0-repeat": "0",
        "steps-0-cancel_on": "[]",
    }  # fmt: skip


@pytest.fixture
def admin_a(brand_a, client):
    load_library([LIBRARY_DIR / "invoices.yaml"])
    user = UserFactory(username="alex.admin", brands=[brand_a], roles=[ADMIN], is_staff=True)
    client.force_login(user)
    return user


def test_an_admin_creates_a_rule_for_their_brand(admin_a, brand_a, client):
    response = client.post(URL, form(brand_a, "payment_received"))

    assert response.status_code == 302, response.context["errors"]
    rule = AutomationRule.objects.get()
    assert (rule.brand, rule.steps.get().template_key) == (brand_a, "payment_received")


def test_an_unknown_template_is_refused_at_save_with_the_reason(admin_a, brand_a, client):
    response = client.post(URL, form(brand_a, "gibt_es_nicht"))

    assert response.status_code == 200
    assert "Unbekannte Vorlage „gibt_es_nicht“." in response.content.decode()
    assert not AutomationRule.objects.exists()


def test_a_template_lacking_variables_is_refused_at_save(admin_a, brand_a, client):
    response = client.post(URL, form(brand_a, "payment_reminder"))

    assert response.status_code == 200
    assert "braucht, was payment.received nicht bietet" in response.content.decode()


def test_a_team_lead_reads_rules_and_a_rule_for_all_brands_is_read_only(brand_a, client):
    rule = AutomationRule.objects.create(
        key="alle", name="Für alle", event_type="payment.received", category="transactional"
    )
    lead = UserFactory(username="tl", brands=[brand_a], roles=[TEAM_LEAD], is_staff=True)
    client.force_login(lead)

    assert client.get("/admin/kommunikation/automationrule/").status_code == 200
    assert client.post(URL, {}).status_code == 403
    page = client.get(f"/admin/kommunikation/automationrule/{rule.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
