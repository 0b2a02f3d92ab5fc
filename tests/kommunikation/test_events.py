"""Events: recorded once per source key, append-only, typed by the one catalogue."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from django.db import IntegrityError

from kommunikation.events.catalogue import (
    CUSTOM_FAMILY,
    EVENT_TYPES,
    ORDER_STATUSES,
    build_context,
    get_event_type,
)
from kommunikation.events.models import AppendOnlyError, Event, EventOutcome
from kommunikation.events.services import (
    EventConflict,
    InvalidEvent,
    event_recorded,
    record_event,
)
from templates_app.loading import LIBRARY_DIR
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def invoice_created(brand, **overrides):
    kwargs = {
        "brand": brand,
        "type": "invoice.created",
        "source": "sevdesk",
        "source_key": "invoice:4711:v1",
        "occurred_at": WHEN,
        "payload": {"invoice_number": "RE-1000", "amount": "119.00"},
        "record_id": "4711",
        "record_number": "RE-1000",
        "record_status": "200",
        "record_version": "1",
    } | overrides
    return record_event(**kwargs)


def test_an_event_is_recorded_with_its_record_and_kind_from_the_catalogue(brand_a):
    customer = CustomerFactory(brand=brand_a)
    event, created = invoice_created(brand_a, customer=customer)
    assert created
    event.refresh_from_db()
    assert (event.type, event.customer, event.record_kind, event.record_number) == (
        "invoice.created",
        customer,
        "invoice",
        "RE-1000",
    )
    assert event.outcome == EventOutcome.PENDING and event.processed_at is None
    assert event.payload == {"invoice_number": "RE-1000", "amount": "119.00"}


def test_the_same_source_event_twice_is_one_event(brand_a):
    first, created = invoice_created(brand_a)
    again, created_again = invoice_created(brand_a)
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Event.objects.count() == 1


def test_the_same_key_with_other_content_is_a_conflict(brand_a):
    invoice_created(brand_a)
    with pytest.raises(EventConflict) as info:
        invoice_created(brand_a, payload={"invoice_number": "RE-1000", "amount": "120.00"})
    assert info.value.event.payload["amount"] == "119.00"
    assert Event.objects.count() == 1


def test_the_same_key_from_another_source_or_brand_is_another_event(brand_a, brand_b):
    invoice_created(brand_a)
    invoice_created(brand_a, source="api:erp")
    invoice_created(brand_b)
    assert Event.objects.count() == 3


def test_the_database_refuses_a_second_row_for_one_source_key(brand_a):
    event, _ = invoice_created(brand_a)
    twin = Event(
        brand=brand_a,
        type=event.type,
        source=event.source,
        source_key=event.source_key,
        occurred_at=WHEN,
    )
    with pytest.raises(IntegrityError):
        twin.save()


def test_an_event_cannot_be_changed_after_it_was_recorded(brand_a):
    event, _ = invoice_created(brand_a)
    event.payload = {"amount": "0"}
    with pytest.raises(AppendOnlyError):
        event.save()
    event.refresh_from_db()
    assert event.payload["amount"] == "119.00"


def test_the_outcome_is_recorded_once(brand_a):
    event, _ = invoice_created(brand_a)
    stale = Event.objects.get(pk=event.pk)
    now = dt.datetime(2026, 3, 2, 9, 1, tzinfo=dt.UTC)
    assert event.record_outcome(outcome=EventOutcome.PROCESSED, detail="2 geplant", now=now)
    assert not stale.record_outcome(outcome=EventOutcome.FAILED, detail="zu spät")
    event.refresh_from_db()
    assert (event.outcome, event.outcome_detail, event.processed_at) == (
        "processed",
        "2 geplant",
        now,
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type": "invoice.exploded"}, "type"),
        ({"type": "custom.*"}, "type"),
        ({"type": "custom."}, "type"),
        ({"source_key": ""}, "source_key"),
        ({"occurred_at": dt.datetime(2026, 3, 2, 9, 0)}, "occurred_at"),  # noqa: DTZ001
        ({"payload": {"amount": Decimal("1.00")}}, "payload"),
        ({"payload": {"when": dt.date(2026, 3, 2)}}, "payload"),
        ({"payload": {"x": float("nan")}}, "payload"),
        ({"payload": {1: "a"}}, "payload"),
        ({"payload": ["a"]}, "payload"),
        ({"record_number": "R" * 81}, "record_number"),
    ],
)
def test_it_refuses_an_event_it_cannot_use(brand_a, overrides, field):
    with pytest.raises(InvalidEvent) as info:
        invoice_created(brand_a, **overrides)
    assert field in info.value.errors
    assert not Event.objects.exists()


def test_a_status_change_needs_a_known_status_and_what_that_status_needs(brand_a):
    base = {"type": "order.status_changed", "source_key": "order:1:v2", "record_id": "1"}
    with pytest.raises(InvalidEvent) as info:
        invoice_created(brand_a, **base, payload={"order_number": "A-1", "status": "lost"})
    assert "payload.status" in info.value.errors
    with pytest.raises(InvalidEvent) as info:
        invoice_created(brand_a, **base, payload={"order_number": "A-1", "status": "shipped"})
    assert list(info.value.errors) == ["payload.tracking_number"]
    event, _ = invoice_created(
        brand_a,
        **base,
        payload={"order_number": "A-1", "status": "shipped", "tracking_number": "0034043416"},
    )
    assert event.record_kind == "order"
    assert build_context(event.type, event.payload)["tracking_number"] == "0034043416"


def test_a_customer_of_another_brand_is_refused(brand_a, brand_b):
    with pytest.raises(InvalidEvent) as info:
        invoice_created(brand_a, customer=CustomerFactory(brand=brand_b))
    assert "customer" in info.value.errors


def test_custom_events_are_accepted_and_read_as_data(brand_a):
    event, created = invoice_created(
        brand_a, type="custom.shop.cart_abandoned", payload={"cart": {"total": "19.90"}}
    )
    assert created and event.record_kind == ""
    assert get_event_type("custom.shop.cart_abandoned").key == CUSTOM_FAMILY
    assert build_context(event.type, event.payload)["data"]["cart"]["total"] == "19.90"


def test_receivers_hear_of_an_event_after_the_commit_once(
    brand_a, django_capture_on_commit_callbacks
):
    heard = []

    def receiver(sender, event, **kwargs):
        heard.append(event.pk)

    event_recorded.connect(receiver, dispatch_uid="test-events")
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            event, _ = invoice_created(brand_a)
            invoice_created(brand_a)
        assert heard == []  # not before the commit
        for callback in callbacks:
            callback()
        assert heard == [event.pk]
    finally:
        event_recorded.disconnect(dispatch_uid="test-events")


# --- the catalogue ------------------------------------------------------------------------

ISSUE_9_TYPES = {
    "invoice.created",
    "invoice.sent",
    "invoice.overdue",
    "invoice.partially_paid",
    "payment.received",
    "quote.created",
    "quote.accepted",
    "order.created",
    "order.status_changed",
    "appointment.scheduled",
    "appointment.moved",
    "appointment.cancelled",
    "customer.birthday",
    "customer.anniversary",
    "customer.inactive",
    "seasonal.greeting",
    "conversation.no_response",
}


def test_the_catalogue_has_every_type_of_issue_9_and_the_custom_family():
    assert set(EVENT_TYPES) >= ISSUE_9_TYPES | {CUSTOM_FAMILY}
    assert set(ORDER_STATUSES) == {
        "new_order", "quote_sent", "scheduled", "completed", "on_hold", "shipped",
    }  # fmt: skip


@pytest.mark.parametrize("key", sorted(EVENT_TYPES))
def test_every_type_builds_plain_variables_from_its_example(key):
    entry = EVENT_TYPES[key]
    assert str(entry.label)
    assert entry.payload_errors(entry.example) == {}
    assert set(entry.variables) >= {"customer", "brand"} | set(entry.builder(entry.example))


def test_appointments_carry_starts_at_and_its_local_day_and_time():
    context = build_context(
        "appointment.moved",
        {
            "starts_at": "2026-03-29T08:30:00+00:00",  # the first day of summer time
            "previous_starts_at": "2026-03-27T14:00:00+01:00",
            "phone": "030 1234",
        },
    )
    assert context["starts_at"] == dt.datetime(2026, 3, 29, 8, 30, tzinfo=dt.UTC)
    assert (context["date"], context["time"]) == (dt.date(2026, 3, 29), "10:30")
    assert (context["previous_date"], context["previous_time"]) == (dt.date(2026, 3, 27), "14:00")


def test_every_event_type_in_the_template_library_is_in_the_catalogue():
    named = {
        entry["event"]
        for path in LIBRARY_DIR.glob("*.yaml")
        for entry in yaml.safe_load(Path(path).read_text())["templates"]
    }
    assert named <= set(EVENT_TYPES)


def test_templates_app_imports_nothing_of_kommunikation_but_the_catalogue_and_models():
    root = Path(__file__).resolve().parents[2] / "templates_app"
    # admin_scoping: main's brand door for admin pages and views (who may change shared
    # rows), infrastructure like the models, not product logic
    allowed = {
        "kommunikation.events.catalogue",
        "kommunikation.models",
        "kommunikation.admin_scoping",
    }
    for path in root.rglob("*.py"):
        for line in path.read_text().splitlines():
            words = line.strip().split()
            if len(words) >= 2 and words[0] in {"from", "import"}:
                module = words[1]
                if module.split(".")[0] in {"kommunikation", "conversations", "compliance"}:
                    assert module in allowed, f"{path.name}: {line.strip()}"
