"""A WhatsApp template's parameters fit its placeholders, checked when it is saved."""

from __future__ import annotations

import pytest

from templates_app.rendering import validate_content, whatsapp_params_problem

TEXT = "Ihr Termin am {{ date|datum:'short' }} um {{ time }} ist bestätigt."


def test_parameters_naming_the_placeholders_in_order_are_accepted():
    assert whatsapp_params_problem(TEXT, ["{{ date|datum:'short' }}", "{{time}}"]) == ""


def test_a_missing_parameter_is_refused_with_both_counts():
    problem = whatsapp_params_problem(TEXT, ["{{ date|datum:'short' }}"])

    assert "2 Platzhalter" in problem and "1 Parameter" in problem


def test_parameters_in_the_wrong_order_are_refused():
    problem = whatsapp_params_problem(TEXT, ["{{ time }}", "{{ date|datum:'short' }}"])

    assert "Parameter {{1}}" in problem


@pytest.mark.django_db
def test_the_save_time_validation_refuses_a_mismatch():
    errors = validate_content(
        {"whatsapp_name": "bestaetigung", "text": TEXT, "whatsapp_params": ["{{ time }}"]},
        event_type="appointment.scheduled",
        channel="whatsapp",
    )

    assert "whatsapp_params" in errors


@pytest.mark.django_db
def test_the_library_ships_seed_001s_four_whatsapp_templates():
    from templates_app.loading import load_library
    from templates_app.models import MessageTemplate

    load_library()

    names = set(
        MessageTemplate.objects.filter(channel="whatsapp", language="de").values_list(
            "key", flat=True
        )
    )
    assert {
        "whatsapp_welcome",
        "whatsapp_confirmation",
        "whatsapp_follow_up",
        "whatsapp_callback",
    } <= names
