"""First contact: the brand's own model proposes, and above the Admin's threshold decides."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from conversations import services
from conversations.ingest import ingest_raw_email
from conversations.learning import NaiveBayes, features, train_brand
from conversations.models import Classification, ClassificationChange, Conversation, SenderModel
from conversations.tasks import train_sender_models
from tests.conftest import NOW
from tests.factories import ConversationFactory, MessageFactory

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW, tick=False)]

LIST = "List-Id: <news.{n}.example>\nList-Unsubscribe: <mailto:weg@{n}.example>\n"


def history(brand, classification, n, *, subject, text, headers=(), automatic=False):
    for i in range(n):
        conv = ConversationFactory(
            brand=brand,
            classification=classification,
            classified_automatically=automatic,
            counterpart=f"absender{i}@{classification}{i}.example",
        )
        MessageFactory(
            conversation=conv, subject=f"{subject} {i}", text=text, headers=list(headers)
        )


@pytest.fixture
def trained(brand_a):
    """12 newsletters and 12 cold offers staff classified: the brand's own history."""
    history(
        brand_a, "newsletter", 12, subject="Wochenüberblick",
        text="Alle Neuigkeiten der Woche. Newsletter abbestellen: hier abmelden.",
        headers=[("List-Id", "<news.example>"), ("List-Unsubscribe", "<mailto:x@y>")],
    )  # fmt: skip
    history(
        brand_a, "advertising", 12, subject="Mehr Anfragen für Ihr Unternehmen",
        text="Haben Sie 15 Minuten für ein unverbindliches Gespräch über SEO und Anfragen?",
    )  # fmt: skip
    return train_brand(brand_a)


def mail(sender: str, *, subject: str, body: str, extra: str = "", n: int = 1) -> bytes:
    return (
        f"From: <{sender}>\nTo: support@laderthuis.nl\nSubject: {subject}\n"
        f"Message-ID: <l{n}@example>\nDate: Fri, 20 Nov 2026 10:00:00 +0100\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}\n"
    ).encode()


def newsletter(n: int = 1) -> bytes:
    return mail(
        f"redaktion@fachportal{n}.example",
        subject="Ihr Wochenüberblick",
        body="Neuigkeiten der Woche. Hier abmelden.",
        extra=LIST.format(n=n),
        n=n,
    )


def cold_offer(n: int = 1) -> bytes:
    return mail(
        f"k.brauer@toprank{n}.example",
        subject="Mehr Anfragen?",
        body="Haben Sie 15 Minuten für ein unverbindliches Gespräch über SEO?",
        n=n,
    )


def test_the_model_is_trained_on_the_brands_own_classified_history(brand_a, brand_b, trained):
    assert trained.documents == 24
    assert set(trained.data["docs"]) == {"newsletter", "advertising"}
    assert train_brand(brand_b).documents == 0  # nothing of brand A


def test_a_never_seen_sender_gets_a_proposal_with_its_reason_but_no_classification(
    brand_a, trained
):
    conv = ingest_raw_email(cold_offer(), brand=brand_a).conversation

    assert conv.classification == ""  # off by default: only proposed
    assert conv.proposed_classification == Classification.ADVERTISING
    assert conv.proposal_reason == (
        "ähnlich wie 12 als Werbung klassifizierte Mails: „anfragen“, „gespräch“, „mehr“ (99 %)"
    )


def test_the_reason_names_the_headers_that_decided(brand_a, trained):
    conv = ingest_raw_email(newsletter(), brand=brand_a).conversation

    assert conv.classification == Classification.NEWSLETTER  # the bulk headers, as before
    assert conv.proposed_classification == Classification.NEWSLETTER
    assert "List-Id" in conv.proposal_reason or "List-Unsubscribe" in conv.proposal_reason


def test_above_the_admins_threshold_the_proposal_is_applied_and_marked_automatic(brand_a, trained):
    SenderModel.objects.filter(brand=brand_a).update(auto_apply_percent=90)

    conv = ingest_raw_email(cold_offer(), brand=brand_a).conversation

    assert (conv.classification, conv.classified_automatically) == ("advertising", True)
    assert conv.classification_reason.startswith("ähnlich wie 12 als Werbung")
    change = ClassificationChange.objects.get(conversation=conv)
    assert (change.automatic, change.to_classification) == (True, "advertising")


def test_below_the_threshold_it_stays_a_proposal(brand_a, trained):
    SenderModel.objects.filter(brand=brand_a).update(auto_apply_percent=100)

    conv = ingest_raw_email(cold_offer(), brand=brand_a).conversation

    assert conv.classification == ""
    assert conv.proposed_classification == Classification.ADVERTISING


def test_a_known_sender_is_not_asked_to_the_model(brand_a, trained):
    SenderModel.objects.filter(brand=brand_a).update(auto_apply_percent=50)
    services.teach_senders(
        senders=[(brand_a.pk, "k.brauer@toprank1.example")], kind="address",
        classification="internal", customer=None, actor=None, now=NOW,
    )  # fmt: skip

    conv = ingest_raw_email(cold_offer(), brand=brand_a).conversation

    assert conv.classification == Classification.INTERNAL
    assert conv.proposed_classification == ""


def test_kunde_is_proposed_but_never_applied_words_do_not_name_the_customer(brand_a):
    history(brand_a, "customer", 12, subject="Wallbox lädt nicht", text="Meine Wallbox lädt nicht.")
    history(brand_a, "newsletter", 12, subject="Wochenüberblick", text="Hier abmelden.")
    SenderModel.objects.create(brand=brand_a, auto_apply_percent=50)
    train_brand(brand_a)

    conv = ingest_raw_email(
        mail("neu@gmx.de", subject="Wallbox lädt nicht", body="Meine Wallbox lädt nicht."),
        brand=brand_a,
    ).conversation

    assert (conv.classification, conv.proposed_classification) == ("", "customer")


def test_too_little_history_proposes_nothing(brand_a):
    history(brand_a, "advertising", 4, subject="Mehr Anfragen", text="unverbindliches Gespräch")
    history(brand_a, "newsletter", 4, subject="Wochenüberblick", text="Hier abmelden.")
    train_brand(brand_a)

    assert ingest_raw_email(cold_offer(), brand=brand_a).conversation.proposed_classification == ""


def test_staff_classifying_teaches_the_model_at_once(brand_a, agent_a, trained):
    before = trained.documents
    conv = ingest_raw_email(newsletter(7), brand=brand_a).conversation

    services.record_classification(
        conversations=Conversation.objects.filter(pk=conv.pk),
        classification="advertising",
        actor=agent_a,
    )

    trained.refresh_from_db()
    assert trained.documents == before + 1
    assert trained.data["counts"]["advertising"]["h:list-id"] == 1


def test_automatic_classifications_count_once_they_stood_a_week_of_review(brand_a):
    history(brand_a, "newsletter", 6, subject="Wochenüberblick", text="abmelden", automatic=True)
    history(brand_a, "advertising", 6, subject="Mehr Anfragen", text="unverbindlich")

    assert train_brand(brand_a).documents == 6  # the automatic ones are too new
    Conversation.objects.filter(classified_automatically=True).update(
        created_at=NOW - dt.timedelta(days=8)
    )
    assert train_brand(brand_a).documents == 12


def test_the_nightly_task_and_the_command_train_every_brand(brand_a, brand_b, trained, capsys):
    SenderModel.objects.all().delete()

    assert train_sender_models() == "2 Marken trainiert"
    assert SenderModel.objects.get(brand=brand_a).documents == 24
    call_command("train_sender_models", "--marke", "laderthuis")
    assert "laderthuis: 24 Konversationen gelernt" in capsys.readouterr().out


def test_the_features_are_words_sender_and_bulk_headers():
    found = features(
        sender="Rechnung@Grosshandel.example",
        subject="Ihre Rechnung",
        text="Anbei die Rechnung und der Lieferschein.",
        headers=[("Auto-Submitted", "auto-generated"), ("Precedence", "normal")],
    )

    assert {"w:rechnung", "w:lieferschein", "l:rechnung", "d:grosshandel.example"} <= found
    assert "h:auto-submitted" in found and "h:precedence" not in found
    assert "w:und" not in found
    assert "freemail" in features(sender="x@gmx.de", subject="", text="", headers=[])


def test_naive_bayes_needs_two_classes():
    model = NaiveBayes()
    for _ in range(20):
        model.add("newsletter", {"h:list-id"})

    assert model.predict({"h:list-id"}) is None
