"""``insert_many`` / ``insert_new``: COPY on PostgreSQL, bulk_create elsewhere; the rows
come back exactly as written, whatever characters they hold."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from compliance.models import AuditEntry
from kommunikation.bulk import insert_many, insert_new
from kommunikation.models import BusinessEntity, OutboundMessage
from kommunikation.outbox import new_outbound

NASTY = 'Tab\\there, new\nline, back\\\\slash \\N "quoted" {braces} , comma; Ümlaut\r'


@pytest.mark.django_db
def test_insert_many_writes_every_value_as_given_and_sets_the_pks():
    rows = [
        AuditEntry(actor_label=NASTY, action="test.copy", object_type="x", object_id=str(i),
                   customer_id=None if i else 7, changes={"text": NASTY, "list": [NASTY, None, 1.5]})
        for i in range(3)
    ]  # fmt: skip

    insert_many(AuditEntry, rows)

    assert all(row.pk for row in rows) and len({row.pk for row in rows}) == 3
    for row in rows:
        stored = AuditEntry.objects.get(pk=row.pk)
        assert stored.actor_label == NASTY
        assert stored.changes == {"text": NASTY, "list": [NASTY, None, 1.5]}
        assert stored.customer_id == row.customer_id
        assert stored.at == row.at


@pytest.mark.django_db
@pytest.mark.parametrize("labels", [["plain a", "plain b", "plain ü"], ["plain", "plain", NASTY]])
def test_insert_many_columns_of_one_type_come_back_as_written(labels):
    # texts all printable (written as they are) or one of them to escape; datetimes and
    # integers differing from row to row (each column formatted in one go)
    start = timezone.now()
    rows = [
        AuditEntry(actor_label=label, action="test.copy", object_type="x", object_id=str(i),
                   customer_id=100 + i, at=start + dt.timedelta(minutes=i, microseconds=i))
        for i, label in enumerate(labels)
    ]  # fmt: skip

    insert_many(AuditEntry, rows)

    stored = AuditEntry.objects.filter(pk__in=[row.pk for row in rows]).order_by("pk")
    assert [(e.actor_label, e.customer_id, e.at) for e in stored] == [
        (row.actor_label, row.customer_id, row.at) for row in rows
    ]


@pytest.mark.django_db
def test_insert_new_skips_a_taken_key_and_returns_only_its_own_rows():
    brand = BusinessEntity.objects.create(name="Copy", slug="copy")
    when = timezone.now() + dt.timedelta(hours=1)

    def row(key):
        return new_outbound(
            brand=brand, channels=["email"], category="transactional", idempotency_key=key,
            source="rule", template_key="t", context={"note": NASTY}, to_address="a@b.example",
            not_before=when, source_ref=NASTY[:200],
        )  # fmt: skip

    first = row("k-1")
    first.save()

    stored = insert_new(OutboundMessage, [row("k-1"), row("k-2")], key="idempotency_key",
                        mark="header_message_id")  # fmt: skip

    assert list(stored) == ["k-2"]
    new = OutboundMessage.objects.get(pk=stored["k-2"])
    assert new.context == {"note": NASTY} and new.source_ref == NASTY[:200]
    assert new.channels == ["email"] and new.not_before == when
    assert OutboundMessage.objects.get(idempotency_key="k-1").pk == first.pk


@pytest.mark.django_db
def test_update_each_sets_each_rows_own_values_only_where_the_filter_holds():
    from kommunikation.bulk import update_each

    brand = BusinessEntity.objects.create(name="Update", slug="update")
    rows = [
        new_outbound(
            brand=brand,
            channels=["email"],
            category="transactional",
            idempotency_key=f"u-{i}",
            source="rule",
            template_key="t",
            to_address="a@b.example",
        )  # fmt: skip
        for i in range(3)
    ]
    for row in rows:
        row.save()
    OutboundMessage.objects.filter(pk=rows[2].pk).update(status="sent")

    changed = update_each(
        OutboundMessage,
        {row.pk: {"context": {"n": i, "text": NASTY}, "last_error": f"{NASTY}{i}"}
         for i, row in enumerate(rows)},
        same={"priority": 0},
        where={"status": "queued"},
    )  # fmt: skip

    assert changed == 2
    for i, row in enumerate(rows[:2]):
        row.refresh_from_db()
        assert row.context == {"n": i, "text": NASTY}
        assert row.last_error == f"{NASTY}{i}" and row.priority == 0
    rows[2].refresh_from_db()
    assert rows[2].context == {} and rows[2].last_error == "" and rows[2].priority == 2


@pytest.mark.django_db
def test_fetch_gives_the_instances_of_select_related_without_model_init():
    from kommunikation.bulk import fetch
    from kommunikation.events.models import AppendOnlyError, Event
    from kommunikation.models import Customer

    brand = BusinessEntity.objects.create(name="Fetch", slug="fetch")
    customer = Customer.objects.create(brand=brand, last_name=NASTY[:50], vip=True)
    for i, who in enumerate([customer, None]):
        Event.objects.create(brand=brand, customer=who, type="payment.received", source="t",
                             source_key=str(i), payload={"text": NASTY, "n": [1, None]},
                             occurred_at=timezone.now())  # fmt: skip
    queryset = Event.objects.filter(brand=brand).order_by("pk")

    fetched = fetch(queryset, related=("customer",))
    expected = list(queryset.select_related("customer"))

    assert [e.pk for e in fetched] == [e.pk for e in expected]
    for got, want in zip(fetched, expected, strict=True):
        assert {k: v for k, v in got.__dict__.items() if k != "_state"} == {
            k: v for k, v in want.__dict__.items() if k != "_state"
        }
        assert not got._state.adding and got._state.db == want._state.db
        assert got.occurred_at.tzinfo is want.occurred_at.tzinfo  # UTC, as the ORM reads it
    with django_assert_no_queries():
        assert fetched[0].customer == customer and fetched[0].customer.vip is True
        assert fetched[0].customer.last_name == NASTY[:50]
        assert fetched[1].customer is None
    # a loaded instance, as the ORM's: the append-only event refuses to be saved again
    with pytest.raises(AppendOnlyError):
        fetched[0].save()


def django_assert_no_queries():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    class _NoQueries(CaptureQueriesContext):
        def __exit__(self, *exc):
            super().__exit__(*exc)
            assert not self.captured_queries, self.captured_queries

    return _NoQueries(connection)


def test_gc_paused_turns_collection_off_inside_and_back_on_after_the_last_one_out():
    import gc

    from kommunikation.bulk import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer one is still inside
    assert gc.isenabled()

    gc.disable()  # off before: stays off
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
