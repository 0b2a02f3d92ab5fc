"""The daily scans: birthdays, anniversaries, seasonal greetings, inactive customers and
conversations without an answer become events once, per brand, on the right Berlin day."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django_q.models import Schedule

from config.schedules import SCHEDULES
from conversations.models import Direction, Message, Status
from kommunikation.events.catalogue import build_context
from kommunikation.events.models import Event
from kommunikation.events.scans import (
    scan_anniversaries,
    scan_birthdays,
    scan_inactive,
    scan_no_response,
    scan_seasonal,
    seasonal_dates,
)
from kommunikation.events.services import record_event
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory, SupplierFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


def events(type_: str):
    return Event.objects.filter(type=type_).order_by("customer__pk", "source_key")


def assert_builds(event: Event) -> dict:
    """The payload satisfies the type's builder: a template gets all its variables."""
    return build_context(event.type, event.payload)


# --- birthdays ------------------------------------------------------------------------------


def test_it_records_todays_birthdays_once_even_when_run_twice(brand_a, time_machine):
    time_machine.move_to(at(2026, 6, 16, 6, 5), tick=False)
    anna = CustomerFactory(brand=brand_a, birthday=dt.date(1980, 6, 16))
    CustomerFactory(brand=brand_a, birthday=dt.date(1980, 6, 17))
    CustomerFactory(brand=brand_a, birthday=None)

    first = scan_birthdays()
    second = scan_birthdays()

    assert (first.created, first.existing) == (1, 0)
    assert (second.created, second.existing) == (0, 1)
    [event] = events("customer.birthday")
    assert (event.customer, event.brand, event.source) == (anna, brand_a, "scan:birthday")
    assert event.source_key == f"customer:{anna.pk}:2026"
    assert event.occurred_at == at(2026, 6, 16)
    assert event.record_kind == "customer"
    assert assert_builds(event) == {"offer_code": "", "offer_text": ""}


def test_the_berlin_date_decides_not_utc(brand_a, time_machine):
    # 00:30 in Berlin on 16 June is still 15 June in UTC
    time_machine.move_to(at(2026, 6, 16, 0, 30), tick=False)
    CustomerFactory(brand=brand_a, birthday=dt.date(1980, 6, 16))

    assert scan_birthdays().created == 1


def test_29_february_birthdays_come_on_28_february_in_other_years(brand_a):
    leap_child = CustomerFactory(brand=brand_a, birthday=dt.date(1988, 2, 29))
    feb_28 = CustomerFactory(brand=brand_a, birthday=dt.date(1990, 2, 28))

    scan_birthdays(day=dt.date(2026, 2, 28))
    assert {e.customer for e in events("customer.birthday")} == {leap_child, feb_28}

    # no second one on 1 March
    assert scan_birthdays(day=dt.date(2026, 3, 1)).created == 0


def test_29_february_birthdays_come_on_29_february_in_leap_years(brand_a):
    leap_child = CustomerFactory(brand=brand_a, birthday=dt.date(1988, 2, 29))
    feb_28 = CustomerFactory(brand=brand_a, birthday=dt.date(1990, 2, 28))

    scan_birthdays(day=dt.date(2028, 2, 28))
    assert [e.customer for e in events("customer.birthday")] == [feb_28]

    scan_birthdays(day=dt.date(2028, 2, 29))
    assert [e.customer for e in events("customer.birthday")] == [leap_child, feb_28]
    assert Event.objects.filter(customer=leap_child).get().source_key.endswith(":2028")


def test_each_birthday_event_belongs_to_the_customers_brand(brand_a, brand_b):
    anna = CustomerFactory(brand=brand_a, birthday=dt.date(1980, 6, 16))
    bernd = CustomerFactory(brand=brand_b, birthday=dt.date(1975, 6, 16))

    scan_birthdays(day=dt.date(2026, 6, 16))

    assert {(e.customer, e.brand) for e in events("customer.birthday")} == {
        (anna, brand_a),
        (bernd, brand_b),
    }


# --- anniversaries --------------------------------------------------------------------------


def test_it_records_anniversaries_with_the_years_but_not_the_first_day(brand_a):
    five = CustomerFactory(brand=brand_a, customer_since=dt.date(2021, 6, 16))
    CustomerFactory(brand=brand_a, customer_since=dt.date(2026, 6, 16))  # won today
    CustomerFactory(brand=brand_a, customer_since=dt.date(2021, 6, 15))

    result = scan_anniversaries(day=dt.date(2026, 6, 16))
    again = scan_anniversaries(day=dt.date(2026, 6, 16))

    assert (result.created, again.created, again.existing) == (1, 0, 1)
    [event] = events("customer.anniversary")
    assert event.customer == five
    assert assert_builds(event) == {"years": 5, "customer_since": dt.date(2021, 6, 16)}


def test_a_customer_won_on_29_february_has_the_anniversary_on_28_february(brand_a):
    leap = CustomerFactory(brand=brand_a, customer_since=dt.date(2024, 2, 29))

    scan_anniversaries(day=dt.date(2025, 2, 28))
    scan_anniversaries(day=dt.date(2028, 2, 28))  # a leap year: not yet
    scan_anniversaries(day=dt.date(2028, 2, 29))

    assert [(e.customer, e.payload["years"]) for e in events("customer.anniversary")] == [
        (leap, 1),
        (leap, 4),
    ]


# --- seasonal greetings ---------------------------------------------------------------------


def test_seasonal_greetings_come_on_the_configured_days(brand_a, brand_b, settings):
    settings.SCAN_SEASONAL_DATES = ["christmas=12-20", "new_year=12-30", "easter=easter-2"]
    anna = CustomerFactory(brand=brand_a)
    supplier = SupplierFactory(brand=brand_a)
    bernd = CustomerFactory(brand=brand_b)

    assert scan_seasonal(day=dt.date(2026, 12, 18)).created == 0
    assert scan_seasonal(day=dt.date(2026, 12, 20)).created == 3
    assert scan_seasonal(day=dt.date(2026, 12, 20)).existing == 3
    assert scan_seasonal(day=dt.date(2026, 12, 30)).created == 3
    # Good Friday 2026 is 3 April (Easter Sunday 5 April)
    assert scan_seasonal(day=dt.date(2026, 4, 3)).created == 3

    greetings = events("seasonal.greeting")
    assert {(e.customer, e.brand) for e in greetings} == {
        (anna, brand_a),
        (supplier, brand_a),
        (bernd, brand_b),
    }
    christmas = greetings.get(customer=anna, payload__occasion="christmas")
    assert christmas.occurred_at == at(2026, 12, 20)
    assert assert_builds(christmas) == {"year": 2026, "occasion": "christmas"}


def test_the_seasonal_setting_is_checked(settings):
    settings.SCAN_SEASONAL_DATES = ["christmas=12-20", "new_year=easter+1"]
    assert seasonal_dates(2027) == {
        "christmas": dt.date(2027, 12, 20),
        "new_year": dt.date(2027, 3, 29),
    }
    for wrong in (["birthday=06-16"], ["christmas=24.12."], ["christmas=02-30"]):
        settings.SCAN_SEASONAL_DATES = wrong
        with pytest.raises(ImproperlyConfigured):
            seasonal_dates(2026)


# --- inactive customers ---------------------------------------------------------------------


def order_event(customer, when: dt.datetime, kind: str = "order", key: str = "1"):
    types = {"order": "order.created", "invoice": "invoice.created", "quote": "quote.created"}
    event, _created = record_event(
        brand=customer.brand,
        customer=customer,
        type=types[kind],
        source="sevdesk",
        source_key=f"{kind}:{customer.pk}:{key}",
        occurred_at=when,
        payload={"number": f"{kind}-{key}"},
    )
    return event


def test_a_customer_is_inactive_after_the_months_not_before(brand_a, settings):
    settings.SCAN_INACTIVE_MONTHS = 6
    anna = CustomerFactory(brand=brand_a)
    order_event(anna, at(2026, 1, 15, 10, 0))

    assert scan_inactive(day=dt.date(2026, 7, 14)).created == 0  # a day short of 6 months
    result = scan_inactive(day=dt.date(2026, 7, 15))  # 6 months to the day
    assert scan_inactive(day=dt.date(2026, 7, 16)).existing == 1  # next day: the same silence

    assert result.created == 1
    [event] = events("customer.inactive")
    assert event.customer == anna
    assert event.source_key == f"customer:{anna.pk}:since:2026-01-15"
    assert assert_builds(event)["last_order_date"] == dt.date(2026, 1, 15)
    assert event.payload["months"] == 6


def test_a_new_invoice_ends_the_silence_and_a_new_one_makes_a_new_event(brand_a, settings):
    settings.SCAN_INACTIVE_MONTHS = 6
    anna = CustomerFactory(brand=brand_a)
    order_event(anna, at(2026, 1, 15, 10, 0))
    scan_inactive(day=dt.date(2026, 8, 1))
    order_event(anna, at(2026, 8, 10, 10, 0), kind="invoice")

    assert scan_inactive(day=dt.date(2026, 9, 1)).created == 0
    assert scan_inactive(day=dt.date(2027, 2, 11)).created == 1

    assert [e.payload["last_order_date"] for e in events("customer.inactive")] == [
        "2026-01-15",
        "2026-08-10",
    ]


def test_only_orders_and_invoices_count_and_prospects_and_suppliers_are_skipped(brand_a, settings):
    settings.SCAN_INACTIVE_MONTHS = 6
    quoted = CustomerFactory(brand=brand_a)
    order_event(quoted, at(2025, 1, 10, 10, 0))
    order_event(quoted, at(2026, 6, 1, 10, 0), kind="quote")  # a quote is no order
    CustomerFactory(brand=brand_a)  # a prospect: never ordered
    supplier = SupplierFactory(brand=brand_a)
    order_event(supplier, at(2025, 1, 10, 10, 0), kind="invoice")

    scan_inactive(day=dt.date(2026, 7, 1))

    assert [e.customer for e in events("customer.inactive")] == [quoted]
    assert events("customer.inactive").get().payload["last_order_date"] == "2025-01-10"


def test_inactivity_is_judged_per_brand(brand_a, brand_b, settings):
    settings.SCAN_INACTIVE_MONTHS = 6
    anna = CustomerFactory(brand=brand_a)
    order_event(anna, at(2025, 1, 10, 10, 0))
    bernd = CustomerFactory(brand=brand_b)
    order_event(bernd, at(2026, 6, 1, 10, 0))

    scan_inactive(day=dt.date(2026, 7, 1))

    [event] = events("customer.inactive")
    assert (event.customer, event.brand) == (anna, brand_a)


# --- no response ----------------------------------------------------------------------------


def conversation_with(brand, customer, *messages, **fields):
    """messages: (direction, sent or received at, extra fields)."""
    conversation = ConversationFactory(brand=brand, customer=customer, **fields)
    for direction, when, *extra in messages:
        outbound = direction == Direction.OUTBOUND
        options = {
            "sent_at": when if outbound else None,
            "status": Message.State.SENT if outbound else Message.State.RECEIVED,
            **(extra[0] if extra else {}),
        }
        MessageFactory(conversation=conversation, direction=direction, created_at=when, **options)
    conversation.last_message_at = max(m[1] for m in messages)
    conversation.save(update_fields=["last_message_at"])
    return conversation


def test_no_response_fires_per_threshold_after_our_unanswered_message(brand_a, settings):
    settings.SCAN_NO_RESPONSE_HOURS = [48, 72]
    anna = CustomerFactory(brand=brand_a)
    sent = at(2026, 6, 1, 10, 0)
    conv = conversation_with(
        brand_a,
        anna,
        (Direction.INBOUND, at(2026, 5, 31, 9, 0)),
        (Direction.OUTBOUND, sent),
        subject="Ihr Angebot AN-2026-0042",
    )

    assert scan_no_response(now=sent + dt.timedelta(hours=47, minutes=59)).created == 0
    assert scan_no_response(now=sent + dt.timedelta(hours=48)).created == 1
    assert scan_no_response(now=sent + dt.timedelta(hours=49)).existing == 1
    assert scan_no_response(now=sent + dt.timedelta(hours=80)).created == 1

    first, second = Event.objects.filter(type="conversation.no_response").order_by("occurred_at")
    assert (first.customer, first.brand, first.record_id) == (anna, brand_a, str(conv.pk))
    assert first.occurred_at == sent + dt.timedelta(hours=48)
    context = assert_builds(first)
    assert context["hours_without_response"] == 48
    assert context["last_message_at"] == sent
    assert context["conversation_subject"] == "Ihr Angebot AN-2026-0042"
    assert context["conversation_reference"] == first.record_number != ""
    assert second.payload["hours_without_response"] == 72


def test_no_response_needs_our_message_last_and_unanswered(brand_a, settings):
    settings.SCAN_NO_RESPONSE_HOURS = [48]
    anna = CustomerFactory(brand=brand_a)
    long_ago = at(2026, 6, 1, 10, 0)
    now = at(2026, 6, 10, 10, 0)
    # the customer answered: the ball is in our court (that is the SLA's business)
    conversation_with(
        brand_a,
        anna,
        (Direction.OUTBOUND, long_ago),
        (Direction.INBOUND, long_ago + dt.timedelta(hours=5)),
    )
    # only the customer wrote
    conversation_with(brand_a, anna, (Direction.INBOUND, long_ago))
    # our message failed: nobody could answer it
    conversation_with(brand_a, anna, (Direction.OUTBOUND, long_ago, {"status": "failed"}))
    # closed conversations are done
    conversation_with(brand_a, anna, (Direction.OUTBOUND, long_ago), status=Status.CLOSED)
    # newsletters do not answer
    conversation_with(brand_a, anna, (Direction.OUTBOUND, long_ago), classification="newsletter")
    # an internal note after our message does not reset the count, and is no answer
    waiting = conversation_with(
        brand_a,
        anna,
        (Direction.OUTBOUND, long_ago),
        (Direction.OUTBOUND, long_ago + dt.timedelta(hours=1), {"is_internal_note": True}),
    )

    result = scan_no_response(now=now)

    assert result.created == 1
    assert Event.objects.get(type="conversation.no_response").record_id == str(waiting.pk)


def test_a_new_message_of_ours_starts_the_count_again(brand_a, settings):
    settings.SCAN_NO_RESPONSE_HOURS = [48]
    anna = CustomerFactory(brand=brand_a)
    first = at(2026, 6, 1, 10, 0)
    conv = conversation_with(brand_a, anna, (Direction.OUTBOUND, first))
    scan_no_response(now=first + dt.timedelta(hours=50))
    later = first + dt.timedelta(hours=60)
    MessageFactory(conversation=conv, direction=Direction.OUTBOUND, created_at=later, sent_at=later)

    assert scan_no_response(now=later + dt.timedelta(hours=47)).created == 0
    assert scan_no_response(now=later + dt.timedelta(hours=48)).created == 1
    assert Event.objects.filter(type="conversation.no_response").count() == 2


def test_no_response_events_keep_the_conversations_brand(brand_a, brand_b, settings):
    settings.SCAN_NO_RESPONSE_HOURS = [48]
    sent = at(2026, 6, 1, 10, 0)
    conversation_with(brand_a, CustomerFactory(brand=brand_a), (Direction.OUTBOUND, sent))
    unknown = conversation_with(brand_b, None, (Direction.OUTBOUND, sent))

    scan_no_response(now=sent + dt.timedelta(days=3))

    by_brand = {e.brand: e for e in Event.objects.filter(type="conversation.no_response")}
    assert set(by_brand) == {brand_a, brand_b}
    assert by_brand[brand_b].customer is None
    assert by_brand[brand_b].customer_ref == {"address": unknown.counterpart}


# --- schedules and the command --------------------------------------------------------------

SCAN_SCHEDULES = {
    "scan-birthdays": "kommunikation.tasks.scan_birthdays",
    "scan-anniversaries": "kommunikation.tasks.scan_anniversaries",
    "scan-seasonal": "kommunikation.tasks.scan_seasonal",
    "scan-inactive": "kommunikation.tasks.scan_inactive",
    "scan-no-response": "kommunikation.tasks.scan_no_response",
}


def test_every_scan_is_a_schedule_that_sync_schedules_registers():
    table = {name: (func, why) for name, func, _cron, why in SCHEDULES}
    assert {name: table[name][0] for name in SCAN_SCHEDULES} == SCAN_SCHEDULES

    call_command("sync_schedules", stdout=StringIO())

    rows = {s.name: s for s in Schedule.objects.filter(name__in=SCAN_SCHEDULES)}
    assert {name: row.func for name, row in rows.items()} == SCAN_SCHEDULES
    assert all(row.schedule_type == Schedule.CRON for row in rows.values())


def test_the_scheduled_task_runs_the_scan(brand_a, time_machine):
    from kommunikation.tasks import scan_birthdays as task

    time_machine.move_to(at(2026, 6, 16, 6, 5), tick=False)
    CustomerFactory(brand=brand_a, birthday=dt.date(1980, 6, 16))

    assert task().startswith("birthdays: 1 neu")
    assert Event.objects.filter(type="customer.birthday").count() == 1


def test_run_scans_runs_every_scan_for_a_date_and_says_what_it_did(brand_a, settings):
    settings.SCAN_SEASONAL_DATES = ["christmas=12-20"]
    CustomerFactory(brand=brand_a, birthday=dt.date(1980, 12, 20))
    out = StringIO()

    call_command("run_scans", "--date", "2026-12-20", stdout=out)
    call_command("run_scans", "--date", "2026-12-20", stdout=StringIO())

    lines = out.getvalue().splitlines()
    assert "birthdays: 1 neu, 0 schon erfasst, 0 abgelehnt" in lines
    assert "seasonal: 1 neu, 0 schon erfasst, 0 abgelehnt" in lines
    assert lines[-1] == "5 Scans, 2 Ereignisse neu erfasst."
    assert Event.objects.count() == 2


def test_run_scans_only_runs_the_named_scan(brand_a):
    CustomerFactory(
        brand=brand_a, birthday=dt.date(1980, 6, 16), customer_since=dt.date(2020, 6, 16)
    )
    out = StringIO()

    call_command("run_scans", "--only", "anniversaries", "--date", "2026-06-16", stdout=out)

    assert out.getvalue().splitlines() == [
        "anniversaries: 1 neu, 0 schon erfasst, 0 abgelehnt",
        "1 Scans, 1 Ereignisse neu erfasst.",
    ]
    assert list(Event.objects.values_list("type", flat=True)) == ["customer.anniversary"]


def test_run_scans_refuses_a_wrong_date_and_an_unknown_scan():
    with pytest.raises(CommandError, match="JJJJ-MM-TT"):
        call_command("run_scans", "--date", "16.06.2026")
    with pytest.raises(CommandError):
        call_command("run_scans", "--only", "horoscopes")


def test_run_scans_speaks_english_in_english(brand_a, settings):
    from django.utils import translation

    out = StringIO()
    with translation.override("en"):
        call_command("run_scans", "--only", "birthdays", "--date", "2026-06-16", stdout=out)
    assert out.getvalue().splitlines()[-1] == "1 scans, 0 events newly recorded."
