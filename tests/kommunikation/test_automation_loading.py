"""load_rules / export_rules: seed 002's YAML as printed, the product's format, refusals."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from kommunikation.automation.loading import DEFAULT_FILE, RuleLoadError, load_rules
from kommunikation.automation.models import AutomationRule, RuleStep
from kommunikation.automation.validation import condition_errors
from templates_app.loading import load_library

pytestmark = pytest.mark.django_db

# seed 002 "Status-Based Triggers", copied as printed (the blank lines keep their spaces)
SEED_002 = Path(__file__).parent.parent / "data" / "seed_002_status_triggers.yaml"


@pytest.fixture
def templates(db):
    load_library()


def steps_of(key: str) -> list[RuleStep]:
    return list(AutomationRule.objects.get(key=key).steps.order_by("position"))


def test_seed_002_status_triggers_load_as_printed(templates):
    out = io.StringIO()

    call_command("load_rules", str(SEED_002), stdout=out)

    assert "5 Regeln neu" in out.getvalue()
    rules = {r.key: r for r in AutomationRule.objects.all()}
    assert set(rules) == {
        "status_new_order", "status_quote_sent", "status_scheduled", "status_completed",
        "status_on_hold",
    }  # fmt: skip
    assert (rules["status_completed"].event_type, rules["status_completed"].to_status) == (
        "order.status_changed",
        "completed",
    )
    assert rules["status_scheduled"].event_type == "appointment.scheduled"
    quote = steps_of("status_quote_sent")
    assert [(s.template_key, s.channels, s.timing, s.amount, s.unit) for s in quote] == [
        ("quote_notification", ["email", "sms"], "immediate", 0, "days"),
        ("quote_follow_up", ["email"], "after", 3, "days"),
    ]
    assert quote[1].cancel_on == ["quote_accepted", "customer_replied"]
    reminder = steps_of("status_scheduled")[1]
    assert (reminder.timing, reminder.amount, reminder.unit, reminder.date_field) == (
        "before_date", 1, "days", "starts_at",
    )  # fmt: skip
    survey = steps_of("status_completed")[1]
    assert (survey.template_key, survey.amount, survey.category) == (
        "satisfaction_survey", 7, "feedback",
    )  # fmt: skip
    weekly = steps_of("status_on_hold")[1]
    assert (weekly.amount, weekly.unit, weekly.repeat, weekly.cancel_on) == (
        1, "weeks", 3, ["order_moved_on"],
    )  # fmt: skip


def test_the_default_library_loads_and_a_reload_keeps_admin_edits(templates):
    out = io.StringIO()
    call_command("load_rules", str(DEFAULT_FILE), stdout=out)
    count = AutomationRule.objects.count()
    assert count >= 12
    AutomationRule.objects.filter(key="dunning").update(name="Mahnwesen (angepasst)")

    call_command("load_rules", str(DEFAULT_FILE), stdout=out)

    assert AutomationRule.objects.count() == count
    assert AutomationRule.objects.get(key="dunning").name == "Mahnwesen (angepasst)"
    assert f"0 Regeln neu, 0 ersetzt, {count} unverändert behalten." in out.getvalue()


def test_export_then_load_gives_the_same_rules(templates):
    call_command("load_rules", str(DEFAULT_FILE), stdout=io.StringIO())
    out = io.StringIO()
    call_command("export_rules", stdout=out)
    exported = out.getvalue()

    AutomationRule.objects.all().delete()
    load_rules(yaml.safe_load(exported))

    again = io.StringIO()
    call_command("export_rules", stdout=again)
    assert again.getvalue() == exported
    dunning = next(r for r in yaml.safe_load(exported)["rules"] if r["key"] == "dunning")
    assert dunning["steps"][1] == {
        "template": "dunning_1", "channels": ["email", "letter"], "name": "1. Mahnung",
        "delay": "14_days", "at": "09:00", "cancel_on": ["invoice_paid"],
        "category": "transactional",
    }  # fmt: skip


def test_an_unknown_template_is_refused_with_the_reason(templates):
    document = {"rules": [{"key": "x", "event": "invoice.created",
                           "steps": [{"template": "gibt_es_nicht", "channels": ["email"]}]}]}  # fmt: skip

    with pytest.raises(RuleLoadError) as refused:
        load_rules(document)

    assert refused.value.errors == ["x: steps.0.template_key: Unbekannte Vorlage „gibt_es_nicht“."]
    assert not AutomationRule.objects.exists()


def test_a_template_needing_variables_the_event_type_lacks_is_refused(templates):
    # the payment reminder reads new_due_date; invoice.created has none
    document = {"rules": [{"key": "x", "event": "invoice.created",
                           "steps": [{"template": "payment_reminder", "channels": ["email"]}]}]}  # fmt: skip

    with pytest.raises(RuleLoadError) as refused:
        load_rules(document)

    errors = refused.value.errors
    assert len(errors) == 3  # one per language, each with the first problem
    assert all("braucht, was invoice.created nicht bietet" in e for e in errors)
    assert "Zeile 4: Unbekannte Variable „new_due_date“" in errors[0]


def test_a_channel_without_that_template_is_refused(templates):
    document = {"rules": [{"key": "x", "event": "invoice.created",
                           "steps": [{"template": "invoice_issued", "channels": ["sms"]}]}]}  # fmt: skip

    with pytest.raises(RuleLoadError, match="gibt es nicht für sms"):
        load_rules(document)


def test_the_command_explains_a_bad_file(templates, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "status_triggers:\n  new_order:\n    template: order_confirmation\n    delay: soon\n"
    )

    with pytest.raises(CommandError, match="„soon“ ist keine Dauer"):
        call_command("load_rules", str(path))


def test_condition_lists_are_checked_with_clear_errors():
    assert condition_errors([{"field": "payload.amount", "op": ">=", "value": 100}]) == []
    assert condition_errors([
        {"field": "customer.shoe_size", "op": "equals", "value": 1},
        {"field": "payload.amount", "op": "about", "value": 1},
        {"field": "customer.segment", "op": "in", "value": "A"},
        {"field": "payload.x", "op": "exists", "value": True},
    ]) == [
        "Bedingung 1: unbekanntes Feld „customer.shoe_size“ (brand, customer.<kind|segment|"
        "value_tier|activity|language|vip|is_company|country|number|owner>, payload.NAME, "
        "record.status).",
        "Bedingung 2: unbekannter Vergleich „about“, erlaubt: equals, not_equals, in, not_in, "
        ">=, <=, >, <, exists, missing, contains_any, matches.",
        "Bedingung 3: in braucht eine Liste.",
        "Bedingung 4: exists braucht keinen Wert.",
    ]  # fmt: skip
