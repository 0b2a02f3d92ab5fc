"""Staff edit preferences through the same service and partial the public page uses."""

from __future__ import annotations

from django.template.loader import render_to_string

from compliance.forms import PreferenceForm
from compliance.models import AuditEntry, Consent
from compliance.services import Actor, preference_matrix, update_preferences
from tests.factories import UserFactory


def test_the_partial_shows_one_checkbox_per_channel_and_category(customer):
    form = PreferenceForm(matrix=preference_matrix(customer))
    html = render_to_string("compliance/_preferences.html", {"form": form})
    assert html.count('type="checkbox"') == 15
    assert 'name="email__service" id="id_email__service" checked' in html
    assert 'name="email__marketing" id="id_email__marketing">' in html  # no consent yet


def test_staff_record_consent_taken_on_the_phone(customer):
    agent = UserFactory(username="agentin", first_name="Ida", last_name="Agentin")
    form = PreferenceForm(
        {"sms__relationship": "on", "email__service": "on"},
        matrix=preference_matrix(customer),
    )
    assert form.is_valid()
    update_preferences(
        customer=customer, wanted=form.wanted(), actor=Actor.staff(agent),
        source=Consent.Source.PHONE, wording="Am Telefon: Geburtstagsgrüße per SMS ja.",
    )  # fmt: skip
    consent = Consent.objects.current(customer=customer, purpose="relationship", channel="sms")
    assert consent.state == Consent.State.GRANTED
    assert consent.source == Consent.Source.PHONE
    assert consent.recorded_by == agent
    assert preference_matrix(customer)[("sms", "relationship")] is True
    assert AuditEntry.objects.filter(actor=agent).exists()
