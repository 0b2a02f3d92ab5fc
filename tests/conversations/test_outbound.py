"""conversations.outbound: the one writer of outbound thread entries and status timelines."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from conversations.models import Conversation, StatusChange
from conversations.outbound import Outbound, record_outbound, record_sent, record_status
from tests.conftest import NOW
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory

pytestmark = pytest.mark.django_db


def sent_sms(customer, *, subject="", topic="invoice.created", at=None, **extra) -> Outbound:
    return Outbound(
        brand=customer.brand,
        customer=customer,
        channel="sms",
        recipient="+4917112345678",
        subject=subject,
        topic=topic,
        text="Ihre Rechnung ist da.",
        sent_at=at or timezone.now(),
        **extra,
    )


def timeline(message) -> list[str]:
    return list(
        StatusChange.objects.filter(message=message)
        .order_by("at", "id")
        .values_list("status", flat=True)
    )


@pytest.fixture
def anna(brand_a):
    return CustomerFactory(brand=brand_a, first_name="Anna", email="anna@kunde.example")


@time_machine.travel(NOW, tick=False)
def test_a_first_message_starts_a_closed_thread_with_queued_and_sent(anna):
    message = record_outbound(sent_sms(anna, queued_at=NOW - dt.timedelta(minutes=5)))

    conversation = message.conversation
    assert (conversation.status, conversation.unread, conversation.message_count) == (
        "closed", False, 1,
    )  # fmt: skip
    assert (conversation.channel, conversation.customer, conversation.subject_key) == (
        "sms", anna, "invoice.created",
    )  # fmt: skip
    assert (message.direction, message.status, message.to) == ("out", "sent", ["+4917112345678"])
    assert timeline(message) == ["queued", "sent"]


@time_machine.travel(NOW, tick=False)
def test_the_same_topic_within_the_window_joins_the_thread_and_later_starts_a_new_one(
    anna, settings
):
    settings.THREADING_SUBJECT_WINDOW_DAYS = 14
    first = record_outbound(sent_sms(anna, at=NOW - dt.timedelta(days=20)))
    second = record_outbound(sent_sms(anna, at=NOW - dt.timedelta(days=10)))
    third = record_outbound(sent_sms(anna, at=NOW))
    other_topic = record_outbound(sent_sms(anna, topic="order.shipped"))

    assert second.conversation_id == first.conversation_id
    assert third.conversation_id == first.conversation_id  # the window slides with the thread
    assert other_topic.conversation_id != first.conversation_id
    thread = Conversation.objects.get(pk=first.conversation_id)
    assert (thread.message_count, thread.last_message_at) == (3, NOW)

    later = record_outbound(sent_sms(anna, at=NOW + dt.timedelta(days=15)))
    assert later.conversation_id not in (first.conversation_id, other_topic.conversation_id)


@time_machine.travel(NOW, tick=False)
def test_an_email_threads_by_normalised_subject_and_never_into_another_channel(anna):
    email = Outbound(
        brand=anna.brand, customer=anna, channel="email", recipient="anna@kunde.example",
        subject="Ihre Rechnung 4711", text="Anbei", sent_at=NOW,
    )  # fmt: skip
    first = record_outbound(email)
    again = record_outbound(
        Outbound(
            brand=anna.brand, customer=anna, channel="email", recipient="anna@kunde.example",
            subject="AW: ihre rechnung 4711", text="Erinnerung", sent_at=NOW,
        )
    )  # fmt: skip
    sms = record_outbound(sent_sms(anna, subject="Ihre Rechnung 4711"))

    assert again.conversation_id == first.conversation_id
    assert sms.conversation_id != first.conversation_id


@time_machine.travel(NOW, tick=False)
def test_a_message_naming_its_conversation_or_answering_a_message_goes_there(anna):
    inbound = ConversationFactory(brand=anna.brand, customer=anna, subject="Frage")
    question = MessageFactory(conversation=inbound, message_id="<q1@kunde.example>")

    named = record_outbound(sent_sms(anna, conversation=inbound))
    answering = record_outbound(
        Outbound(
            brand=anna.brand, customer=anna, channel="email", recipient="anna@kunde.example",
            subject="Etwas ganz anderes", in_reply_to=question.message_id, sent_at=NOW,
        )
    )  # fmt: skip

    assert named.conversation_id == inbound.pk
    assert answering.conversation_id == inbound.pk
    inbound.refresh_from_db()
    assert inbound.message_count == 2


@time_machine.travel(NOW, tick=False)
def test_without_a_customer_the_address_decides(brand_a):
    def to(address):
        return Outbound(
            brand=brand_a, channel="email", recipient=address, subject="Ihr Rückruf",
            sent_at=NOW,
        )  # fmt: skip

    first, again, other = record_sent([to("a@x.example"), to("a@x.example"), to("b@x.example")])

    assert again.conversation_id == first.conversation_id
    assert other.conversation_id != first.conversation_id
    assert Conversation.objects.get(pk=first.conversation_id).message_count == 2


@time_machine.travel(NOW, tick=False)
def test_the_timeline_moves_forward_only_and_records_each_status_once(anna):
    message = record_outbound(sent_sms(anna))

    assert record_status(message, "opened", NOW + dt.timedelta(minutes=3), provider_event_id="e2")
    # late: on the timeline, but the message stays opened
    assert record_status(
        message, "delivered", NOW + dt.timedelta(minutes=1), provider_event_id="e1"
    )
    # the provider delivers the event again
    assert not record_status(message, "delivered", NOW + dt.timedelta(minutes=1))

    message.refresh_from_db()
    assert message.status == "opened"
    assert timeline(message) == ["queued", "sent", "delivered", "opened"]
    assert list(
        StatusChange.objects.filter(message=message, status__in=["delivered", "opened"])
        .order_by("at")
        .values_list("provider_event_id", flat=True)
    ) == ["e1", "e2"]


def test_an_unknown_status_is_refused(anna):
    message = record_outbound(sent_sms(anna))
    with pytest.raises(ValueError):
        record_status(message, "read-by-cat")


@time_machine.travel(NOW, tick=False)
def test_a_failed_reply_sent_on_a_new_attempt_is_sent_again(anna):
    message = record_outbound(sent_sms(anna))
    record_status(message, "failed", NOW, detail="SMTP weg")
    message.refresh_from_db()

    record_sent([sent_sms(anna, message=message, at=NOW + dt.timedelta(minutes=5))])

    message.refresh_from_db()
    assert message.status == "sent"
