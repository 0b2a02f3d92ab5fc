"""Under a steady stream the WhatsApp task waits a moment after a small batch, so that the
webhooks arriving meanwhile are processed together by the same task (one batch of many
instead of many of one). Needs a second connection: PostgreSQL, committed rows."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from conversations.models import Message, WebhookDelivery
from conversations.webhooks import store_webhook
from conversations.whatsapp import ESP, process_pending
from kommunikation.models import WhatsAppNumber
from tests.whatsapp_payloads import PHONE_NUMBER_ID, SECRET, body, envelope, inbound

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")


def _store(brand, wamid: str, words: str) -> None:
    payload = envelope(inbound({"id": wamid, "type": "text", "text": {"body": words}}))
    store_webhook(kind="inbound", esp=ESP, body=body(payload), headers={}, brand=brand)


@pytest.mark.parametrize(
    "gather_ms, arrives_after, together",
    [(1500, 0.3, True), (0, 2.0, False)],  # without the pause the task has long ended
)
def test_a_webhook_arriving_while_the_task_gathers_joins_it(
    brand_a, gather_ms, arrives_after, together
):
    WhatsAppNumber.objects.create(
        brand=brand_a, display_number="+31612345679", phone_number_id=PHONE_NUMBER_ID,
        access_token="t", app_secret=SECRET, verify_token="v",
    )  # fmt: skip
    _store(brand_a, "wamid.G1", "eins")

    def later():  # another web process, a moment after the task began
        try:
            time.sleep(arrives_after)
            _store(brand_a, "wamid.G2", "zwei")
        finally:
            connections.close_all()

    arriving = threading.Thread(target=later)
    arriving.start()
    handled = process_pending(gather_ms=gather_ms)
    arriving.join()

    assert handled == (2 if together else 1)
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == (
        {"ok"} if together else {"ok", "received"}
    )
    assert Message.objects.count() == (2 if together else 1)
