"""dispatch_outbox, outbox_status, retry_failed and the admin actions."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from kommunikation.models import OutboundMessage, OutboundStatus
from kommunikation.outbox import enqueue_outbound
from tests.conftest import NOW
from tests.factories import UserFactory


def enqueue(customer, key="k1", **kwargs):
    return enqueue_outbound(
        brand=customer.brand, customer=customer, channels="email", category="transactional",
        idempotency_key=key, source="rule", subject="Hallo", text="Text", **kwargs,
    )  # fmt: skip


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_dispatch_outbox_once_sends_what_is_due(smtp_sink, customer):
    row = enqueue(customer)
    output = run("dispatch_outbox", "--once")
    assert "1 gesendet" in output
    row.refresh_from_db()
    assert row.status == OutboundStatus.SENT
    assert len(smtp_sink.envelopes) == 1


def test_outbox_status_counts_and_reasons(smtp_down, customer):
    enqueue(customer)
    OutboundMessage.objects.create(
        brand=customer.brand, channels=["email"], channel="email", category="service",
        idempotency_key="x", source="rule", text="t", status=OutboundStatus.FAILED,
        last_error="Empfänger abgelehnt: 550",
    )  # fmt: skip
    output = run("outbox_status")
    # the German labels, not the codes ("queued", "email")
    assert "wartet                   E-Mail    1" in output
    assert "fehlgeschlagen           E-Mail    1" in output
    assert "queued" not in output and "email " not in output
    assert "Empfänger abgelehnt: 550" in output
    assert "älteste fällige Nachricht" in output


@pytest.mark.time_machine(NOW)
def test_retry_failed_queues_failed_ones_since_a_date(customer):
    old = enqueue(customer, "old")
    new = enqueue(customer, "new")
    OutboundMessage.objects.update(status=OutboundStatus.FAILED, attempts=8)
    OutboundMessage.objects.filter(pk=old.pk).update(created_at=NOW - dt.timedelta(days=400))
    output = run("retry_failed", "--since", f"{(NOW - dt.timedelta(days=30)).date()}")
    assert "1 Nachrichten erneut eingereiht" in output
    new.refresh_from_db()
    old.refresh_from_db()
    assert (new.status, new.attempts) == (OutboundStatus.QUEUED, 0)
    assert old.status == OutboundStatus.FAILED


def test_admin_lists_the_outbox_and_cancels_waiting_messages(client, customer):
    admin = UserFactory(username="root", is_superuser=True)
    client.force_login(admin)
    row = enqueue(customer)
    response = client.get("/admin/kommunikation/outboundmessage/?status=queued")
    assert response.status_code == 200
    assert f'value="{row.pk}"' in response.content.decode()
    response = client.post(
        "/admin/kommunikation/outboundmessage/",
        {"action": "cancel", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == OutboundStatus.CANCELLED


def test_staff_who_may_only_view_the_outbox_cannot_cancel(client, customer):
    from django.contrib.auth.models import Permission

    viewer = UserFactory(username="leser")
    viewer.user_permissions.add(Permission.objects.get(codename="view_outboundmessage"))
    client.force_login(viewer)
    row = enqueue(customer)
    assert client.get("/admin/kommunikation/outboundmessage/").status_code == 200
    client.post(
        "/admin/kommunikation/outboundmessage/",
        {"action": "cancel", "_selected_action": [row.pk]},
    )
    row.refresh_from_db()
    assert row.status == OutboundStatus.QUEUED
