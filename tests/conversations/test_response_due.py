"""Response deadlines only where a reply is owed (issue 10 §4): customers, suppliers and
unknown senders, open, the last message theirs. Never for newsletters, advertising or
internal mail, nor for conversations waiting, done or archived."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from conversations import services
from conversations.ingest import ingest_raw_email
from conversations.models import Conversation, Status
from conversations.templatetags.inbox import sla_state
from conversations.workflow import refresh_response_due
from tests.conftest import NOW
from tests.conversations.test_ingest import mail
from tests.factories import ConversationFactory, CustomerFactory, SenderRuleFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW)]

LIST_HEADERS = "List-Id: <news.anbieter.example>\nList-Unsubscribe: <https://x.example/u>\n"


def test_an_unknown_senders_mail_owes_a_reply_in_the_hours_of_its_priority(brand_a):
    result = ingest_raw_email(mail(), brand=brand_a)

    conv = result.conversation
    conv.refresh_from_db()
    assert conv.classification == ""
    assert conv.response_due_at == conv.last_inbound_at + timedelta(hours=24)
    assert sla_state(conv) == "overdue"  # 20 Nov + 24 h, and now is 25 Nov


def test_a_known_customers_mail_owes_a_reply(brand_a):
    customer = CustomerFactory(brand=brand_a, email="kunde@beispiel.de")

    conv = ingest_raw_email(mail(), brand=brand_a).conversation

    conv.refresh_from_db()
    assert (conv.classification, conv.customer) == ("customer", customer)
    assert conv.response_due_at is not None


def test_a_newsletter_owes_nothing_and_shows_no_deadline(brand_a):
    conv = ingest_raw_email(
        mail(sender="news@anbieter.example", extra=LIST_HEADERS), brand=brand_a
    ).conversation

    conv.refresh_from_db()
    assert conv.classification == "newsletter"
    assert conv.status == Status.OPEN
    assert conv.response_due_at is None
    assert sla_state(conv) == ""


@pytest.mark.parametrize("classification", ["internal", "advertising"])
def test_internal_mail_and_advertising_owe_nothing(brand_a, classification):
    SenderRuleFactory(
        brand=brand_a, kind="address", pattern="kunde@beispiel.de", classification=classification
    )

    conv = ingest_raw_email(mail(), brand=brand_a).conversation

    conv.refresh_from_db()
    assert conv.classification == classification
    assert conv.response_due_at is None


def test_a_second_message_keeps_the_first_deadline(brand_a):
    first = ingest_raw_email(mail(), brand=brand_a).conversation
    first.refresh_from_db()
    due = first.response_due_at

    ingest_raw_email(
        mail(
            message_id="<q2@beispiel.de>",
            extra="In-Reply-To: <q1@beispiel.de>\n",
            date="Sat, 21 Nov 2026 10:00:00 +0100",
        ),
        brand=brand_a,
    )

    first.refresh_from_db()
    assert first.message_count == 2
    assert first.response_due_at == due


def test_classifying_as_newsletter_clears_the_deadline_and_undo_brings_it_back(brand_a, agent_a):
    conv = ingest_raw_email(mail(), brand=brand_a).conversation

    batch = services.record_classification(
        conversations=Conversation.objects.filter(pk=conv.pk),
        classification="newsletter",
        actor=agent_a,
    )
    conv.refresh_from_db()
    assert conv.response_due_at is None

    services.undo_classification_batch(batch=batch.id, actor=agent_a, brands=[brand_a])
    conv.refresh_from_db()
    assert conv.response_due_at == conv.last_inbound_at + timedelta(hours=24)


def test_classifying_a_newsletter_as_a_customers_mail_gives_it_a_deadline(brand_a, agent_a):
    conv = ingest_raw_email(
        mail(sender="news@anbieter.example", extra=LIST_HEADERS), brand=brand_a
    ).conversation
    customer = CustomerFactory(brand=brand_a)

    services.record_classification(
        conversations=Conversation.objects.filter(pk=conv.pk),
        classification="customer",
        customer=customer,
        actor=agent_a,
    )

    conv.refresh_from_db()
    assert conv.response_due_at == conv.last_inbound_at + timedelta(hours=24)


def test_a_reply_clears_the_deadline(brand_a, agent_a, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    conv = ingest_raw_email(mail(), brand=brand_a).conversation

    services.queue_reply(conversation=conv, text="Gern.", author=agent_a)

    conv.refresh_from_db()
    assert conv.response_due_at is None
    assert sla_state(conv) == ""


@pytest.mark.parametrize("status", [Status.PENDING, Status.CLOSED, Status.ARCHIVED])
def test_waiting_done_or_archived_owes_nothing_and_reopening_owes_again(brand_a, agent_a, status):
    conv = ingest_raw_email(mail(), brand=brand_a).conversation

    services.set_status(conversation=conv, status=status, actor=agent_a)
    conv.refresh_from_db()
    assert conv.response_due_at is None

    services.set_status(conversation=conv, status=Status.OPEN, actor=agent_a)
    conv.refresh_from_db()
    assert conv.response_due_at == conv.last_inbound_at + timedelta(hours=24)


def test_a_higher_priority_means_a_shorter_deadline_for_a_new_one(brand_a, agent_a):
    conv = ingest_raw_email(mail(), brand=brand_a).conversation
    services.set_status(conversation=conv, status=Status.CLOSED, actor=agent_a)
    services.set_priority(conversation=conv, priority="urgent", actor=agent_a)

    services.set_status(conversation=conv, status=Status.OPEN, actor=agent_a)

    conv.refresh_from_db()
    assert conv.response_due_at == conv.last_inbound_at + timedelta(hours=1)


def test_no_deadline_shows_when_the_last_message_is_ours(brand_a):
    # e.g. a message the outbox sent into the thread after the customer wrote
    now = timezone.now()
    conv = ConversationFactory(
        brand=brand_a,
        last_inbound_at=now - timedelta(days=2),
        last_message_at=now - timedelta(days=1),
        response_due_at=now - timedelta(days=1),
    )

    assert sla_state(conv) == ""
    refresh_response_due(Conversation.objects.filter(pk=conv.pk))
    conv.refresh_from_db()
    assert conv.response_due_at is None


def test_the_command_recomputes_every_deadline(brand_a):
    now = timezone.now()
    inbound = now - timedelta(hours=30)
    newsletter = ConversationFactory(
        brand=brand_a, classification="newsletter", last_inbound_at=inbound,
        last_message_at=inbound, response_due_at=inbound + timedelta(hours=24),
    )  # fmt: skip
    archived = ConversationFactory(
        brand=brand_a, classification="customer", status=Status.ARCHIVED,
        last_inbound_at=inbound, last_message_at=inbound,
        response_due_at=inbound + timedelta(hours=24),
    )  # fmt: skip
    missing = ConversationFactory(
        brand=brand_a, classification="supplier", priority="high", last_inbound_at=inbound,
        last_message_at=inbound,
    )  # fmt: skip
    whatsapp = ConversationFactory(
        brand=brand_a, channel="whatsapp", last_inbound_at=inbound, last_message_at=inbound
    )

    call_command("recompute_response_due")

    for conv in (newsletter, archived, missing, whatsapp):
        conv.refresh_from_db()
    assert newsletter.response_due_at is None
    assert archived.response_due_at is None
    assert missing.response_due_at == inbound + timedelta(hours=4)
    assert whatsapp.response_due_at == inbound + timedelta(hours=4)


def test_the_inbox_shows_overdue_for_the_customer_but_not_the_newsletter(client, agent_a, brand_a):
    ingest_raw_email(mail(subject="Wo bleibt meine Wallbox"), brand=brand_a)
    ingest_raw_email(
        mail(
            subject="Unser Newsletter", sender="news@anbieter.example",
            message_id="<n1@anbieter.example>", extra=LIST_HEADERS,
        ),
        brand=brand_a,
    )  # fmt: skip
    client.force_login(agent_a)

    response = client.get("/")

    rows = {
        row.split('class="row-subject">')[1].split("</span>")[0]: row
        for row in response.text.split('<li id="row-')[1:]
    }
    assert 'class="sla overdue"' in rows["Wo bleibt meine Wallbox"]
    assert 'class="sla' not in rows["Unser Newsletter"]
