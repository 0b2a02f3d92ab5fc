from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from conversations import services
from conversations.models import ClassificationChange, Conversation, Message, SenderRule
from tests.factories import (
    ConversationFactory,
    CustomerFactory,
    MessageFactory,
    SupplierFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_classifying_records_history_with_who_and_a_shared_batch(brand_a, agent_a):
    convs = ConversationFactory.create_batch(3, brand=brand_a)

    batch = services.record_classification(
        conversations=Conversation.objects.filter(pk__in=[c.pk for c in convs]),
        classification="newsletter",
        actor=agent_a,
    )

    assert batch.changed == 3
    assert set(Conversation.objects.values_list("classification", flat=True)) == {"newsletter"}
    changes = ClassificationChange.objects.filter(batch=batch.id)
    assert changes.count() == 3
    assert {c.changed_by for c in changes} == {agent_a}
    assert {c.from_classification for c in changes} == {""}


def test_a_customer_classification_links_the_customer(brand_a, agent_a):
    conv = ConversationFactory(brand=brand_a)
    customer = CustomerFactory(brand=brand_a)

    services.record_classification(
        conversations=Conversation.objects.filter(pk=conv.pk),
        classification="customer",
        customer=customer,
        actor=agent_a,
    )

    conv.refresh_from_db()
    assert (conv.classification, conv.customer) == ("customer", customer)


def test_it_refuses_a_supplier_as_customer_and_a_contact_of_another_brand(
    brand_a, brand_b, agent_a
):
    conv = ConversationFactory(brand=brand_a)
    qs = Conversation.objects.filter(pk=conv.pk)

    with pytest.raises(ValidationError):
        services.record_classification(
            conversations=qs,
            classification="customer",
            customer=SupplierFactory(brand=brand_a),
            actor=agent_a,
        )
    with pytest.raises(ValidationError):
        services.record_classification(
            conversations=qs,
            classification="customer",
            customer=CustomerFactory(brand=brand_b),
            actor=agent_a,
        )
    conv.refresh_from_db()
    assert conv.classification == ""


def test_unchanged_conversations_are_not_counted(brand_a, agent_a):
    ConversationFactory(brand=brand_a, classification="newsletter")
    ConversationFactory(brand=brand_a)

    batch = services.record_classification(
        conversations=Conversation.objects.all(), classification="newsletter", actor=agent_a
    )

    assert batch.changed == 1


def test_remember_sender_creates_one_rule_per_domain(brand_a, agent_a):
    ConversationFactory(brand=brand_a, counterpart="news@shop.example")
    ConversationFactory(brand=brand_a, counterpart="angebote@shop.example")

    batch = services.record_classification(
        conversations=Conversation.objects.all(),
        classification="advertising",
        actor=agent_a,
        remember_sender="domain",
    )

    assert batch.rules_created == 1
    rule = SenderRule.objects.get()
    assert (rule.kind, rule.pattern, rule.classification) == (
        "domain",
        "shop.example",
        "advertising",
    )


def test_undo_restores_every_previous_classification_and_removes_new_rules(brand_a, agent_a):
    customer = CustomerFactory(brand=brand_a)
    a = ConversationFactory(brand=brand_a, classification="customer", customer=customer)
    b = ConversationFactory(brand=brand_a, counterpart="x@news.example")
    batch = services.record_classification(
        conversations=Conversation.objects.all(),
        classification="newsletter",
        actor=agent_a,
        remember_sender="address",
    )
    assert SenderRule.objects.count() == 2

    restored = services.undo_classification_batch(batch=batch.id, actor=agent_a, brands=[brand_a])

    assert restored == 2
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.classification, a.customer) == ("customer", customer)
    assert (b.classification, b.customer) == ("", None)
    assert SenderRule.objects.count() == 0
    assert ClassificationChange.objects.filter(reason="Rückgängig gemacht").count() == 2


def test_undo_does_nothing_outside_the_users_brands(brand_a, brand_b, agent_a, agent_b):
    ConversationFactory(brand=brand_a)
    batch = services.record_classification(
        conversations=Conversation.objects.all(), classification="internal", actor=agent_a
    )

    assert services.undo_classification_batch(batch=batch.id, actor=agent_b, brands=[brand_b]) == 0
    assert Conversation.objects.get().classification == "internal"


def test_an_agent_takes_a_conversation_but_may_not_give_it_to_others(brand_a, agent_a, team_lead):
    conv = ConversationFactory(brand=brand_a)
    colleague = UserFactory(brands=[brand_a], roles=["Agent"])

    services.assign(conversation=conv, assignee=agent_a, actor=agent_a)
    conv.refresh_from_db()
    assert conv.assignee == agent_a

    with pytest.raises(PermissionDenied):
        services.assign(conversation=conv, assignee=colleague, actor=agent_a)

    services.assign(conversation=conv, assignee=colleague, actor=team_lead)
    conv.refresh_from_db()
    assert conv.assignee == colleague


def test_assigning_someone_outside_the_brand_is_refused(brand_a, agent_b, team_lead):
    conv = ConversationFactory(brand=brand_a)

    with pytest.raises(ValidationError):
        services.assign(conversation=conv, assignee=agent_b, actor=team_lead)


def test_a_reply_is_queued_as_outbound_email_in_the_thread(brand_a, agent_a):
    conv = ConversationFactory(
        brand=brand_a, counterpart="kunde@example.de", subject="Wallbox defekt"
    )
    MessageFactory(conversation=conv, message_id="<a1@example.de>")
    conv.response_due_at = conv.last_message_at

    reply = services.queue_reply(conversation=conv, text="Wir kümmern uns.", author=agent_a)

    reply.refresh_from_db()
    assert (reply.direction, reply.channel, reply.status) == ("out", "email", "queued")
    assert reply.to == ["kunde@example.de"]
    assert reply.subject == "AW: Wallbox defekt"
    assert reply.in_reply_to == "<a1@example.de>"
    assert reply.sender_address == "support@laderthuis.nl"
    assert list(reply.status_changes.values_list("status", flat=True)) == ["queued"]
    conv.refresh_from_db()
    assert conv.response_due_at is None


def test_a_queued_reply_is_sent_through_the_outbox_and_marked_sent(
    brand_a, agent_a, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    conv = ConversationFactory(
        brand=brand_a, counterpart="kunde@example.de", subject="Wallbox defekt"
    )
    MessageFactory(conversation=conv, message_id="<a1@example.de>")

    with django_capture_on_commit_callbacks(execute=True):
        reply = services.queue_reply(conversation=conv, text="Wir kümmern uns.", author=agent_a)

    reply.refresh_from_db()
    assert reply.status == "sent"
    assert list(reply.status_changes.values_list("status", flat=True)) == ["queued", "sent"]
    [sent] = mail.outbox
    assert sent.to == ["kunde@example.de"]
    assert sent.extra_headers["Message-ID"] == reply.message_id
    assert sent.extra_headers["In-Reply-To"] == "<a1@example.de>"
    assert "Wir kümmern uns." in sent.body
    assert conv.messages.count() == 2  # the thread entry was updated, not duplicated


def test_a_sent_reply_carries_the_brands_imprint(
    brand_a, agent_a, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    brand_a.imprint = "LaderThuis GmbH · Amtsgericht Köln HRB 12345 · GF: Jana Berg"
    brand_a.save()
    conv = ConversationFactory(brand=brand_a, counterpart="kunde@example.de", subject="Frage")

    with django_capture_on_commit_callbacks(execute=True):
        reply = services.queue_reply(conversation=conv, text="Gern geschehen.", author=agent_a)

    [sent] = mail.outbox
    assert sent.body == (
        "Gern geschehen.\n\n-- \nLaderThuis GmbH · Amtsgericht Köln HRB 12345 · GF: Jana Berg\n"
    )
    reply.refresh_from_db()
    assert reply.text == "Gern geschehen."  # the thread shows what the agent wrote


def test_an_internal_note_never_goes_out(brand_a, agent_a):
    conv = ConversationFactory(brand=brand_a)

    note = services.add_internal_note(conversation=conv, text="Rückruf vereinbart", author=agent_a)

    assert note.is_internal_note and note.channel == "note" and note.status == ""
    assert Message.objects.filter(status="queued").count() == 0


def test_opening_marks_read_and_unread_marks_again(brand_a):
    conv = ConversationFactory(brand=brand_a, unread=True)

    services.mark_read(conversation=conv)
    conv.refresh_from_db()
    assert conv.unread is False

    assert services.mark_unread(conversations=Conversation.objects.all()) == 1
    conv.refresh_from_db()
    assert conv.unread is True


def test_status_and_priority_are_validated(brand_a):
    conv = ConversationFactory(brand=brand_a)

    services.set_status(conversation=conv, status="archived")
    services.set_priority(conversation=conv, priority="urgent")
    with pytest.raises(ValidationError):
        services.set_status(conversation=conv, status="weg")

    conv.refresh_from_db()
    assert (conv.status, conv.priority) == ("archived", "urgent")
