"""WhatsApp webhooks are processed in batches: a burst of webhooks starts one task, which
claims every waiting delivery and ingests their messages together, exactly as if they
came one by one; what a lost task or a killed worker left is picked up again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from conversations.models import Conversation, Message, WebhookDelivery
from conversations.whatsapp import process_pending, recover_deliveries
from kommunikation.models import WhatsAppNumber
from tests.conftest import NOW
from tests.factories import ContactPointFactory, CustomerFactory
from tests.whatsapp_payloads import (
    CUSTOMER_WA,
    PHONE_NUMBER_ID,
    SECRET,
    body,
    envelope,
    inbound,
    sign,
)

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]
URL = "/webhooks/whatsapp/laderthuis/"


@pytest.fixture
def number(brand_a):
    return WhatsAppNumber.objects.create(
        brand=brand_a, display_number="+31612345679", phone_number_id=PHONE_NUMBER_ID,
        access_token="t", app_secret=SECRET, verify_token="v",
    )  # fmt: skip


@pytest.fixture
def post(client, number, django_capture_on_commit_callbacks):
    """POST a payload; ``run=False`` keeps the after-commit callback (the task's start)
    back, as if the request had answered and the worker not yet begun."""

    def post(payload, *, run: bool = True):
        data = body(payload)
        with django_capture_on_commit_callbacks(execute=run) as callbacks:
            response = client.post(
                URL, data=data, content_type="application/json",
                headers={"X-Hub-Signature-256": sign(data)},
            )  # fmt: skip
        assert response.status_code == 200
        return callbacks

    return post


def text(wamid: str, words: str, *, wa_id: str = CUSTOMER_WA, context: str = "") -> dict:
    message = {"id": wamid, "type": "text", "text": {"body": words}}
    if context:
        message["context"] = {"from": "31612345679", "id": context}
    return envelope(inbound(message, wa_id=wa_id))


def test_a_webhook_behind_a_waiting_one_starts_no_task_of_its_own(post):
    first = post(text("wamid.1", "eins"), run=False)
    post(text("wamid.2", "zwei"))  # its callback runs: an earlier delivery still waits

    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"received"}
    assert not Message.objects.exists()

    first[0]()  # the first delivery's task starts: it takes both

    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"ok"}
    assert sorted(Message.objects.values_list("text", flat=True)) == ["eins", "zwei"]


def test_a_batch_threads_and_dedupes_as_if_the_messages_came_one_by_one(post, brand_a):
    customer = CustomerFactory(brand=brand_a, first_name="Sheena", last_name="Nelson")
    ContactPointFactory(customer=customer, channel="phone", value="+" + CUSTOMER_WA)
    post(text("wamid.A1", "Hallo"), run=False)
    post(text("wamid.A2", "Noch eine Frage"), run=False)
    post(text("wamid.B1", "Ich bin neu", wa_id="4917600000001"), run=False)
    post(text("wamid.B2", "Antwort darauf", wa_id="4917600000001", context="wamid.B1"), run=False)
    duplicate = envelope(inbound({"id": "wamid.A1", "type": "text", "text": {"body": "Hallo"},
                                  "timestamp": "1795604401"}))  # fmt: skip
    post(duplicate, run=False)

    assert process_pending() == 5

    known, new = (
        Conversation.objects.get(customer=customer),
        Conversation.objects.get(counterpart="+4917600000001"),
    )
    assert Conversation.objects.count() == 2
    assert (known.message_count, known.classification) == (2, customer.kind)
    assert sorted(known.messages.values_list("provider_id", flat=True)) == ["wamid.A1", "wamid.A2"]
    assert new.message_count == 2
    assert Message.objects.get(provider_id="wamid.B2").in_reply_to == "wamid.B1"
    assert Message.objects.count() == 4
    assert set(WebhookDelivery.objects.values_list("state", "events")) == {("ok", 1)}


def test_a_batch_of_webhooks_costs_a_handful_of_queries(
    post, django_assert_max_num_queries, brand_a
):
    for i in range(30):
        post(text(f"wamid.Q{i}", f"Frage {i}", wa_id=f"49176000000{i:02d}"), run=False)

    with django_assert_max_num_queries(16):
        assert process_pending() == 30

    assert Message.objects.count() == 30


def test_a_claim_left_by_a_killed_worker_is_taken_up_again(post):
    post(text("wamid.K", "Hallo"), run=False)
    WebhookDelivery.objects.update(
        state="processing", claimed_at=timezone.now() - dt.timedelta(minutes=11)
    )
    fresh = post(text("wamid.F", "Noch da?"), run=False)
    WebhookDelivery.objects.filter(state="received").update(
        state="processing", claimed_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert fresh  # a worker holds this one right now: it is left alone

    recover_deliveries()

    assert sorted(WebhookDelivery.objects.values_list("state", flat=True)) == ["ok", "processing"]
    assert list(Message.objects.values_list("provider_id", flat=True)) == ["wamid.K"]


def test_a_lost_task_does_not_hold_back_later_webhooks(post, time_machine):
    post(text("wamid.L", "verloren"), run=False)  # its task never ran
    time_machine.shift(dt.timedelta(minutes=3))

    post(text("wamid.N", "neu"))

    assert sorted(Message.objects.values_list("provider_id", flat=True)) == ["wamid.L", "wamid.N"]


def test_a_delivery_that_failed_is_processed_again_when_meta_retries(post, number):
    payload = text("wamid.X", "Hallo")
    post(payload, run=False)
    WebhookDelivery.objects.update(state="failed", reason="PostgreSQL war weg")

    post(payload)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.reason) == ("ok", 2, "")
    assert Message.objects.filter(provider_id="wamid.X").exists()
