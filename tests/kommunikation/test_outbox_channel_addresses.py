"""A rule's address choice holds for every channel of a step, the fallbacks included:
the outbox row keeps the address per channel and the dispatch falls back to it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from kommunikation.automation.engine import run_rules
from kommunikation.dispatch import dispatch_batch
from kommunikation.models import OutboundMessage
from kommunikation.outbox import enqueue_outbound
from templates_app.loading import load_library
from tests.factories import ContactPointFactory

from .automation_helpers import BERLIN, event, rule

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 2, 18, 10, 0, tzinfo=BERLIN)
PAYMENT = {"invoice_number": "RE-1", "amount": "10", "payment_date": "2026-02-18"}


@pytest.fixture
def world(time_machine, customer, settings):
    time_machine.move_to(NOW, tick=False)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    load_library()
    # anna@kunde.example (work, the first) is what the dispatch takes by default
    customer.contact_points.update(type="work")
    ContactPointFactory(customer=customer, channel="email", value="anna@privat.example",
                        type="private", position=1)  # fmt: skip
    ContactPointFactory(customer=customer, channel="phone", value="+4915112345678",
                        type="private", position=0)  # fmt: skip
    return customer


def test_a_fallback_goes_to_the_address_the_rule_chose_for_that_channel(world):
    # no SMS adapter yet: the SMS cannot be sent and the row falls back to email
    rule("thanks", "payment.received", {"template_key": "payment_received",
         "channels": ["sms", "email"]}, address_type="private")  # fmt: skip
    run_rules(event(world.brand, world, "payment.received", PAYMENT, record_id="i1").pk)
    row = OutboundMessage.objects.get()
    assert row.addresses == {"sms": "+4915112345678", "email": "anna@privat.example"}

    first = dispatch_batch()
    row.refresh_from_db()
    assert first.fallback == 1
    assert (row.status, row.channel) == ("queued", "email")
    assert "weiter mit email" in row.last_error

    dispatch_batch()

    row.refresh_from_db()
    assert row.status == "sent"
    assert row.recipient == "anna@privat.example"
    [sent] = mail.outbox
    assert sent.to == ["anna@privat.example"]  # not anna@kunde.example, the default


def test_a_row_without_addresses_falls_back_to_the_customers_default(world):
    row = enqueue_outbound(
        brand=world.brand, customer=world, channels=["sms", "email"], category="transactional",
        idempotency_key="no-addresses", source="system", text="Hallo", trigger=False,
    )  # fmt: skip
    assert row.addresses == {}

    dispatch_batch()
    dispatch_batch()

    row.refresh_from_db()
    assert (row.status, row.recipient) == ("sent", "anna@kunde.example")


def test_addresses_for_channels_the_row_does_not_use_are_not_kept(world):
    row = enqueue_outbound(
        brand=world.brand, customer=world, channels=["email"], category="transactional",
        idempotency_key="only-email", source="system", text="Hallo", trigger=False,
        addresses={"email": "anna@privat.example", "sms": "+4915112345678", "letter": ""},
    )  # fmt: skip

    assert row.addresses == {"email": "anna@privat.example"}
