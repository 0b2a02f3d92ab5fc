"""Two writers recording the same source event at once on PostgreSQL: one event, no error."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from kommunikation.events.models import Event
from kommunikation.events.services import record_event
from tests.factories import BrandFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")


def test_concurrent_writers_of_one_source_key_make_one_event():
    brand = BrandFactory(slug="race")
    barrier = threading.Barrier(8)
    results, errors = [], []

    def write():
        try:
            barrier.wait()
            event, created = record_event(
                brand=brand,
                type="payment.received",
                source="sevdesk",
                source_key="payment:77",
                occurred_at=dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
                payload={"invoice_number": "RE-77", "amount": "10.00"},
            )
            results.append((event.pk, created))
        except Exception as exc:  # noqa: BLE001  (collected for the assertion)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Event.objects.count() == 1
    assert sorted(created for _pk, created in results) == [False] * 7 + [True]
    assert {pk for pk, _created in results} == {Event.objects.get().pk}
