"""Consent, suppression, preferences and the audit log in the admin: scoped and audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from compliance.models import AuditEntry, ChannelPreference, Consent, Suppression
from compliance.services import Actor, audit
from kommunikation.roles import ADMIN, AGENT, TEAM_LEAD
from tests.factories import ContactPointFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_a(brand_a):
    return UserFactory(username="lena.lead", brands=[brand_a], roles=[TEAM_LEAD])


@pytest.fixture
def admin_a(brand_a):
    return UserFactory(username="alex.admin", brands=[brand_a], roles=[ADMIN])


def test_an_agent_records_a_consent_for_a_customer_of_their_brand_and_it_is_audited(
    client, brand_a
):
    agent = UserFactory(username="alma.agent", brands=[brand_a], roles=[AGENT])
    customer = CustomerFactory(brand=brand_a)
    client.force_login(agent)

    response = client.post(
        reverse("admin:compliance_consent_add"),
        {
            "customer": customer.pk,
            "purpose": "marketing",
            "channel": "email",
            "state": "granted",
            "source": "phone",
            "recorded_at_0": "01.12.2026",
            "recorded_at_1": "10:00:00",
        },
    )

    assert response.status_code == 302
    consent = Consent.objects.get()
    assert (consent.customer, consent.recorded_by) == (customer, agent)
    entry = AuditEntry.objects.get(action="consent.granted")
    assert (entry.actor, entry.customer_id, entry.brand_id) == (agent, customer.pk, brand_a.pk)


def test_a_consent_for_another_brands_customer_is_refused(client, brand_a, brand_b):
    agent = UserFactory(username="alma.agent", brands=[brand_a], roles=[AGENT])
    foreign = CustomerFactory(brand=brand_b)
    client.force_login(agent)

    response = client.post(
        reverse("admin:compliance_consent_add"),
        {"customer": foreign.pk, "purpose": "marketing", "channel": "email", "state": "granted",
         "source": "phone"},
    )  # fmt: skip

    assert response.status_code == 200
    assert "customer" in response.context["adminform"].form.errors
    assert not Consent.objects.exists()


def test_a_team_lead_blocks_an_address_of_their_brand_and_it_is_audited(client, lead_a, brand_a):
    point = ContactPointFactory(customer=CustomerFactory(brand=brand_a), value="kim@kunde.example")
    client.force_login(lead_a)

    response = client.post(
        reverse("admin:compliance_suppression_add"),
        {"channel": "email", "value": "Kim@Kunde.example", "reason": "staff", "detail": "Wunsch"},
    )

    assert response.status_code == 302
    suppression = Suppression.objects.get()
    assert suppression.value == "kim@kunde.example"
    entry = AuditEntry.objects.get(action="suppression.staff")
    assert (entry.actor, entry.customer_id, entry.brand_id) == (
        lead_a,
        point.customer_id,
        brand_a.pk,
    )


def test_a_team_lead_cannot_block_an_address_of_another_brand(client, lead_a, brand_b):
    ContactPointFactory(customer=CustomerFactory(brand=brand_b), value="bo@kunde.example")
    client.force_login(lead_a)

    response = client.post(
        reverse("admin:compliance_suppression_add"),
        {"channel": "email", "value": "bo@kunde.example", "reason": "staff"},
    )

    assert response.status_code == 200
    assert "value" in response.context["adminform"].form.errors
    assert not Suppression.objects.exists()


def test_a_suppression_is_never_edited_in_place(client, brand_a):
    ContactPointFactory(customer=CustomerFactory(brand=brand_a), value="kim@kunde.example")
    suppression = Suppression.objects.create(
        channel="email", value="kim@kunde.example", reason="hard_bounce"
    )
    root = UserFactory(username="root", is_superuser=True)
    client.force_login(root)

    response = client.post(
        reverse("admin:compliance_suppression_change", args=[suppression.pk]),
        {"channel": "email", "value": "anders@kunde.example", "reason": "hard_bounce"},
    )

    assert response.status_code == 403
    suppression.refresh_from_db()
    assert suppression.value == "kim@kunde.example"


def test_an_admin_lifts_a_block_of_their_brand_and_it_is_audited(client, admin_a, brand_a):
    ContactPointFactory(customer=CustomerFactory(brand=brand_a), value="kim@kunde.example")
    suppression = Suppression.objects.create(
        channel="email", value="kim@kunde.example", reason="hard_bounce"
    )
    client.force_login(admin_a)

    response = client.post(
        reverse("admin:compliance_suppression_delete", args=[suppression.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Suppression.objects.exists()
    assert AuditEntry.objects.get(action="suppression.lifted").actor == admin_a


def test_a_block_that_also_protects_another_brands_customer_stays(
    client, admin_a, brand_a, brand_b
):
    ContactPointFactory(customer=CustomerFactory(brand=brand_a), value="kim@kunde.example")
    ContactPointFactory(customer=CustomerFactory(brand=brand_b), value="kim@kunde.example")
    suppression = Suppression.objects.create(
        channel="email", value="kim@kunde.example", reason="complaint"
    )
    client.force_login(admin_a)

    response = client.post(
        reverse("admin:compliance_suppression_delete", args=[suppression.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert Suppression.objects.filter(pk=suppression.pk).exists()
    assert client.get(reverse("admin:compliance_suppression_changelist")).status_code == 200


def test_preferences_are_read_only_in_the_admin(client, brand_a):
    pref = ChannelPreference.objects.create(
        customer=CustomerFactory(brand=brand_a), channel="email", category="service", allowed=True
    )
    root = UserFactory(username="root", is_superuser=True)
    client.force_login(root)

    response = client.post(
        reverse("admin:compliance_channelpreference_change", args=[pref.pk]),
        {"customer": pref.customer_id, "channel": "email", "category": "service"},
    )

    assert response.status_code == 403
    pref.refresh_from_db()
    assert pref.allowed is True


def test_the_audit_log_shows_entries_of_the_own_brands_only(client, admin_a, brand_a, brand_b):
    own = CustomerFactory(brand=brand_a)
    foreign = CustomerFactory(brand=brand_b)
    actor = Actor(label="Test")
    audit(actor=actor, action="eigen.kunde", obj=own, customer_id=own.pk)
    audit(actor=actor, action="eigene.marke", obj=brand_a, customer_id=None, brand_id=brand_a.pk)
    audit(actor=actor, action="fremd.kunde", obj=foreign, customer_id=foreign.pk)
    audit(actor=actor, action="global", obj=brand_a, customer_id=None, brand_id=None)
    client.force_login(admin_a)

    response = client.get(reverse("admin:compliance_auditentry_changelist"))

    assert response.status_code == 200
    shown = set(response.context["cl"].queryset.values_list("action", flat=True))
    assert shown == {"eigen.kunde", "eigene.marke"}
