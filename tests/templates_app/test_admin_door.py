"""The template admin's door: brand templates, default templates, preview and test send."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kommunikation.models import OutboundMessage
from kommunikation.roles import ADMIN, AGENT
from templates_app.models import MessageTemplate
from tests.factories import UserFactory
from tests.templates_app.test_admin import form_data

pytestmark = pytest.mark.django_db

PREVIEW = "admin:templates_app_preview"


def preview_data(template, **extra) -> dict:
    return {
        "object_id": str(template.pk),
        "event_type": template.event_type,
        "channel": "email",
        "language": "de",
        "subject": "Ihre Bestellung {{ order_number }}",
        "text": "Hallo",
        **extra,
    }


@pytest.fixture
def admin_a(brand_a, brand_b):  # brand B exists: the admin of A does not answer for every brand
    return UserFactory(username="alex.admin", brands=[brand_a], roles=[ADMIN])


@pytest.fixture
def agent(brand_a):
    return UserFactory(username="alma.agent", brands=[brand_a], roles=[AGENT])


def test_a_user_who_may_only_view_a_template_previews_it_but_cannot_test_send(
    client, agent, brand_a, template_factory
):
    template = template_factory(brand=brand_a, subject="x", text="y")
    client.force_login(agent)

    preview = client.post(reverse(PREVIEW), preview_data(template))
    test_send = client.post(reverse(PREVIEW), preview_data(template, test_send="1"))

    assert preview.status_code == 200
    assert test_send.status_code == 403
    assert not OutboundMessage.objects.exists()


def test_an_admin_test_sends_a_template_of_their_brand(client, admin_a, brand_a, template_factory):
    template = template_factory(brand=brand_a, subject="x", text="y")
    client.force_login(admin_a)

    response = client.post(
        reverse(PREVIEW), preview_data(template, test_send="1", brand=str(brand_a.pk))
    )

    assert response.status_code == 200
    assert OutboundMessage.objects.get().to_address == admin_a.email


def test_another_brands_template_is_not_found_for_preview_or_test_send(
    client, admin_a, brand_b, template_factory
):
    template = template_factory(brand=brand_b, subject="x", text="y")
    client.force_login(admin_a)

    assert client.post(reverse(PREVIEW), preview_data(template)).status_code == 404
    assert client.post(reverse(PREVIEW), preview_data(template, test_send="1")).status_code == 404
    assert client.post(reverse(PREVIEW), {"object_id": "abc"}).status_code == 404
    assert not OutboundMessage.objects.exists()


def test_a_default_template_is_readable_but_only_changed_by_who_answers_for_every_brand(
    client, admin_a, brand_a, brand_b, template_factory
):
    template = template_factory(brand=None, subject="alt", text="alt")
    url = reverse("admin:templates_app_messagetemplate_change", args=[template.pk])
    client.force_login(admin_a)

    page = client.get(url)
    saved = client.post(url, form_data(template, subject="neu"))
    test_send = client.post(reverse(PREVIEW), preview_data(template, test_send="1"))

    assert page.status_code == 200
    assert saved.status_code == 403
    assert test_send.status_code == 403
    assert template.variants.get().active_version.subject == "alt"

    everywhere = UserFactory(username="eva.admin", brands=[brand_a, brand_b], roles=[ADMIN])
    client.force_login(everywhere)
    assert client.post(url, form_data(template, subject="neu")).status_code == 302
    assert template.variants.get().active_version.subject == "neu"


def test_an_admin_of_one_brand_cannot_create_a_default_template(client, admin_a, brand_a):
    client.force_login(admin_a)
    data = {
        "key": "neu", "event_type": "order.created", "category": "transactional",
        "channel": "email", "language": "de", "brand": "", "description": "", "variant": "A",
        "subject": "Bestellung", "text": "Hallo", "html": "", "sms_text": "",
        "whatsapp_name": "", "whatsapp_params": "[]", "letter_body": "", "note": "",
        "variants-TOTAL_FORMS": "0", "variants-INITIAL_FORMS": "0",
    }  # fmt: skip

    refused = client.post(reverse("admin:templates_app_messagetemplate_add"), data)
    created = client.post(
        reverse("admin:templates_app_messagetemplate_add"), {**data, "brand": brand_a.pk}
    )

    assert refused.status_code == 200
    assert "brand" in refused.context["adminform"].form.errors
    assert created.status_code == 302
    assert list(MessageTemplate.objects.values_list("brand", flat=True)) == [brand_a.pk]
