from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from templates_app.models import TemplateVersion
from tests.factories import BrandFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada.admin", is_superuser=True)


def form_data(template, **content):
    data = {
        "key": template.key,
        "event_type": template.event_type,
        "category": template.category,
        "channel": template.channel,
        "language": template.language,
        "brand": "",
        "description": "",
        "variant": "A",
        "subject": "Bestellung {{ order_number }}",
        "text": "Hallo {{ customer_name }}",
        "html": "",
        "sms_text": "",
        "whatsapp_name": "",
        "whatsapp_params": "[]",
        "letter_body": "",
        "note": "",
        "variants-TOTAL_FORMS": "1",
        "variants-INITIAL_FORMS": "1",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-id": str(template.variants.get(name="A").pk),
        "variants-0-template": str(template.pk),
        "variants-0-name": "A",
        "variants-0-weight": "100",
        "variants-0-is_active": "on",
    }
    data.update(content)
    return data


def test_saving_changed_content_adds_a_version(client, admin_user, template_factory):
    template = template_factory(subject="alt", text="alt")
    client.force_login(admin_user)
    url = reverse("admin:templates_app_messagetemplate_change", args=[template.pk])
    response = client.post(url, form_data(template, note="neu formuliert"))
    assert response.status_code == 302
    versions = TemplateVersion.objects.filter(variant__template=template).order_by("number")
    assert [(v.number, v.subject, v.author) for v in versions] == [
        (1, "alt", None),
        (2, "Bestellung {{ order_number }}", admin_user),
    ]


def test_an_unknown_variable_is_shown_inline_with_its_line(client, admin_user, template_factory):
    template = template_factory(subject="alt", text="alt")
    client.force_login(admin_user)
    url = reverse("admin:templates_app_messagetemplate_change", args=[template.pk])
    response = client.post(url, form_data(template, text="Hallo\n{{ kunde }}"))
    assert response.status_code == 200
    assert "Zeile 2: Unbekannte Variable „kunde“." in response.content.decode()
    assert TemplateVersion.objects.filter(variant__template=template).count() == 1


def test_versions_are_immutable(template_factory):
    version = template_factory(subject="a", text="b").variants.get().active_version
    version.subject = "c"
    with pytest.raises(ValidationError):
        version.save()


def test_diff_shows_changes_escaped_and_restore_copies_the_old_version(
    client, admin_user, template_factory
):
    template = template_factory(subject="alt", text="<script>x</script>")
    client.force_login(admin_user)
    client.post(
        reverse("admin:templates_app_messagetemplate_change", args=[template.pk]),
        form_data(template),
    )
    v1, v2 = TemplateVersion.objects.filter(variant__template=template).order_by("number")

    diff = client.get(reverse("admin:templates_app_version_diff", args=[template.pk, v2.pk]))
    assert diff.status_code == 200
    assert "&lt;script&gt;x&lt;/script&gt;" in diff.content.decode()
    assert "<script>x</script>" not in diff.content.decode()

    response = client.post(
        reverse("admin:templates_app_version_restore", args=[template.pk, v1.pk])
    )
    assert response.status_code == 302
    active = template.variants.get().active_version
    assert (active.number, active.subject, active.source) == (3, "alt", "restore")


def test_preview_renders_the_unsaved_form(client, admin_user, template_factory):
    template = template_factory(subject="alt", text="alt")
    client.force_login(admin_user)
    data = form_data(template, object_id=str(template.pk), subject="Bestellung {{ order_number }}")
    response = client.post(reverse("admin:templates_app_preview"), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Bestellung CC-2025-00123" in body
    assert 'sandbox=""' in body and "srcdoc=" in body


def test_preview_of_another_brands_template_is_not_found(client, template_factory, agent_a):
    from django.contrib.auth.models import Permission

    other = template_factory(brand=BrandFactory(slug="fremd"), subject="x", text="y")
    agent_a.user_permissions.add(Permission.objects.get(codename="view_messagetemplate"))
    client.force_login(agent_a)
    response = client.post(reverse("admin:templates_app_preview"), {"object_id": other.pk})
    assert response.status_code == 404
