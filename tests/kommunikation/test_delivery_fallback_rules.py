"""A rule's fallback wait (issue 11 §7): planned from the default library, loaded from and
written to YAML (``fallback_after: 1h``), edited in the admin, nonsense refused at save; a
fallback attempt still answers to its rule's cancel conditions."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from kommunikation.automation.engine import run_rules
from kommunikation.automation.loading import (
    DEFAULT_FILE,
    RuleLoadError,
    export_rules,
    load_rules,
    load_rules_file,
)
from kommunikation.automation.models import AutomationRule, PlannedStep
from kommunikation.dispatch import dispatch_batch
from kommunikation.fallback import fallback_undelivered
from kommunikation.models import OutboundMessage, WhatsAppNumber
from kommunikation.roles import ADMIN
from templates_app.loading import LIBRARY_DIR, load_library
from tests.conftest import NOW
from tests.factories import ContactPointFactory, CustomerFactory, UserFactory
from tests.kommunikation.automation_helpers import event
from tests.kommunikation.test_automation_admin import URL as ADD_RULE
from tests.kommunikation.test_automation_admin import form as rule_form
from tests.templates_app.conftest import make_template
from tests.whatsapp_payloads import PHONE_NUMBER_ID
from tests.whatsapp_payloads import sent as wa_sent

pytestmark = pytest.mark.django_db
BERLIN = NOW.tzinfo


def rule_doc(**step) -> dict:
    return {
        "rules": [
            {
                "key": "versand",
                "event": "order.created",
                "category": "service",
                "steps": [{"template": "order_news", "channels": ["whatsapp", "sms"], **step}],
            }
        ]
    }


@pytest.fixture
def templates(db):
    for channel, content in (
        ("whatsapp", {"whatsapp_name": "auftrag", "whatsapp_params": ["{{ order_number }}"],
                      "text": "Auftrag {{ order_number }} ist angelegt."}),
        ("sms", {"sms_text": "Auftrag {{ order_number }} ist angelegt."}),
        ("email", {"subject": "Auftrag {{ order_number }}",
                   "text": "Ihr Auftrag {{ order_number }} ist angelegt."}),
    ):  # fmt: skip
        make_template(key="order_news", channel=channel, category="service", **content)


@pytest.mark.parametrize(
    ("written", "wait", "exported"),
    [
        ("1h", dt.timedelta(hours=1), "1h"),
        ("30m", dt.timedelta(minutes=30), "30m"),
        ("90_minutes", dt.timedelta(minutes=90), "90m"),
        ("2d", dt.timedelta(days=2), "2d"),
        ("1_hour", dt.timedelta(hours=1), "1h"),
    ],
)
def test_yaml_gives_the_wait_and_export_writes_it_back(templates, written, wait, exported):
    load_rules(rule_doc(fallback_after=written))

    step = AutomationRule.objects.get(key="versand").steps.get()
    assert step.fallback_after == wait
    [rule] = yaml.safe_load(export_rules())["rules"]
    assert rule["steps"][0]["fallback_after"] == exported
    load_rules(yaml.safe_load(export_rules()), replace=True)
    assert AutomationRule.objects.get(key="versand").steps.get().fallback_after == wait


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"fallback_after": "2m"}, "Zwischen 5 Minuten und 30 Tagen"),
        ({"fallback_after": "40d"}, "Zwischen 5 Minuten und 30 Tagen"),
        ({"fallback_after": "bald"}, "„bald“ ist keine Wartezeit"),
        ({"fallback_after": "1h", "channels": ["whatsapp"]}, "Mindestens zwei Kanäle"),
        ({"fallback_after": "1h", "mode": "all"}, "Nur bei „in Reihenfolge, mit Ausweichkanal“"),
    ],
)
def test_a_nonsensical_wait_is_refused_with_the_reason_and_nothing_loads(templates, step, message):
    with pytest.raises(RuleLoadError) as refused:
        load_rules(rule_doc(**step))

    assert message in str(refused.value)
    assert not AutomationRule.objects.exists()


def test_the_admin_edits_the_wait_and_refuses_one_of_seconds(brand_a, client):
    load_library([LIBRARY_DIR / "invoices.yaml"])
    make_template(key="payment_received", channel="sms", event_type="payment.received",
                  sms_text="Danke für Ihre Zahlung.")  # fmt: skip
    client.force_login(
        UserFactory(username="alex.admin", brands=[brand_a], roles=[ADMIN], is_staff=True)
    )
    data = rule_form(brand_a, "payment_received")
    data["steps-0-channels"] = '["email", "sms"]'

    refused = client.post(ADD_RULE, {**data, "steps-0-fallback_after": "00:01:00"})

    assert refused.status_code == 200
    assert "Zwischen 5 Minuten und 30 Tagen" in refused.content.decode()
    assert not AutomationRule.objects.exists()

    saved = client.post(ADD_RULE, {**data, "steps-0-fallback_after": "01:00:00"})

    assert saved.status_code == 302, saved.context["errors"]
    assert AutomationRule.objects.get().steps.get().fallback_after == dt.timedelta(hours=1)


def test_the_default_library_falls_back_from_the_t_2h_whatsapp_to_sms_after_30_minutes(
    brand_a, time_machine
):
    time_machine.move_to(NOW, tick=False)
    load_library()
    load_rules_file(DEFAULT_FILE)
    customer = CustomerFactory(brand=brand_a, email="anna@kunde.example")
    ContactPointFactory(customer=customer, channel="phone", value="+4915112345678", type="mobile")
    starts = (NOW + dt.timedelta(days=3)).replace(hour=14)
    payload = {"starts_at": starts.isoformat(), "installer_team": "Team Nord", "phone": "020-1"}

    run_rules(
        event(brand_a, customer, "appointment.scheduled", payload, record_id="a1", version="1").pk
    )

    row = OutboundMessage.objects.get(template_key="appointment_reminder_2h")
    assert (row.channels, row.fallback_after) == (["whatsapp", "sms"], dt.timedelta(minutes=30))
    assert row.addresses == {"whatsapp": "+4915112345678", "sms": "+4915112345678"}


def test_a_fallback_attempt_answers_to_its_rules_cancel_conditions(
    brand_a, templates, settings, httpserver, time_machine
):
    time_machine.move_to(NOW, tick=False)
    settings.WHATSAPP_GRAPH_URL = httpserver.url_for("").rstrip("/")
    settings.WHATSAPP_API_VERSION = "v23.0"
    httpserver.expect_request(f"/v23.0/{PHONE_NUMBER_ID}/messages").respond_with_json(
        wa_sent("wamid.RULE")
    )
    WhatsAppNumber.objects.create(
        brand=brand_a, display_number="+31612345679", phone_number_id=PHONE_NUMBER_ID,
        access_token="t", app_secret="s", verify_token="v",
    )  # fmt: skip
    load_rules(rule_doc(fallback_after="1h", channels=["whatsapp", "sms", "email"],
                        cancel_on=["order_moved_on"]))  # fmt: skip
    customer = CustomerFactory(brand=brand_a, email="anna@kunde.example")
    ContactPointFactory(customer=customer, channel="phone", value="+4915112345678", type="mobile")
    payload = {"order_number": "CC-1", "order_date": "2026-11-25", "order_total": "10.00",
               "order_status_friendly": "neu", "items": [], "status": "new"}  # fmt: skip
    run_rules(event(brand_a, customer, "order.created", payload, record_id="o1", kind="order").pk)
    row = OutboundMessage.objects.get()
    dispatch_batch()
    row.refresh_from_db()
    assert (row.status, row.fallback_due_at) == ("sent", NOW + dt.timedelta(hours=1))

    # the order moved on before the hour was over: the SMS it would fall back to is unwanted
    moved = {**payload, "status": "completed"}
    later = event(brand_a, customer, "order.status_changed", moved, record_id="o1", version="2",
                  kind="order")  # fmt: skip
    run_rules(later.pk)
    time_machine.shift(dt.timedelta(hours=1))
    fallback_undelivered()
    dispatch_batch()

    attempt = row.fallbacks.get()
    attempt.refresh_from_db()
    assert attempt.status == "cancelled"
    assert attempt.last_error.startswith("Auftrag weiter im Ablauf")
    assert PlannedStep.objects.get(outbound=row).state == "cancelled"
