from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from kommunikation.events.catalogue import EVENT_TYPES
from templates_app.loading import LIBRARY_DIR
from templates_app.models import MessageTemplate, TemplateVersion
from templates_app.plain import SAMPLE_CUSTOMER
from templates_app.rendering import render_message

pytestmark = pytest.mark.django_db

SCENARIOS = {
    "order_confirmation",
    "quote_notification",
    "quote_follow_up",
    "appointment_confirmation",
    "appointment_reminder_48h",
    "appointment_reminder_24h",
    "appointment_reminder_2h",
    "installation_scheduled",
    "completion_thank_you",
    "satisfaction_survey",
    "hold_notification",
    "invoice_issued",
    "payment_reminder",
    "dunning_1",
    "dunning_2",
    "payment_received",
    "birthday",
    "customer_anniversary",
    "season_greetings",
    "maintenance_reminder",
    "annual_checkup",
    "product_update",
    "support_follow_up",
    "reactivation",
    "newsletter",
    "whatsapp_welcome",
    "whatsapp_confirmation",
    "whatsapp_follow_up",
    "whatsapp_callback",
}


def test_loading_twice_changes_nothing(capsys):
    call_command("load_templates")
    first = capsys.readouterr().out
    count = TemplateVersion.objects.count()
    call_command("load_templates")
    assert "0 Vorlagen neu, 0 Versionen neu" in capsys.readouterr().out
    assert TemplateVersion.objects.count() == count
    assert "Versionen neu, 0 unverändert" in first


def test_a_changed_file_creates_a_new_version(tmp_path: Path):
    source = LIBRARY_DIR / "invoices.yaml"
    call_command("load_templates", str(source))
    data = yaml.safe_load(source.read_text())
    data["templates"][0]["content"]["de"]["subject"] = "Rechnung {{ invoice_number }} (neu)"
    changed = tmp_path / "invoices.yaml"
    changed.write_text(yaml.safe_dump(data, allow_unicode=True))
    call_command("load_templates", str(changed))
    template = MessageTemplate.objects.get(key="invoice_issued", channel="email", language="de")
    active = template.variants.get().active_version
    assert (active.number, active.subject) == (2, "Rechnung {{ invoice_number }} (neu)")
    en = MessageTemplate.objects.get(key="invoice_issued", channel="email", language="en")
    assert en.variants.get().active_version.number == 1


def test_every_scenario_exists_in_german_english_and_dutch():
    call_command("load_templates")
    keys = set(MessageTemplate.objects.values_list("key", flat=True))
    assert keys >= SCENARIOS
    for key in SCENARIOS:
        languages = set(MessageTemplate.objects.filter(key=key).values_list("language", flat=True))
        assert languages == {"de", "en", "nl"}, key


def test_every_library_template_renders_with_the_example_values():
    call_command("load_templates")
    for template in MessageTemplate.objects.all():
        context = EVENT_TYPES[template.event_type].builder(EVENT_TYPES[template.event_type].example)
        for variant in template.variants.all():
            msg = render_message(
                key=template.key,
                channel=template.channel,
                customer=SAMPLE_CUSTOMER,
                brand=None,
                language=template.language,
                context=context,
                variant_seed=variant.name,
            )
            assert msg.template == template
            produced = msg.subject or msg.text or msg.sms_text or msg.whatsapp
            assert produced, template
            if template.channel == "sms":
                assert msg.sms_segments.segments <= 3
            if template.channel == "email":
                assert "{{" not in msg.html and "{{" not in msg.text


def test_the_seed_002_sms_reads_as_written():
    call_command("load_templates")
    context = EVENT_TYPES["appointment.scheduled"].builder(
        EVENT_TYPES["appointment.scheduled"].example
    )
    msg = render_message(
        key="installation_scheduled",
        channel="sms",
        customer=SAMPLE_CUSTOMER,
        brand=None,
        language="nl",
        context=context,
    )
    assert msg.sms_text == (
        "Musterfirma: Uw installatie is gepland op 24-06-2025 om 09:30. Team: Team Nord. Wijzigen? Bel 020-1234567"
    )
