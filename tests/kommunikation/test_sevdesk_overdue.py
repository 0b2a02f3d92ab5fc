"""The daily overdue scan: invoice.overdue once per invoice and dunning level (frozen clock)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command

from kommunikation.models import Event
from kommunikation.sevdesk.overdue import scan_overdue
from kommunikation.sevdesk.sync import sync_connection

pytestmark = pytest.mark.django_db

BERLIN = dt.timezone(dt.timedelta(hours=1))


def at(day: str, hour: int = 7):
    return time_machine.travel(
        dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=BERLIN), tick=False
    )


def sync_on(connection, sleeps, day: str):
    with at(day):
        result = sync_connection(connection, sleep=sleeps.append)
    assert result.error == ""


def scan_on(day: str):
    with at(day):
        return scan_overdue()


@pytest.fixture
def invoice_due_feb_15(connection, fake, sleeps):
    fake.now = dt.datetime(2026, 2, 10, 8, 0, tzinfo=BERLIN)
    fake.contact("42", surename="Max", familyname="Mustermann")
    # invoice date 1 February + 14 days to pay: due 15 February
    fake.invoice("1", 42, sumGross="119", invoiceNumber="RE-1000")
    sync_on(connection, sleeps, "2026-02-10")
    return connection


def levels():
    return [
        (e.payload["level"], e.payload["days_overdue"], e.payload["level_label"])
        for e in Event.objects.filter(type="invoice.overdue").order_by("id")
    ]


def test_each_level_is_reported_once_on_the_day_it_is_reached(invoice_due_feb_15):
    days = ["2026-02-15", "2026-02-16", "2026-02-16", "2026-02-17", "2026-03-01", "2026-03-02"]
    counts = [scan_on(day).events for day in days]
    counts += [scan_on("2026-03-15").events, scan_on("2026-04-30").events]

    assert counts == [0, 1, 0, 0, 1, 0, 1, 0]
    assert levels() == [
        (1, 1, "Zahlungserinnerung"),
        (2, 14, "1. Mahnung"),
        (3, 28, "2. Mahnung"),
    ]
    keys = list(Event.objects.values_list("source_key", flat=True).order_by("id"))
    assert keys == [f"sevdesk:invoice:1:overdue:{n}" for n in (1, 2, 3)]


def test_the_letter_carries_amounts_dates_and_the_open_amount_after_a_partial_payment(
    invoice_due_feb_15, fake, sleeps, settings
):
    settings.DUNNING_FEES = ["0", "5", "10"]
    scan_on("2026-02-16")
    fake.now = dt.datetime(2026, 2, 20, 8, 0, tzinfo=BERLIN)
    fake.invoice("1", 42, status="750", paidAmount="19")
    sync_on(invoice_due_feb_15, sleeps, "2026-02-20")
    scan_on("2026-03-01")

    reminder, mahnung = (
        e.payload for e in Event.objects.filter(type="invoice.overdue").order_by("id")
    )
    assert (reminder["amount"], reminder["open_amount"], reminder["fee"]) == (
        "119.00",
        "119.00",
        "0",
    )
    assert reminder["due_date"] == "2026-02-15"
    assert reminder["invoice_date"] == "2026-02-01"
    assert reminder["new_due_date"] == "2026-02-23"
    assert mahnung["invoice_total"] == "119.00"
    assert (mahnung["paid_amount"], mahnung["open_amount"], mahnung["fee"]) == (
        "19.00", "100.00", "5"
    )  # fmt: skip


def test_a_paid_invoice_is_not_reported(invoice_due_feb_15, fake, sleeps):
    fake.now = dt.datetime(2026, 2, 14, 8, 0, tzinfo=BERLIN)
    fake.invoice("1", 42, status="1000", paidAmount="119", payDate="2026-02-14T00:00:00+01:00")
    sync_on(invoice_due_feb_15, sleeps, "2026-02-14")

    assert scan_on("2026-02-16").events == 0
    assert not Event.objects.filter(type="invoice.overdue").exists()


def test_levels_reached_before_the_first_sync_are_history(connection, fake, sleeps):
    fake.now = dt.datetime(2026, 2, 10, 8, 0, tzinfo=BERLIN)
    fake.contact("42", surename="Max", familyname="Mustermann")
    # due 15 January; at the first sync on 10 February it is 26 days overdue
    fake.invoice("1", 42, invoiceDate="2026-01-01T00:00:00+01:00")
    sync_on(connection, sleeps, "2026-02-10")

    first = scan_on("2026-02-10")
    later = scan_on("2026-02-12")  # 28 days: the 2. Mahnung is reached after the first sync

    assert (first.events, first.history) == (0, 1)
    assert later.events == 1
    assert levels() == [(3, 28, "2. Mahnung")]


def test_the_thresholds_come_from_the_settings(invoice_due_feb_15, settings):
    settings.DUNNING_DAYS = [3, 10]

    assert [scan_on(day).events for day in ["2026-02-17", "2026-02-18", "2026-02-25"]] == [0, 1, 1]
    assert [level for level, _d, _l in levels()] == [1, 2]


def test_the_scheduled_task_and_the_schedule_table_name_the_scan(invoice_due_feb_15):
    from config.schedules import SCHEDULES
    from kommunikation.sevdesk.tasks import scan_overdue_invoices

    with at("2026-02-16"):
        summary = scan_overdue_invoices()

    assert summary.startswith("1 ")
    names = {name: func for name, func, _cron, _why in SCHEDULES}
    assert names["overdue-invoices"] == "kommunikation.sevdesk.tasks.scan_overdue_invoices"
    assert names["sevdesk-sync"] == "kommunikation.sevdesk.tasks.sync_sevdesk"
    call_command("sync_schedules")
