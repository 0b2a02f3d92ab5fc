"""The Automatisierung pages: rules with their counts, the event log, one event's reasons,
the forward calendar with the gate's postponements, and the dry run that changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from compliance.models import Suppression
from kommunikation.automation.engine import run_rules
from kommunikation.automation.models import PlannedState, PlannedStep, RuleRun
from kommunikation.models import OutboundMessage, OutboundStatus
from kommunikation.roles import ADMIN, AGENT, TEAM_LEAD
from tests.factories import ContactPointFactory, CustomerFactory, UserFactory
from tests.templates_app.conftest import make_template
from tests.test_brand_isolation_sweep import changed_tables, snapshot

from .automation_helpers import BERLIN, event
from .automation_helpers import rule as make_rule
from .conftest import grant

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)  # a Wednesday
PAYMENT = {"invoice_number": "RE-2026-0042", "amount": "119.00", "payment_date": "2026-11-25"}


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def lead_a(brand_a):
    return UserFactory(username="lea.lead", brands=[brand_a], roles=[TEAM_LEAD])


@pytest.fixture
def admin_a(brand_a):
    return UserFactory(username="alex.admin", brands=[brand_a], roles=[ADMIN])


@pytest.fixture
def thanks(brand_a):
    make_template(
        key="payment_thanks", event_type="payment.received",
        subject="Danke für Ihre Zahlung {{ invoice_number }}",
        text="Guten Tag {{ customer.first_name }}, wir haben {{ amount }} erhalten.",
    )  # fmt: skip
    return rule(
        "payment-thanks", "payment.received",
        {"template_key": "payment_thanks", "channels": ["email"]},
        brand=brand_a, name="Dank für die Zahlung",
        conditions=[{"field": "payload.amount", "op": ">=", "value": 100}],
    )  # fmt: skip


def rule(key, event_type, *steps, name="", **fields):
    made = make_rule(key, event_type, *steps, **fields)
    if name:
        made.name = name
        made.save(update_fields=["name"])
    return made


def figures(html: str, rule_pk: int) -> dict[str, int]:
    row = html.split(f'id="rule-{rule_pk}"')[1].split("</tr>")[0]
    return {k: int(v) for k, v in re.findall(r'data-figure="(\w+)">(\d+)<', row)}


# --- permissions -------------------------------------------------------------------------------


def test_an_agent_gets_403_on_every_automation_page(client, brand_a, thanks, customer):
    agent = UserFactory(username="anna.a", brands=[brand_a], roles=[AGENT])
    ev = event(brand_a, customer, "payment.received", PAYMENT)
    client.force_login(agent)

    for url in [
        "/automatisierung/",
        "/automatisierung/ereignisse/",
        f"/automatisierung/ereignisse/{ev.pk}/",
        f"/automatisierung/regeln/{thanks.pk}/",
        f"/automatisierung/regeln/{thanks.pk}/probelauf/",
        f"/kunden/{customer.pk}/geplant/",
    ]:
        assert client.get(url).status_code == 403, url
    page = client.get(f"/kunden/{customer.pk}/").text
    assert 'id="planned"' not in page
    assert "/automatisierung/" not in client.get("/").text


def test_team_leads_and_admins_reach_the_page_from_the_inbox(client, lead_a, admin_a):
    for user in (lead_a, admin_a):
        client.force_login(user)
        assert 'href="/automatisierung/"' in client.get("/").text
        assert client.get("/automatisierung/").status_code == 200


def test_a_team_lead_of_brand_a_sees_nothing_of_brand_b(
    client, clock, lead_a, brand_a, brand_b, thanks
):
    make_template(key="b_only", event_type="payment.received", subject="B", text="x")
    own_b = rule(
        "b-rule", "payment.received", {"template_key": "b_only", "channels": ["email"]},
        brand=brand_b, name="Regel der Marke B",
    )  # fmt: skip
    everywhere = rule(
        "all-brands", "payment.received", {"template_key": "payment_thanks", "channels": ["email"]},
        name="Für alle Marken",
    )  # fmt: skip
    customer_b = CustomerFactory(brand=brand_b, last_name="Geheim", email="geheim@b.example")
    ev_b = event(brand_b, customer_b, "payment.received", {**PAYMENT, "invoice_number": "RE-B-1"})
    run_rules(ev_b.pk)
    assert RuleRun.objects.filter(rule=everywhere, matched=True).count() == 1
    client.force_login(lead_a)

    overview = client.get("/automatisierung/").text
    assert "Regel der Marke B" not in overview
    assert "Für alle Marken" in overview
    assert figures(overview, everywhere.pk)["fired"] == 0  # brand B's run is not counted
    assert figures(overview, everywhere.pk)["planned"] == 0
    log = client.get("/automatisierung/ereignisse/").text
    assert "RE-B-1" not in log and "Geheim" not in log
    assert client.get(f"/automatisierung/ereignisse/{ev_b.pk}/").status_code == 404
    assert client.get(f"/automatisierung/regeln/{own_b.pk}/").status_code == 404
    assert client.get(f"/automatisierung/regeln/{own_b.pk}/probelauf/").status_code == 404
    assert client.get(f"/kunden/{customer_b.pk}/geplant/").status_code == 404
    rule_page = client.get(f"/automatisierung/regeln/{everywhere.pk}/").text
    assert "Geheim" not in rule_page and "geheim@b.example" not in rule_page
    assert "In den nächsten 7 Tagen ist nichts geplant." in rule_page


# --- counts ------------------------------------------------------------------------------------


def test_the_counts_of_the_last_seven_days_come_from_the_runs_and_the_outbox(
    client, clock, lead_a, brand_a, thanks, customer, django_assert_max_num_queries
):
    # an old run (8 days ago) is not counted
    clock.move_to(NOW - dt.timedelta(days=8), tick=False)
    run_rules(event(brand_a, customer, "payment.received", PAYMENT).pk)
    clock.move_to(NOW, tick=False)
    # matched and planned: one sent, one refused by the gate, one failed, one cancelled
    rows = []
    for number in ("A", "B", "C", "D"):
        ev = event(brand_a, customer, "payment.received", {**PAYMENT, "invoice_number": number})
        run_rules(ev.pk)
        rows.append(PlannedStep.objects.get(run__event=ev).outbound)
    OutboundMessage.objects.filter(pk=rows[0].pk).update(status=OutboundStatus.SENT, sent_at=NOW)
    OutboundMessage.objects.filter(pk=rows[1].pk).update(
        status=OutboundStatus.REFUSED, decided_at=NOW, decision="refuse"
    )
    OutboundMessage.objects.filter(pk=rows[2].pk).update(status=OutboundStatus.FAILED)
    PlannedStep.objects.filter(outbound=rows[3]).update(
        state=PlannedState.CANCELLED, cancelled_at=NOW
    )
    # not matched (amount below 100): a run, but not "fired"
    run_rules(event(brand_a, customer, "payment.received", {**PAYMENT, "amount": "5"}).pk)
    # matched but skipped: a customer without an email address
    nobody = CustomerFactory(brand=brand_a, email="")
    nobody.contact_points.all().delete()
    run_rules(event(brand_a, nobody, "payment.received", PAYMENT).pk)
    client.force_login(lead_a)

    with django_assert_max_num_queries(16):
        page = client.get("/automatisierung/").text

    assert figures(page, thanks.pk) == {
        "fired": 5, "planned": 4, "sent": 1, "cancelled": 1, "skipped": 1, "refused": 1,
        "failed": 1,
    }  # fmt: skip


def test_the_overview_costs_the_same_queries_for_one_rule_or_ten(
    client, clock, lead_a, brand_a, thanks, django_assert_num_queries
):
    client.force_login(lead_a)
    client.get("/automatisierung/")  # warm the session and permission caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        client.get("/automatisierung/")
    for n in range(9):
        rule(f"r{n}", "payment.received", {"template_key": "payment_thanks", "channels": ["email"]},
             brand=brand_a)  # fmt: skip
    with CaptureQueriesContext(connection) as ten:
        page = client.get("/automatisierung/").text

    assert page.count('id="rule-') == 10
    assert len(ten.captured_queries) == len(one.captured_queries)


# --- the event log -----------------------------------------------------------------------------


@pytest.fixture
def log_events(clock, brand_a, customer, thanks):
    other = CustomerFactory(brand=brand_a, last_name="Zweitkundin", email="z@kunde.example")
    made = {
        "paid": event(
            brand_a, customer, "payment.received", PAYMENT, at=NOW - dt.timedelta(days=1)
        ),  # fmt: skip
        "overdue": event(
            brand_a,
            other,
            "invoice.overdue",
            {
                "invoice_number": "RE-77",
                "invoice_date": "2026-10-01",
                "amount": "50",
                "due_date": "2026-10-15",
                "days_overdue": 40,
            },
            record_id="inv-77",
            at=NOW - dt.timedelta(days=20),
        ),  # fmt: skip
    }
    run_rules(made["paid"].pk)
    return made


def test_the_event_log_filters_by_each_url_parameter(client, lead_a, log_events, customer):
    client.force_login(lead_a)
    paid, overdue = log_events["paid"], log_events["overdue"]

    def listed(query: str) -> set[int]:
        html = client.get(f"/automatisierung/ereignisse/?{query}").text
        return {int(pk) for pk in re.findall(r'<tr id="event-(\d+)"', html)}

    assert listed("") == {paid.pk, overdue.pk}
    assert listed("typ=invoice.overdue") == {overdue.pk}
    assert listed("typ=invoice.*") == {overdue.pk}
    assert listed("quelle=test") == {paid.pk, overdue.pk}
    assert listed("quelle=sevdesk") == set()
    assert listed("ergebnis=processed") == {paid.pk}
    assert listed("ergebnis=pending") == {overdue.pk}
    assert listed(f"kunde={customer.pk}") == {paid.pk}
    assert listed("kunde=zweitkund") == {overdue.pk}
    assert listed("vorgang=inv-77") == {overdue.pk}
    assert listed("von=2026-11-20") == {paid.pk}
    assert listed("bis=2026-11-20") == {overdue.pk}
    assert listed("von=2026-11-24&bis=2026-11-24&typ=payment.received") == {paid.pk}
    assert listed("von=kaputt&ergebnis=unsinn") == {paid.pk, overdue.pk}  # ignored
    assert listed("von=20.11.2026") == {paid.pk}  # as typed in the German date field
    html = client.get("/automatisierung/ereignisse/?von=2026-11-20").text
    assert 'type="text" name="von" value="20.11.2026"' in html


def test_the_event_log_pages_by_keyset(client, clock, lead_a, brand_a, customer):
    made = [
        event(brand_a, customer, "payment.received", {**PAYMENT, "invoice_number": f"N{n}"},
              at=NOW - dt.timedelta(minutes=n // 2))  # pairs at the same time: the id decides
        for n in range(53)
    ]  # fmt: skip
    client.force_login(lead_a)

    first = client.get("/automatisierung/ereignisse/?quelle=test").text
    cursor = re.search(r'href="[^"]*nach=([^"]+)"', first).group(1)
    second = client.get(
        "/automatisierung/ereignisse/?quelle=test&nach=" + cursor.replace("&amp;", "&"),
        headers={"HX-Request": "true"},
    )

    def ids(html):
        return [int(pk) for pk in re.findall(r'<tr id="event-(\d+)"', html)]

    newest_first = sorted(made, key=lambda e: (e.occurred_at, e.pk), reverse=True)
    assert ids(first) == [e.pk for e in newest_first[:50]]
    assert ids(second.text) == [e.pk for e in newest_first[50:]]
    assert "<html" not in second.text  # the rows alone
    assert "nach=" not in second.text  # the last page


def test_one_event_shows_which_rules_matched_and_what_they_planned(
    client, clock, admin_a, brand_a, customer, thanks
):
    rule(
        "vip-only", "payment.received", {"template_key": "payment_thanks", "channels": ["email"]},
        brand=brand_a, name="Nur VIP", conditions=[{"field": "customer.vip", "op": "equals",
                                                     "value": True}],
    )  # fmt: skip
    ev = event(brand_a, customer, "payment.received", PAYMENT)
    run_rules(ev.pk)
    row = PlannedStep.objects.get(run__rule=thanks).outbound
    client.force_login(admin_a)

    page = client.get(f"/automatisierung/ereignisse/{ev.pk}/").text

    assert "RE-2026-0042" in page  # the data
    assert "Dank für die Zahlung" in page and "Nur VIP" in page
    assert "Alle Bedingungen erfüllt." in page
    assert "Bedingung 1 nicht erfüllt: customer.vip equals True (ist: False)." in page
    assert "anna@kunde.example" in page
    assert f"/admin/kommunikation/outboundmessage/{row.pk}/change/" in page
    assert "wartet" in page  # the outbox row's status
    assert "Mi 25.11.2026 12:00" in page  # planned for now


# --- the forward calendar ------------------------------------------------------------------------


def planned_row(customer, *, channel, at, category="transactional", key="payment_thanks"):
    """A waiting rule row for the customer at ``at`` (as the engine plans it)."""
    ev = event(customer.brand, customer, "payment.received", PAYMENT)
    run = RuleRun.objects.create(event=ev, rule=None, rule_key="handmade", matched=True)
    from kommunikation.outbox import enqueue_outbound

    row = enqueue_outbound(
        brand=customer.brand, customer=customer, channels=[channel], category=category,
        idempotency_key=f"cal-{channel}-{at.isoformat()}", source="rule", template_key=key,
        not_before=at, trigger=False,
    )  # fmt: skip
    PlannedStep.objects.create(
        run=run, position=0, brand=customer.brand, customer=customer, template_key=key,
        channels=[channel], planned_for=at, state=PlannedState.PLANNED, outbound=row,
    )  # fmt: skip
    return row


def calendar_entry(html: str, row) -> str:
    return html.split(f'id="planned-{row.pk}"')[1].split("</li>\n    </ul>")[0]


def test_the_calendar_shows_the_quiet_hours_postponement_to_the_next_morning(
    client, clock, lead_a, customer
):
    ContactPointFactory(customer=customer, channel="phone", value="+4915112345678", type="mobile")
    late = planned_row(customer, channel="sms", at=dt.datetime(2026, 11, 26, 21, 30, tzinfo=BERLIN))
    client.force_login(lead_a)

    html = client.get(f"/kunden/{customer.pk}/geplant/", headers={"HX-Request": "true"}).text

    entry = calendar_entry(html, late)
    assert "Donnerstag, 26.11.2026" in html
    assert "21:30" in entry
    assert "verschoben auf Fr 27.11.2026 08:00" in entry
    assert "Ruhezeit für sms, verschoben auf 27.11.2026 08:00." in entry
    assert OutboundMessage.objects.get(pk=late.pk).next_attempt_at == late.next_attempt_at


def test_the_calendar_moves_sunday_marketing_to_monday_and_names_refusals(
    client, clock, settings, lead_a, customer, brand_a
):
    settings.COMPLIANCE_NO_MARKETING_ON_REST_DAYS = True
    grant(customer, "marketing", "email")
    sunday = planned_row(customer, channel="email", category="marketing", key="newsletter",
                         at=dt.datetime(2026, 11, 29, 10, 0, tzinfo=BERLIN))  # fmt: skip
    no_consent = planned_row(customer, channel="email", category="feedback", key="survey",
                             at=dt.datetime(2026, 11, 27, 10, 0, tzinfo=BERLIN))  # fmt: skip
    far = planned_row(customer, channel="email", at=dt.datetime(2026, 12, 15, 9, 0, tzinfo=BERLIN))
    client.force_login(lead_a)

    week = client.get(f"/kunden/{customer.pk}/geplant/", headers={"HX-Request": "true"}).text
    month = client.get(f"/kunden/{customer.pk}/geplant/?tage=30").text

    assert "verschoben auf Mo 30.11.2026 00:00" in calendar_entry(week, sunday)
    refused = calendar_entry(week, no_consent)
    assert "abgelehnt" in refused and "Keine Einwilligung für feedback über email." in refused
    assert f'id="planned-{far.pk}"' not in week
    assert f'id="planned-{far.pk}"' in month and "wird gesendet" in calendar_entry(month, far)


def test_the_calendar_names_a_suppressed_address_and_the_frequency_cap(
    client, clock, settings, lead_a, customer
):
    settings.COMPLIANCE_WEEKLY_CAPS = {"email": 2}
    grant(customer, "marketing", "email")
    rows = [
        planned_row(customer, channel="email", category="marketing", key=f"promo{n}",
                    at=dt.datetime(2026, 11, 26, 10 + n, 0, tzinfo=BERLIN))
        for n in range(3)
    ]  # fmt: skip
    client.force_login(lead_a)

    html = client.get(f"/kunden/{customer.pk}/geplant/").text
    assert "wird gesendet" in calendar_entry(html, rows[0])
    assert "wird gesendet" in calendar_entry(html, rows[1])
    assert "Frequenzgrenze erreicht: höchstens 2 Nachrichten in 7 Tagen." in calendar_entry(
        html, rows[2]
    )

    Suppression.objects.create(channel="email", value="anna@kunde.example", reason="hard_bounce")
    html = client.get(f"/kunden/{customer.pk}/geplant/").text
    assert "anna@kunde.example steht auf der Sperrliste" in calendar_entry(html, rows[0])


def test_the_rule_page_shows_its_calendar_and_the_customer_page_links_it(
    client, clock, lead_a, brand_a, customer, thanks
):
    thanks.steps.update(timing="after", amount=2, unit="days")
    run_rules(event(brand_a, customer, "payment.received", PAYMENT).pk)
    client.force_login(lead_a)

    page = client.get(f"/automatisierung/regeln/{thanks.pk}/").text
    customer_page = client.get(f"/kunden/{customer.pk}/").text

    assert "Freitag, 27.11.2026" in page and "anna@kunde.example" in page
    assert f'hx-get="/kunden/{customer.pk}/geplant/"' in customer_page
    assert f'href="/automatisierung/regeln/{thanks.pk}/probelauf/"' in page


# --- the dry run -------------------------------------------------------------------------------


def test_the_dry_run_form_starts_with_the_catalogues_example_values(client, lead_a, thanks):
    client.force_login(lead_a)

    page = client.get(f"/automatisierung/regeln/{thanks.pk}/probelauf/").text

    assert "invoice_number" in page and "payment_date" in page


def test_the_dry_run_against_a_customer_matches_plans_and_previews_and_changes_nothing(
    client, clock, lead_a, brand_a, customer, thanks
):
    client.force_login(lead_a)
    before = snapshot()

    response = client.post(
        f"/automatisierung/regeln/{thanks.pk}/probelauf/",
        {"kunde": str(customer.pk), "daten": json.dumps(PAYMENT)},
    )

    assert response.status_code == 200
    page = response.text
    assert "Die Regel trifft zu." in page and "Alle Bedingungen erfüllt." in page
    assert "anna@kunde.example" in page
    assert "Mi 25.11.2026 12:00" in page
    assert "wird gesendet" in page
    assert "Danke für Ihre Zahlung RE-2026-0042" in page  # the rendered preview
    assert "Guten Tag Anna" in page
    assert changed_tables(before, snapshot()) == []


def test_the_dry_run_names_the_failed_condition_and_changes_nothing(
    client, clock, lead_a, customer, thanks
):
    client.force_login(lead_a)
    before = snapshot()

    response = client.post(
        f"/automatisierung/regeln/{thanks.pk}/probelauf/",
        {
            "kunde": customer.number or str(customer.pk),
            "daten": json.dumps({**PAYMENT, "amount": "5"}),
        },
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Die Regel trifft nicht zu." in response.text
    assert "Bedingung 1 nicht erfüllt: payload.amount &gt;= 100 (ist: 5)." in response.text
    assert changed_tables(before, snapshot()) == []


def test_a_dry_run_of_an_inactive_rule_runs_it_and_leaves_it_inactive(
    client, clock, lead_a, brand_a, customer, thanks
):
    thanks.active = False
    thanks.save()
    client.force_login(lead_a)
    before = snapshot()

    page = client.post(
        f"/automatisierung/regeln/{thanks.pk}/probelauf/",
        {"kunde": str(customer.pk), "daten": json.dumps(PAYMENT)},
    ).text

    assert "Die Regel trifft zu." in page
    assert changed_tables(before, snapshot()) == []
    # the engine's cached rules do not keep the dry run's activation
    real = run_rules(event(brand_a, customer, "payment.received", PAYMENT).pk)
    assert real.matched == 0


def test_the_dry_run_answers_422_with_the_events_field_errors(client, lead_a, thanks):
    client.force_login(lead_a)

    response = client.post(f"/automatisierung/regeln/{thanks.pk}/probelauf/", {"daten": "[1, 2]"})
    assert response.status_code == 422
    assert "JSON-Objekt" in response.text

    response = client.post(f"/automatisierung/regeln/{thanks.pk}/probelauf/", {"daten": "{}"})
    assert response.status_code == 422


def test_the_rules_admin_page_links_the_dry_run(client, admin_a, thanks):
    client.force_login(admin_a)

    page = client.get(f"/admin/kommunikation/automationrule/{thanks.pk}/change/").text

    assert f'href="/automatisierung/regeln/{thanks.pk}/probelauf/"' in page


def test_the_pages_speak_english_with_the_language_cookie(client, lead_a, thanks):
    client.force_login(lead_a)
    client.cookies["django_language"] = "en"

    page = client.get("/automatisierung/").text

    assert "Event log" in page and "Rules and what they did in the last 7 days" in page
    assert "Ereignisprotokoll" not in page


def test_the_dry_run_shows_the_gates_quiet_hours_for_an_sms_at_night(
    client, time_machine, lead_a, brand_a, customer
):
    time_machine.move_to(dt.datetime(2026, 11, 25, 21, 30, tzinfo=BERLIN), tick=False)
    ContactPointFactory(customer=customer, channel="phone", value="+4915112345678", type="mobile")
    make_template(key="payment_sms", channel="sms", event_type="payment.received",
                  sms_text="Zahlung {{ invoice_number }} erhalten. Danke!")  # fmt: skip
    sms = rule("sms-thanks", "payment.received",
               {"template_key": "payment_sms", "channels": ["sms"]}, brand=brand_a)  # fmt: skip
    client.force_login(lead_a)
    before = snapshot()

    page = client.post(
        f"/automatisierung/regeln/{sms.pk}/probelauf/",
        {"kunde": str(customer.pk), "daten": json.dumps(PAYMENT)},
    ).text

    assert "Die Regel trifft zu." in page
    assert "+4915112345678" in page
    assert "verschoben auf Do 26.11.2026 08:00" in page
    assert "Ruhezeit für sms, verschoben auf 26.11.2026 08:00." in page
    assert "Zahlung RE-2026-0042 erhalten. Danke!" in page
    assert changed_tables(before, snapshot()) == []
