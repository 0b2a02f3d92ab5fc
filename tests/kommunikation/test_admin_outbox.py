"""The outbox in the admin: read-only rows, audited cancel and retry, only within the brands."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from compliance.models import AuditEntry
from kommunikation.models import OutboundMessage, OutboundStatus
from kommunikation.outbox import enqueue_outbound
from kommunikation.roles import AGENT, TEAM_LEAD
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/kommunikation/outboundmessage/"


def queued(brand, key: str) -> OutboundMessage:
    customer = CustomerFactory(brand=brand, email=f"{key}@kunde.example")
    return enqueue_outbound(
        brand=brand,
        channels="email",
        category="transactional",
        idempotency_key=key,
        source="reply",
        customer=customer,
        subject="Ihre Anfrage",
        text="Guten Tag",
        trigger=False,
    )


@pytest.fixture
def lead_a(brand_a):
    return UserFactory(username="lena.lead", brands=[brand_a], roles=[TEAM_LEAD])


def test_a_team_lead_cancels_a_waiting_message_of_their_brand_and_it_is_audited(
    client, lead_a, brand_a
):
    row = queued(brand_a, "own")
    client.force_login(lead_a)

    response = client.post(CHANGELIST, {"action": "cancel", "_selected_action": [row.pk]})

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == OutboundStatus.CANCELLED
    entry = AuditEntry.objects.get(action="outbox.cancelled")
    assert (entry.actor, entry.object_id, entry.brand_id, entry.customer_id) == (
        lead_a,
        str(row.pk),
        brand_a.pk,
        row.customer_id,
    )
    assert entry.changes == {"status": ["queued", "cancelled"]}


def test_a_team_lead_cannot_cancel_another_brands_message(client, lead_a, brand_b):
    row = queued(brand_b, "foreign")
    client.force_login(lead_a)

    client.post(CHANGELIST, {"action": "cancel", "_selected_action": [row.pk]})

    row.refresh_from_db()
    assert row.status == OutboundStatus.QUEUED
    assert not AuditEntry.objects.filter(action="outbox.cancelled").exists()


def test_retrying_a_failed_message_is_audited(client, lead_a, brand_a):
    row = queued(brand_a, "failed")
    OutboundMessage.objects.filter(pk=row.pk).update(status=OutboundStatus.FAILED, attempts=8)
    client.force_login(lead_a)

    client.post(CHANGELIST, {"action": "retry", "_selected_action": [row.pk]})

    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboundStatus.QUEUED, 0)
    assert AuditEntry.objects.get(action="outbox.retried").object_id == str(row.pk)


def test_an_agent_may_look_but_not_cancel(client, brand_a):
    agent = UserFactory(username="alma.agent", brands=[brand_a], roles=[AGENT])
    row = queued(brand_a, "agent")
    client.force_login(agent)

    assert client.get(CHANGELIST).status_code == 200
    client.post(CHANGELIST, {"action": "cancel", "_selected_action": [row.pk]})

    row.refresh_from_db()
    assert row.status == OutboundStatus.QUEUED


def test_nobody_rewrites_a_queued_message_not_even_a_superuser(client, brand_a):
    root = UserFactory(username="root", is_superuser=True)
    row = queued(brand_a, "rewrite")
    client.force_login(root)
    url = reverse("admin:kommunikation_outboundmessage_change", args=[row.pk])

    page = client.get(url)
    response = client.post(url, {"to_address": "angreifer@example.org", "text": "Neu"})

    assert page.status_code == 200
    assert 'name="to_address"' not in page.content.decode()
    assert 'name="text"' not in page.content.decode()
    assert response.status_code == 403
    row.refresh_from_db()
    assert (row.to_address, row.text) == ("", "Guten Tag")
    assert client.get(reverse("admin:kommunikation_outboundmessage_add")).status_code == 403
    delete = reverse("admin:kommunikation_outboundmessage_delete", args=[row.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert OutboundMessage.objects.filter(pk=row.pk).exists()


def test_the_outbox_shows_german_labels_not_codes(client, lead_a, brand_a):
    row = queued(brand_a, "labels")
    OutboundMessage.objects.filter(pk=row.pk).update(
        category="service", decision="refuse", status=OutboundStatus.REFUSED
    )
    client.force_login(lead_a)

    listing = client.get(CHANGELIST).content.decode()
    detail = client.get(f"{CHANGELIST}{row.pk}/change/").content.decode()

    assert response_cells(listing) >= {"E-Mail", "Service", "abgelehnt (Datenschutz)"}
    assert ">service<" not in listing and ">email<" not in listing
    assert "abgelehnt" in detail and ">refuse<" not in detail
    # the filters offer the labels too
    assert "?decision__exact=refuse" in listing and ">zurückgestellt</a>" in listing


def response_cells(html: str) -> set[str]:
    return {cell.strip() for cell in re.findall(r"<td[^>]*>([^<]*)</td>", html)}
