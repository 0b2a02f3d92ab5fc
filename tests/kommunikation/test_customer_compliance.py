"""The consent card of the customer page: preferences, suppressions, the preference link."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from compliance.models import AuditEntry, Consent, Suppression
from compliance.services import (
    Actor,
    customer_for_preference_token,
    preference_matrix,
    suppress_address,
)
from kommunikation.dispatch import dispatch_batch
from kommunikation.models import ContactPoint, OutboundMessage
from kommunikation.outbox import enqueue_outbound
from kommunikation.roles import ADMIN
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def phone(customer):
    return ContactPoint.objects.create(
        customer=customer, channel="phone", value="+4915112345678", type="mobile"
    )


@pytest.fixture
def admin_a(brand_a):
    return UserFactory(username="ada.admin", brands=[brand_a], roles=[ADMIN])


def test_the_card_shows_the_matrix_the_link_and_no_fake_export_button(client, agent_a, customer):
    client.force_login(agent_a)

    response = client.get(f"/kunden/{customer.pk}/")

    assert response.status_code == 200
    text = response.text
    assert text.count('type="checkbox"') == 15
    assert 'name="email__service" id="id_email__service" checked' in text
    assert 'name="email__marketing" id="id_email__marketing">' in text  # no consent yet
    assert f'action="/kunden/{customer.pk}/praeferenzen/"' in text
    link = re.search(r'id="preference-link"[^>]*value="([^"]+)"', text).group(1)
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert customer_for_preference_token(token) == customer
    export = text.split("Datenauskunft und Löschung")[1].split("</div>")[0]
    assert "<button" not in export and "<a " not in export
    assert "sperren</button>" not in text  # an agent may not block


def test_an_agent_records_a_consent_given_on_the_phone(client, agent_a, customer):
    client.force_login(agent_a)
    ticked = {f"{ch}__{cat}": "on" for (ch, cat), on in preference_matrix(customer).items() if on}

    response = client.post(
        f"/kunden/{customer.pk}/praeferenzen/",
        {**ticked, "email__marketing": "on", "source": "phone", "note": "Newsletter gern."},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert "1 Einstellung gespeichert." in response.text
    assert 'name="email__marketing" id="id_email__marketing" checked' in response.text
    consent = Consent.objects.current(customer=customer, purpose="marketing", channel="email")
    assert (consent.state, consent.source, consent.recorded_by) == ("granted", "phone", agent_a)
    assert consent.wording == "Newsletter gern."
    assert preference_matrix(customer)[("email", "marketing")] is True
    assert preference_matrix(customer)[("sms", "service")] is True  # still ticked: unchanged
    assert AuditEntry.objects.filter(
        actor=agent_a, customer_id=customer.pk, action="consent.granted"
    ).exists()
    assert "Newsletter gern." in client.get(f"/kunden/{customer.pk}/").text  # the proof


def test_without_htmx_saving_returns_to_the_card(client, agent_a, customer):
    client.force_login(agent_a)

    response = client.post(f"/kunden/{customer.pk}/praeferenzen/", {"source": "staff"})

    assert response.status_code == 302
    assert response["Location"] == f"/kunden/{customer.pk}/#compliance"
    assert preference_matrix(customer)[("email", "service")] is False


def test_preferences_need_the_permission_the_brand_and_a_csrf_token(
    client, agent_a, agent_b, customer
):
    nobody = UserFactory(username="ohne.rolle", brands=[customer.brand])
    client.force_login(nobody)
    url = f"/kunden/{customer.pk}/praeferenzen/"
    assert client.post(url, {"source": "phone"}).status_code == 403
    client.force_login(agent_b)
    assert client.post(url, {"source": "phone"}).status_code == 404
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(agent_a)
    assert strict.post(url, {"source": "phone"}).status_code == 403
    client.force_login(agent_a)
    assert client.post(url, {"source": "erfunden", "email__marketing": "on"}).status_code == 400

    assert not Consent.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_team_lead_blocks_a_number_for_sms_and_it_is_audited(client, team_lead, customer, phone):
    client.force_login(team_lead)
    page = client.get(f"/kunden/{customer.pk}/")
    assert "+4915112345678 sperren</button>" in page.text

    response = client.post(
        f"/kunden/{customer.pk}/sperren/",
        {"contact_point": phone.pk, "channel": "sms", "detail": "Kunde will keine SMS"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert "+4915112345678 ist für SMS gesperrt." in response.text
    suppression = Suppression.objects.get()
    assert (suppression.channel, suppression.value, suppression.reason) == (
        "sms", "+4915112345678", "staff",
    )  # fmt: skip
    entry = AuditEntry.objects.get(action="suppression.staff")
    assert (entry.actor, entry.customer_id) == (team_lead, customer.pk)
    assert "von Mitarbeitenden gesperrt" in response.text
    assert "entsperren</button>" not in response.text  # lifting is the Admin's


def test_only_the_customers_own_addresses_can_be_blocked(client, team_lead, customer, brand_a):
    stranger = CustomerFactory(brand=brand_a, email="fremd@example.de")
    client.force_login(team_lead)

    wrong_point = client.post(
        f"/kunden/{customer.pk}/sperren/",
        {"contact_point": stranger.contact_points.get().pk, "channel": "email"},
        headers=HTMX,
    )
    wrong_channel = client.post(
        f"/kunden/{customer.pk}/sperren/",
        {"contact_point": customer.contact_points.get().pk, "channel": "sms"},
        headers=HTMX,
    )

    assert wrong_point.status_code == 422
    assert "gehört nicht zu diesem Kunden" in wrong_point.text
    assert wrong_channel.status_code == 422
    assert not Suppression.objects.exists()


def test_an_agent_may_not_block(client, agent_a, customer):
    client.force_login(agent_a)

    response = client.post(
        f"/kunden/{customer.pk}/sperren/",
        {"contact_point": customer.contact_points.get().pk, "channel": "email"},
    )

    assert response.status_code == 403
    assert not Suppression.objects.exists()


def test_an_admin_lifts_a_bounce_of_the_customers_address_but_no_one_elses(
    client, admin_a, team_lead, customer
):
    bounce = suppress_address(
        channel="email", value="anna@kunde.example", reason="hard_bounce", actor=Actor("Versand")
    )
    other = suppress_address(
        channel="email", value="wer@anders.example", reason="complaint", actor=Actor("Versand")
    )
    url = f"/kunden/{customer.pk}/entsperren/{bounce.pk}/"
    client.force_login(team_lead)
    assert client.post(url, headers=HTMX).status_code == 403
    client.force_login(admin_a)
    page = client.get(f"/kunden/{customer.pk}/")
    assert "anna@kunde.example für E-Mail entsperren</button>" in page.text
    assert "wer@anders.example" not in page.text
    assert client.post(f"/kunden/{customer.pk}/entsperren/{other.pk}/").status_code == 404

    response = client.post(url, headers=HTMX)

    assert response.status_code == 200
    assert "Sperre für anna@kunde.example (E-Mail) aufgehoben." in response.text
    assert list(Suppression.objects.values_list("value", flat=True)) == ["wer@anders.example"]
    entry = AuditEntry.objects.get(action="suppression.lifted")
    assert (entry.actor, entry.customer_id) == (admin_a, customer.pk)


def test_the_timeline_shows_outbox_rows_that_never_reached_the_thread(
    client, agent_a, customer, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    enqueue_outbound(
        brand=customer.brand, customer=customer, channels="email", category="marketing",
        idempotency_key="news:1", source="rule", subject="Frühlingsangebot", text="Hallo",
    )  # fmt: skip
    dispatch_batch()  # no marketing consent: refused
    row = OutboundMessage.objects.get()
    assert row.status == "refused"
    client.force_login(agent_a)

    response = client.get(f"/kunden/{customer.pk}/")

    timeline = response.text.split('class="timeline"')[1]
    assert "Frühlingsangebot" in timeline
    assert "abgelehnt (Datenschutz)" in timeline
    assert row.last_error in timeline.replace("&quot;", '"').replace("&#x27;", "'")
