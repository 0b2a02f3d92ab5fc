"""One way to learn a sender (a SenderRule), and corrections that fix the rule that erred."""

from __future__ import annotations

import pytest

from conversations import services
from conversations.ingest import ingest_raw_email
from conversations.models import Classification, ClassificationChange, Conversation, SenderRule
from tests.conftest import NOW
from tests.factories import ConversationFactory, CustomerFactory, SenderRuleFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]


def mail(sender: str, n: int = 1, extra: str = "") -> bytes:
    return (
        f"From: <{sender}>\nTo: support@laderthuis.nl\nSubject: Frage {n}\n"
        f"Message-ID: <t{n}@example>\nDate: Fri, 20 Nov 2026 10:00:00 +0100\n{extra}"
        "Content-Type: text/plain; charset=utf-8\n\nGuten Tag, eine Frage.\n"
    ).encode()


def classify(conversation, classification, *, customer=None, actor, remember=None):
    return services.record_classification(
        conversations=Conversation.objects.filter(pk=conversation.pk),
        classification=classification,
        customer=customer,
        actor=actor,
        remember_sender=remember,
    )


def test_naming_the_customer_teaches_the_sender_address(brand_a, agent_a):
    anna = CustomerFactory(brand=brand_a, first_name="Anna", last_name="Huber")
    first = ingest_raw_email(mail("anna.huber77@gmx.de", 1), brand=brand_a).conversation
    assert first.classification == ""

    batch = classify(first, Classification.CUSTOMER, customer=anna, actor=agent_a)

    assert batch.rules_created == 1
    rule = SenderRule.objects.get(brand=brand_a)
    assert (rule.kind, rule.pattern, rule.classification, rule.customer) == (
        SenderRule.Kind.ADDRESS, "anna.huber77@gmx.de", Classification.CUSTOMER, anna,
    )  # fmt: skip
    later = ingest_raw_email(mail("anna.huber77@gmx.de", 2), brand=brand_a).conversation
    assert (later.classification, later.customer) == (Classification.CUSTOMER, anna)


def test_remember_address_with_a_customer_takes_the_same_path(brand_a, agent_a):
    anna = CustomerFactory(brand=brand_a)
    conv = ConversationFactory(brand=brand_a, counterpart="anna@huber.example")

    classify(conv, Classification.CUSTOMER, customer=anna, actor=agent_a, remember="address")

    assert list(SenderRule.objects.values_list("kind", "pattern", "customer")) == [
        ("address", "anna@huber.example", anna.pk)
    ]


def test_a_customers_own_contact_point_needs_no_rule(brand_a, agent_a):
    anna = CustomerFactory(brand=brand_a, email="anna@huber.example")
    conv = ConversationFactory(brand=brand_a, counterpart="anna@huber.example")

    batch = classify(conv, Classification.CUSTOMER, customer=anna, actor=agent_a)

    assert batch.rules_created == 0
    assert not SenderRule.objects.exists()


def test_a_freemail_domain_is_learned_by_address_only(brand_a, agent_a):
    conv = ConversationFactory(brand=brand_a, counterpart="deals@gmail.com")

    classify(conv, Classification.ADVERTISING, actor=agent_a, remember="domain")

    assert list(SenderRule.objects.values_list("kind", "pattern")) == [
        ("address", "deals@gmail.com")
    ]


def test_correcting_an_address_rules_mistake_updates_that_rule(brand_a, agent_a):
    rule = SenderRuleFactory(
        brand=brand_a, pattern="info@huber-bau.example", classification=Classification.NEWSLETTER
    )
    conv = ingest_raw_email(mail("info@huber-bau.example"), brand=brand_a).conversation
    assert (conv.classification, conv.classified_automatically) == ("newsletter", True)
    assert ClassificationChange.objects.get(conversation=conv).rule == rule
    huber = CustomerFactory(brand=brand_a, company_name="Huber Bau GmbH", is_company=True)

    classify(conv, Classification.CUSTOMER, customer=huber, actor=agent_a)

    rule.refresh_from_db()
    assert (rule.classification, rule.customer) == (Classification.CUSTOMER, huber)
    assert SenderRule.objects.count() == 1
    change = ClassificationChange.objects.filter(automatic=False).get(conversation=conv)
    assert change.rule == rule
    assert change.reason == (
        "Korrektur von „Absenderregel (Adresse)“: Absenderregel info@huber-bau.example"
    )


def test_correcting_a_domain_rules_mistake_adds_an_address_exception(brand_a, agent_a):
    domain_rule = SenderRuleFactory(
        brand=brand_a,
        kind=SenderRule.Kind.DOMAIN,
        pattern="grosshandel.example",
        classification=Classification.ADVERTISING,
    )
    conv = ingest_raw_email(mail("news@grosshandel.example"), brand=brand_a).conversation
    assert conv.classification == Classification.ADVERTISING

    classify(conv, Classification.NEWSLETTER, actor=agent_a)

    domain_rule.refresh_from_db()
    assert domain_rule.classification == Classification.ADVERTISING  # the rest of the domain
    exception = SenderRule.objects.get(kind=SenderRule.Kind.ADDRESS)
    assert (exception.pattern, exception.classification) == (
        "news@grosshandel.example",
        "newsletter",
    )
    again = ingest_raw_email(mail("news@grosshandel.example", 2), brand=brand_a).conversation
    assert again.classification == Classification.NEWSLETTER


def test_correcting_the_bulk_headers_learns_the_sender(brand_a, agent_a):
    bulk = "List-Unsubscribe: <mailto:weg@leadagentur.example>\n"
    conv = ingest_raw_email(mail("vertrieb@leadagentur.example", extra=bulk), brand=brand_a)
    conv = conv.conversation
    assert (conv.classification, conv.classification_reason) == (
        "newsletter", "Massen-E-Mail eines unbekannten Absenders",
    )  # fmt: skip

    classify(conv, Classification.ADVERTISING, actor=agent_a)

    conv.refresh_from_db()
    assert (conv.classified_automatically, conv.classification_reason) == (False, "")
    assert SenderRule.objects.get().classification == Classification.ADVERTISING
    later = ingest_raw_email(
        mail("vertrieb@leadagentur.example", 2, extra=bulk), brand=brand_a
    ).conversation
    assert later.classification == Classification.ADVERTISING


def test_undo_removes_the_rule_the_teaching_created(brand_a, agent_a):
    anna = CustomerFactory(brand=brand_a)
    conv = ConversationFactory(brand=brand_a, counterpart="anna@huber.example")
    batch = classify(conv, Classification.CUSTOMER, customer=anna, actor=agent_a)

    services.undo_classification_batch(batch=batch.id, actor=agent_a, brands=[brand_a])

    assert not SenderRule.objects.exists()
