from __future__ import annotations

import pytest
from django.urls import reverse

from templates_app.models import MessageTemplate, TemplateVariant, create_version
from tests.conftest import login
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_preview_follows_typing_and_shows_errors_with_their_line(page):
    admin = UserFactory(username="ada.admin", is_superuser=True)
    template = MessageTemplate.objects.create(
        key="order_confirmation",
        event_type="order.created",
        category="transactional",
        channel="email",
    )
    create_version(
        variant=TemplateVariant.objects.create(template=template),
        content={"subject": "Bestellung {{ order_number }}", "text": "{{ customer|salutation }},"},
    )
    login(page, admin)
    page.goto(reverse("admin:templates_app_messagetemplate_change", args=[template.pk]))
    page.wait_for_selector("#kk-preview .kk-subject")
    assert page.inner_text("#kk-preview .kk-subject") == "Bestellung CC-2025-00123"

    page.fill("#id_subject", "Ihre Bestellung {{ order_number }} vom {{ order_date|datum }}")
    page.wait_for_function(
        "document.querySelector('#kk-preview .kk-subject')?.innerText.includes('vom 15. Juni 2025')"
    )
    frame = page.frame_locator("#kk-preview iframe.kk-html")
    assert "Sehr geehrte Frau Müller" in frame.locator("body").inner_text()

    page.fill("#id_text", "Hallo\n{{ kundennummer }}")
    page.wait_for_selector("#kk-preview [role=alert]")
    assert "Zeile 2: Unbekannte Variable „kundennummer“." in page.inner_text(
        "#kk-preview [role=alert]"
    )

    page.fill("#id_text", "Hallo {{ customer_name }}")
    # let the debounced preview of that input land first, or it replaces the test-send panel
    page.wait_for_selector("#kk-preview [role=alert]", state="detached")
    page.click("#kk-test-send")
    page.wait_for_selector(".kk-test-send")
    assert "ada.admin@example.org" in page.inner_text(".kk-test-send")
