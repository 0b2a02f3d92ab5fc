"""The gate: suppression, consent, preferences, caps and the duplicate rule, quiet hours."""

from __future__ import annotations

import datetime as dt

import pytest

from compliance.gate import DEFER, REFUSE, SEND, decide
from compliance.models import Consent
from compliance.services import Actor, record_consent, suppress_address, update_preferences
from tests.compliance.conftest import berlin

NOON = berlin(2026, 6, 3, 12, 0)
STAFF = Actor(label="Test")


def grant(customer, purpose="marketing", channel="email"):
    return record_consent(
        customer=customer, purpose=purpose, channel=channel, state=Consent.State.GRANTED,
        source=Consent.Source.IMPORT, actor=STAFF,
    )  # fmt: skip


def ask(customer, history, *, category="marketing", channel="email", template_key="news",
        at=NOON, address="anna@kunde.example"):  # fmt: skip
    return decide(
        customer=customer, address=address, channel=channel, category=category,
        template_key=template_key, at=at, history=history,
    )  # fmt: skip


def test_a_transactional_email_needs_no_consent(customer, history):
    assert ask(customer, history, category="transactional").kind == SEND
    assert ask(customer, history, category="service").kind == SEND


@pytest.mark.parametrize("category", ["marketing", "relationship", "feedback"])
def test_promotional_messages_need_consent_for_purpose_and_channel(customer, history, category):
    decision = ask(customer, history, category=category)
    assert decision.kind == REFUSE
    assert "Keine Einwilligung" in decision.reason
    grant(customer, purpose=category, channel="sms")  # the wrong channel does not count
    assert ask(customer, history, category=category).kind == REFUSE
    grant(customer, purpose=category, channel="email")
    assert ask(customer, history, category=category).kind == SEND


def test_a_withdrawn_consent_refuses(customer, history):
    grant(customer)
    record_consent(
        customer=customer, purpose="marketing", channel="email",
        state=Consent.State.WITHDRAWN, source=Consent.Source.UNSUBSCRIBE, actor=STAFF,
    )  # fmt: skip
    decision = ask(customer, history)
    assert decision.kind == REFUSE
    assert "widerrufen" in decision.reason


def test_a_pending_double_opt_in_is_no_consent(customer, history):
    record_consent(
        customer=customer, purpose="marketing", channel="email",
        state=Consent.State.PENDING, source=Consent.Source.WEB_FORM, actor=STAFF,
    )  # fmt: skip
    assert ask(customer, history).kind == REFUSE


def test_a_hard_bounce_refuses_even_an_invoice(customer, history):
    suppress_address(channel="email", value="Anna@Kunde.example", reason="hard_bounce", actor=STAFF)
    decision = ask(customer, history, category="transactional")
    assert decision.kind == REFUSE
    assert "Sperrliste" in decision.reason


def test_an_unsubscribed_address_still_gets_invoices(customer, history):
    grant(customer)
    suppress_address(
        channel="email", value="anna@kunde.example", reason="unsubscribed", actor=STAFF
    )
    assert ask(customer, history).kind == REFUSE
    assert ask(customer, history, category="transactional").kind == SEND


def test_a_preference_off_refuses_that_category_on_that_channel(customer, history):
    update_preferences(
        customer=customer, wanted={("email", "service"): False}, actor=STAFF, source="staff"
    )
    decision = ask(customer, history, category="service")
    assert decision.kind == REFUSE
    assert "möchte" in decision.reason
    assert (
        ask(customer, history, category="service", channel="sms", address="+4915112345678").kind
        == SEND
    )


def test_three_promotional_emails_a_week_then_refused(customer, history):
    grant(customer)
    for days_ago in (6, 4, 1):
        history.add(customer, "email", f"t{days_ago}", NOON - dt.timedelta(days=days_ago))
    decision = ask(customer, history)
    assert decision.kind == REFUSE
    assert "Frequenzgrenze" in decision.reason


def test_sends_older_than_seven_days_do_not_count(customer, history):
    grant(customer)
    history.add(customer, "email", "a", NOON - dt.timedelta(days=7, minutes=1))
    history.add(customer, "email", "b", NOON - dt.timedelta(days=3))
    history.add(customer, "email", "c", NOON - dt.timedelta(days=2))
    assert ask(customer, history).kind == SEND


def test_two_sms_a_week_then_refused(customer, history):
    grant(customer, channel="sms")
    history.add(customer, "sms", "a", NOON - dt.timedelta(days=2))
    assert ask(customer, history, channel="sms", address="+4915112345678").kind == SEND
    history.add(customer, "sms", "b", NOON - dt.timedelta(days=1))
    assert ask(customer, history, channel="sms", address="+4915112345678").kind == REFUSE


def test_the_same_template_twice_within_24_hours_is_refused(customer, history):
    grant(customer)
    history.add(customer, "email", "news", NOON - dt.timedelta(hours=23, minutes=59))
    decision = ask(customer, history)
    assert decision.kind == REFUSE
    assert "24 Stunden" in decision.reason
    assert ask(customer, history, at=NOON + dt.timedelta(minutes=1)).kind == SEND


def test_caps_do_not_apply_to_transactional_messages(customer, history):
    for hours in (1, 2, 3, 4):
        history.add(customer, "email", "invoice", NOON - dt.timedelta(hours=hours))
    assert ask(customer, history, category="transactional", template_key="invoice").kind == SEND


def test_caps_are_configurable(customer, history, settings):
    settings.COMPLIANCE_WEEKLY_CAPS = {"email": 1}
    grant(customer)
    history.add(customer, "email", "x", NOON - dt.timedelta(days=1))
    assert ask(customer, history).kind == REFUSE


def test_quiet_hours_defer_an_sms_with_the_time_in_the_reason(customer, history):
    decision = ask(
        customer, history, category="transactional", channel="sms",
        address="+4915112345678", at=berlin(2026, 6, 3, 21, 30),
    )  # fmt: skip
    assert decision.kind == DEFER
    assert decision.until == berlin(2026, 6, 4, 8, 0)
    assert "04.06.2026 08:00" in decision.reason


def test_a_refusal_wins_over_a_deferral(customer, history):
    decision = ask(customer, history, channel="sms", address="+49151", at=berlin(2026, 6, 3, 23))
    assert decision.kind == REFUSE


def test_without_a_customer_only_contract_messages_go(db, history):
    assert ask(None, history, category="transactional").kind == SEND
    assert ask(None, history, category="marketing").kind == REFUSE
