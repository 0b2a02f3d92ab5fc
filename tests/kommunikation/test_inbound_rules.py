"""Rules on incoming messages (issue 9 §4): auto-replies and routing, from conversations.ingest
through the rules engine, the gate and the outbox (to a real SMTP sink end to end)."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from compliance.models import AuditEntry
from conversations.ingest import ingest_raw_email
from conversations.models import Conversation, Message
from kommunikation.automation.availability import Absence, OpeningHours, is_open, next_opening
from kommunikation.automation.engine import run_rules
from kommunikation.automation.loading import (
    DEFAULT_FILE,
    RuleLoadError,
    export_rules,
    load_rules,
    load_rules_file,
)
from kommunikation.automation.models import AutomationRule, PlannedStep, RuleRun, RuleStep
from kommunikation.dispatch import dispatch_batch
from kommunikation.events.models import Event
from kommunikation.models import OutboundMessage
from kommunikation.roles import AGENT
from templates_app.loading import load_library
from tests.conversations.test_ingest import mail
from tests.factories import CustomerFactory, UserFactory

from .automation_helpers import BERLIN

pytestmark = pytest.mark.django_db

WEDNESDAY_NOON = dt.datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)
WEDNESDAY_EVENING = dt.datetime(2026, 11, 25, 19, 30, tzinfo=BERLIN)
SUNDAY = dt.datetime(2026, 11, 29, 11, 0, tzinfo=BERLIN)
CHRISTMAS = dt.datetime(2026, 12, 25, 10, 0, tzinfo=BERLIN)  # a Friday, a public holiday


@pytest.fixture
def library(brand_a):
    load_library()
    load_rules_file(DEFAULT_FILE)
    for weekday in range(5):  # Mon-Fri 08:00-17:00
        OpeningHours.objects.create(
            brand=brand_a, weekday=weekday, opens=dt.time(8), closes=dt.time(17)
        )


@pytest.fixture
def at(time_machine):
    def move(when: dt.datetime):
        time_machine.move_to(when, tick=False)

    move(WEDNESDAY_NOON)
    return move


@pytest.fixture
def receive(brand_a, django_capture_on_commit_callbacks):
    """Ingest one mail as the IMAP fetch would, and run what follows on commit (events,
    rules, dispatch: django-q2 runs sync in tests)."""
    counter = iter(range(1, 1000))

    def run(*, sender="kunde@beispiel.de", subject="Frage zur Wallbox", extra="", reply_to=None):
        n = next(counter)
        headers = extra
        if reply_to is not None:
            headers += f"In-Reply-To: {reply_to}\n"
        raw = mail(sender=sender, subject=subject, message_id=f"<m{n}@beispiel.de>", extra=headers)
        with django_capture_on_commit_callbacks(execute=True):
            result = ingest_raw_email(raw, brand=brand_a)
        return result

    return run


def replies() -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(auto_submitted="auto-replied").order_by("pk"))


def skipped_reasons() -> list[str]:
    return list(
        PlannedStep.objects.filter(state="skipped").order_by("pk").values_list("reason", flat=True)
    )


# --- end to end ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_incoming_mail_is_acknowledged_through_the_outbox_to_the_smtp_sink(
    brand_a, smtp_sink, time_machine
):
    time_machine.move_to(WEDNESDAY_NOON, tick=False)
    load_library()
    load_rules_file(DEFAULT_FILE)
    CustomerFactory(brand=brand_a, email="kunde@beispiel.de", last_name="Kunde")

    # committed: message_ingested -> events -> rules -> outbox -> dispatch, all on commit
    result = ingest_raw_email(mail(), brand=brand_a)

    conversation = result.conversation
    row = OutboundMessage.objects.get(auto_submitted="auto-replied")
    assert row.status == "sent", row.last_error
    assert row.template_key == "auto_acknowledgement"
    assert (row.category, row.recipient) == ("service", "kunde@beispiel.de")
    [sent] = smtp_sink.messages
    reference = f"KK-{conversation.created_at.year}-{conversation.pk:06d}"
    assert sent["Auto-Submitted"] == "auto-replied"
    assert sent["X-Auto-Response-Suppress"] == "All"
    assert sent["In-Reply-To"] == "<q1@beispiel.de>"
    assert "<q1@beispiel.de>" in sent["References"]
    assert sent["Subject"] == f"Re: Frage zur Wallbox [{reference}]"
    assert sent["To"] == "kunde@beispiel.de"
    assert reference in sent.get_body(("plain",)).get_content()
    # the thread: the customer's mail, then our reply in the same conversation
    thread = list(conversation.messages.order_by("created_at", "pk"))
    assert [m.direction for m in thread] == ["in", "out"]
    assert thread[1].message_id == row.header_message_id == sent["Message-ID"]
    assert thread[1].in_reply_to == "<q1@beispiel.de>"
    conversation.refresh_from_db()
    assert conversation.message_count == 2
    assert Conversation.objects.count() == 1


def test_the_sender_gets_a_reply_even_when_not_a_customer(library, at, receive):
    result = receive(sender="fremd@irgendwo.example")

    [row] = replies()
    assert row.customer is None
    assert row.to_address == "fremd@irgendwo.example"
    assert row.conversation == result.conversation
    dispatch_batch()
    row.refresh_from_db()
    assert row.status == "sent", row.last_error
    assert result.conversation.messages.filter(direction="out").get().to == [
        "fremd@irgendwo.example"
    ]


# --- never to automatic senders (RFC 3834) ---------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "extra", "why"),
    [
        ("kunde@beispiel.de", "Auto-Submitted: auto-replied\n", "Absender ist automatisch"),
        ("kunde@beispiel.de", "Auto-Submitted: auto-generated\n", "Absender ist automatisch"),
        ("kunde@beispiel.de", "Precedence: bulk\n", "Massen- oder Listenmail"),
        ("kunde@beispiel.de", "List-Id: <news.beispiel.de>\n", "Massen- oder Listenmail"),
        ("no-reply@beispiel.de", "", "Noreply-Absender"),
        ("MAILER-DAEMON@beispiel.de", "", "Mailer-Daemon"),
        ("support@laderthuis.nl", "", "eigene Adresse"),
    ],
)
def test_no_auto_reply_to_automatic_bulk_noreply_or_daemon_senders(
    library, at, receive, sender, extra, why
):
    at(WEDNESDAY_EVENING)  # out of hours too: no rule may answer
    # a rule without any condition: the engine itself refuses these senders
    rule = AutomationRule.objects.create(
        key="ack_all", name="Alles bestätigen", event_type="message.received",
        category="service", auto_reply="acknowledgement",
    )  # fmt: skip
    RuleStep.objects.create(rule=rule, template_key="auto_acknowledgement", channels=["email"])

    receive(sender=sender, extra=extra)

    assert replies() == []
    [planned] = PlannedStep.objects.filter(run__rule=rule)
    assert planned.state == "skipped"
    assert planned.reason.startswith("Keine automatische Antwort (RFC 3834)")
    assert why in planned.reason
    assert all("RFC 3834" in r for r in skipped_reasons() if "Antwort" in r)


# --- once per window, one rule wins ----------------------------------------------------------


def test_at_most_one_auto_reply_per_sender_and_conversation_within_the_window(library, at, receive):
    at(WEDNESDAY_EVENING)
    first = receive()
    [row] = replies()
    assert row.template_key == "auto_out_of_hours"  # out of hours wins over the receipt
    ack = PlannedStep.objects.get(run__rule__key="inbound_acknowledgement")
    assert ack.state == "skipped" and "Bereits automatisch geantwortet" in ack.reason

    at(WEDNESDAY_EVENING + dt.timedelta(hours=2))
    receive(subject="AW: Frage zur Wallbox", reply_to="<m1@beispiel.de>")
    assert len(replies()) == 1
    assert Conversation.objects.count() == 1

    at(WEDNESDAY_EVENING + dt.timedelta(hours=25))  # Thursday 20:30, the window is over
    receive(subject="AW: Frage zur Wallbox", reply_to="<m2@beispiel.de>")
    assert [r.template_key for r in replies()] == ["auto_out_of_hours", "auto_out_of_hours"]
    assert {r.conversation_id for r in replies()} == {first.conversation.pk}


def test_the_window_is_a_rule_field(library, at, receive):
    AutomationRule.objects.filter(key="inbound_out_of_hours").update(reply_window_hours=1)
    at(WEDNESDAY_EVENING)
    receive()
    at(WEDNESDAY_EVENING + dt.timedelta(hours=2))
    receive(subject="AW: Frage zur Wallbox", reply_to="<m1@beispiel.de>")

    assert len(replies()) == 2


# --- out of hours ----------------------------------------------------------------------------


@pytest.mark.parametrize("when", [WEDNESDAY_EVENING, SUNDAY, CHRISTMAS])
def test_out_of_hours_on_a_weekday_evening_a_sunday_and_a_public_holiday(
    library, at, receive, when
):
    at(when)

    receive()

    [row] = replies()
    assert row.template_key == "auto_out_of_hours"
    assert row.context["next_opening_time"] == "08:00"
    dispatch_batch()
    row.refresh_from_db()
    assert row.status == "sent", row.last_error
    assert "außerhalb unserer Geschäftszeiten" in row.text


def test_during_business_hours_only_the_acknowledgement(library, at, receive):
    receive()

    [row] = replies()
    assert row.template_key == "auto_acknowledgement"
    run = RuleRun.objects.get(rule__key="inbound_out_of_hours")
    assert not run.matched and "während der Geschäftszeiten" in run.reason


def test_opening_hours_and_the_next_opening(brand_a):
    OpeningHours.objects.create(brand=brand_a, weekday=0, opens=dt.time(8), closes=dt.time(12))
    OpeningHours.objects.create(brand=brand_a, weekday=0, opens=dt.time(13), closes=dt.time(17))
    monday = dt.datetime(2026, 11, 23, 12, 30, tzinfo=BERLIN)

    assert is_open(brand_a, monday.replace(hour=9))
    assert not is_open(brand_a, monday)  # lunch
    assert next_opening(brand_a, monday) == monday.replace(hour=13, minute=0)
    # Christmas Monday 2026-12-28 is no holiday, 2026-12-21 neither: a week later 08:00
    assert next_opening(brand_a, monday.replace(hour=18)) == dt.datetime(
        2026, 11, 30, 8, 0, tzinfo=BERLIN
    )
    # without configured hours a brand is always open
    OpeningHours.objects.all().delete()
    assert is_open(brand_a, CHRISTMAS)


# --- the absent agent (seed 001: Vertretungsregeln) --------------------------------------------


def test_the_absent_agents_customer_hears_wir_melden_uns_and_the_substitute_takes_over(
    library, at, receive, brand_a
):
    jonas = UserFactory(
        username="jonas", first_name="Jonas", last_name="Weber", brands=[brand_a], roles=[AGENT]
    )
    lea = UserFactory(
        username="lea", first_name="Lea", last_name="Schmidt", brands=[brand_a], roles=[AGENT]
    )
    CustomerFactory(brand=brand_a, email="kunde@beispiel.de", owner=jonas)
    Absence.objects.create(
        brand=brand_a, user=jonas, substitute=lea,
        starts_at=WEDNESDAY_NOON - dt.timedelta(days=2),
        ends_at=dt.datetime(2026, 12, 4, 8, 0, tzinfo=BERLIN),
    )  # fmt: skip

    result = receive()

    [row] = replies()
    assert row.template_key == "auto_absence"
    assert row.context["agent_name"] == "Jonas Weber"
    assert row.context["substitute_name"] == "Lea Schmidt"
    assert row.context["absent_until"] == "2026-12-04"
    dispatch_batch()
    row.refresh_from_db()
    assert row.status == "sent", row.last_error
    assert "Jonas Weber ist bis 4. Dezember 2026 nicht im Haus" in row.text
    assert "Wir melden uns: Lea Schmidt vertritt" in row.text
    conversation = Conversation.objects.get(pk=result.conversation.pk)
    # the owner rule hands it to the substitute, with the reason in the thread
    assert conversation.assignee == lea
    note = conversation.messages.get(is_internal_note=True)
    assert "zugewiesen an Lea Schmidt (Vertretung für Jonas Weber" in note.text


def test_no_absence_notice_when_the_agent_is_present(library, at, receive, brand_a):
    jonas = UserFactory(username="jonas", brands=[brand_a], roles=[AGENT])
    CustomerFactory(brand=brand_a, email="kunde@beispiel.de", owner=jonas)

    result = receive()

    assert [r.template_key for r in replies()] == ["auto_acknowledgement"]
    assert Conversation.objects.get(pk=result.conversation.pk).assignee == jonas


def test_absences_are_checked_at_save_time(brand_a):
    jonas = UserFactory(username="jonas", brands=[brand_a])
    outsider = UserFactory(username="fremd")
    absence = Absence(
        brand=brand_a, user=jonas, substitute=outsider,
        starts_at=WEDNESDAY_NOON, ends_at=WEDNESDAY_NOON - dt.timedelta(hours=1),
    )  # fmt: skip
    with pytest.raises(Exception) as error:
        absence.full_clean()
    assert "ends_at" in error.value.message_dict
    absence.ends_at = WEDNESDAY_NOON + dt.timedelta(days=1)
    with pytest.raises(Exception) as error:
        absence.full_clean()
    assert error.value.message_dict == {"substitute": ["Arbeitet nicht für diese Marke."]}


# --- routing ---------------------------------------------------------------------------------


def test_round_robin_among_the_present_agents_of_the_brand(library, at, receive, brand_a):
    anna, ben, cem = (
        UserFactory(username=name, brands=[brand_a], roles=[AGENT])
        for name in ("anna", "ben", "cem")
    )
    UserFactory(username="lead", brands=[brand_a], roles=["Team-Lead"])  # no agent
    UserFactory(username="inactive", brands=[brand_a], roles=[AGENT], is_active=False)
    Absence.objects.create(
        brand=brand_a, user=ben, substitute=anna,
        starts_at=WEDNESDAY_NOON - dt.timedelta(hours=1),
        ends_at=WEDNESDAY_NOON + dt.timedelta(days=1),
    )  # fmt: skip
    rule = AutomationRule.objects.create(
        key="rr", name="Reihum", event_type="message.received", category="service",
        conditions=[{"field": "payload.new_conversation", "op": "equals", "value": True}],
    )  # fmt: skip
    RuleStep.objects.create(rule=rule, action="assign", assign_to="round_robin")

    conversations = [receive(subject=f"Frage {n}").conversation for n in range(4)]

    assignees = [Conversation.objects.get(pk=c.pk).assignee for c in conversations]
    assert assignees == [anna, cem, anna, cem]
    assert AuditEntry.objects.filter(action="conversation.round_robin").count() == 4


def test_subject_keywords_set_priority_and_tags(library, at, receive):
    result = receive(subject="Ihre MAHNUNG vom 3.11.")
    other = receive(subject="Frage zur Lieferung")

    conversation = Conversation.objects.get(pk=result.conversation.pk)
    assert conversation.priority == "high"
    assert conversation.tags == ["Buchhaltung"]
    note = conversation.messages.get(is_internal_note=True)
    assert note.text.startswith("Regel „Rechnung/Mahnung im Betreff – Buchhaltung“")
    assert AuditEntry.objects.filter(action="conversation.rule_changed").exists()
    untouched = Conversation.objects.get(pk=other.conversation.pk)
    assert (untouched.priority, untouched.tags) == ("normal", [])
    # a second message with the keyword changes nothing and notes nothing
    receive(subject="AW: Ihre MAHNUNG vom 3.11.", reply_to="<m1@beispiel.de>")
    conversation.refresh_from_db()
    assert conversation.messages.filter(is_internal_note=True).count() == 1


def test_conditions_by_mailbox_classification_and_a_pattern(library, at, receive, brand_a):
    from conversations.models import Mailbox

    Mailbox.objects.create(brand=brand_a, name="Buchhaltung", address="Buchhaltung@laderthuis.nl")
    rule = AutomationRule.objects.create(
        key="vip", name="Dringend", event_type="message.received", category="service",
        conditions=[
            {"field": "payload.classification", "op": "equals", "value": "customer"},
            {"field": "payload.message_subject", "op": "matches", "value": r"\bdefekt\b"},
        ],
    )  # fmt: skip
    RuleStep.objects.create(rule=rule, action="priority", set_priority="urgent")
    CustomerFactory(brand=brand_a, email="kunde@beispiel.de")

    hit = receive(subject="Wallbox DEFEKT")
    miss = receive(subject="Wallbox defektfrei", sender="kunde@beispiel.de")

    assert Conversation.objects.get(pk=hit.conversation.pk).priority == "urgent"
    assert Conversation.objects.get(pk=miss.conversation.pk).priority == "normal"
    assert "mailbox" in Event.objects.filter(type="message.received").first().payload


# --- YAML and save-time checks -----------------------------------------------------------------


def test_yaml_round_trip_of_inbound_rules(library, brand_a):
    UserFactory(username="jonas", brands=[brand_a])
    document = {
        "rules": [
            {
                "key": "route_jonas",
                "name": "An Jonas",
                "event": "message.received",
                "conditions": [
                    {
                        "field": "payload.message_subject",
                        "op": "contains_any",
                        "value": "Rechnung|Mahnung",
                    },
                ],  # fmt: skip
                "steps": [
                    {"action": "assign", "assign": "user", "user": "jonas"},
                    {"action": "priority", "priority": "urgent"},
                    {"action": "tags", "tags": ["Buchhaltung", "Wichtig"]},
                ],
            }
        ]
    }
    load_rules(document)
    exported = yaml.safe_load(export_rules())
    ours = {r["key"]: r for r in exported["rules"]}

    assert ours["route_jonas"]["steps"] == document["rules"][0]["steps"]
    assert ours["inbound_out_of_hours"]["auto_reply"] == "out_of_hours"
    assert ours["inbound_out_of_hours"]["reply_window"] == "24_hours"
    # loading the export again (replacing) gives the same export
    before = export_rules()
    load_rules(exported, replace=True)
    assert export_rules() == before


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"conditions": [{"field": "payload.message_subject", "op": "matches", "value": "(["}]},
         "Ungültiger regulärer Ausdruck"),
        ({"conditions": [{"field": "payload.message_subject", "op": "contains_any", "value": []}]},
         "contains_any braucht Wörter"),
        ({"steps": [{"action": "priority", "priority": "sehr hoch"}]}, "set_priority"),
        ({"steps": [{"action": "tags", "tags": []}]}, "tags"),
        ({"steps": [{"action": "assign", "assign": "irgendwer"}]}, "assign_to"),
        ({"steps": [{"action": "assign", "assign": "user"}]}, "Welche Person"),
        ({"event": "invoice.created", "steps": [{"action": "tags", "tags": ["x"]}]},
         "nur bei message.received"),
        ({"auto_reply": "acknowledgement", "event": "invoice.created"},
         "Automatische Antworten nur bei"),
        ({"auto_reply": "acknowledgement", "category": "marketing"}, "Service-Nachricht"),
        ({"auto_reply": "acknowledgement",
          "steps": [{"template": "auto_acknowledgement", "channels": ["sms"]}]}, "per E-Mail"),
    ],
)  # fmt: skip
def test_inbound_rules_are_checked_at_save_time(library, spec, problem):
    rule = {
        "key": "broken", "name": "Kaputt", "event": "message.received", "category": "service",
        "steps": [{"template": "auto_acknowledgement", "channels": ["email"]}],
        **spec,
    }  # fmt: skip

    with pytest.raises(RuleLoadError) as error:
        load_rules({"rules": [rule]})

    assert problem in str(error.value)
    assert not AutomationRule.objects.filter(key="broken").exists()


def test_a_repeated_rules_run_sends_no_second_reply(library, at, receive):
    receive()
    event = Event.objects.get(type="message.received")

    assert run_rules(event.pk) is None
    assert len(replies()) == 1
    assert Message.objects.filter(is_internal_note=True).count() == 0


# --- the demo ---------------------------------------------------------------------------------


def test_the_demo_shows_an_auto_reply_and_an_assignment_in_the_inbox(at, settings):
    from django.core.management import call_command

    from kommunikation.automation.demo import seed_inbound_demo

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("seed_demo", "--conversations", "20", "--seed", "7", stdout=None)
    load_library()
    load_rules_file(DEFAULT_FILE)

    assert seed_inbound_demo() == 10
    assert seed_inbound_demo() == 0  # a second run adds nothing
    dispatch_batch()

    sent = OutboundMessage.objects.filter(auto_submitted="auto-replied", status="sent")
    assert set(sent.values_list("template_key", flat=True)) == {
        "auto_absence", "auto_acknowledgement"
    }  # fmt: skip
    assert Message.objects.filter(outbound__in=sent, direction="out").count() == sent.count()
    routed = Conversation.objects.filter(tags__icontains="Buchhaltung")
    assert routed.count() == 5 and set(routed.values_list("priority", flat=True)) == {"high"}
    # the absent owner's new conversations went to the substitute
    handed_over = Message.objects.filter(is_internal_note=True, text__contains="Vertretung für")
    assert handed_over.count() == 5
    assert all(m.conversation.assignee_id for m in handed_over)


def test_the_inbox_filters_by_tag(library, at, receive, brand_a):
    from django.http import QueryDict

    from conversations.filters import filtered_conversations

    tagged = receive(subject="Rechnung 4711").conversation
    receive(subject="Frage zur Lieferung")
    lead = UserFactory(username="lead", brands=[brand_a], roles=["Team-Lead"])

    found = filtered_conversations(lead, QueryDict("schlagwort=Buchhaltung"))

    assert list(found) == [tagged]
    assert filtered_conversations(lead, QueryDict("schlagwort=Vertrieb")).count() == 0


def test_an_auto_reply_is_no_answer_the_customer_owes_a_reply_to(library, at, receive):
    from kommunikation.events.scans import scan_no_response

    receive()
    dispatch_batch()
    assert OutboundMessage.objects.get(auto_submitted="auto-replied").status == "sent"

    at(WEDNESDAY_NOON + dt.timedelta(days=15))
    scan_no_response(hours=[48])

    assert not Event.objects.filter(type="conversation.no_response").exists()
