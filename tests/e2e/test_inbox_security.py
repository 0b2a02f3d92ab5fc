"""What the inbox must never do: run a sender's script, or show another brand's mail."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conversations.ingest import ingest_raw_email
from tests.conftest import login
from tests.factories import ConversationFactory, MessageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_email_with_script_and_onerror_runs_nothing(page, agent_a, brand_a, email_data):
    result = ingest_raw_email(
        (email_data / "07_html_script_onerror_cid.eml").read_bytes(), brand=brand_a
    )
    message = result.message
    assert message.html
    login(page, agent_a)

    page.goto(f"/konversationen/{result.conversation.pk}/")
    frame_element = page.locator(".msg iframe")
    expect(frame_element).to_have_attribute("src", f"/nachrichten/{message.pk}/html/")
    expect(frame_element).to_have_attribute("sandbox", "")
    frame = frame_element.content_frame
    expect(frame.locator("body")).to_contain_text("Klick")
    page.wait_for_timeout(300)  # give an onerror handler its chance

    assert page.evaluate("window.pwned") is None
    inner = next(f for f in page.frames if f.url.endswith(f"/nachrichten/{message.pk}/html/"))
    assert inner.evaluate("window.pwned") is None
    assert inner.evaluate("document.querySelectorAll('script, [onerror]').length") == 0
    response = page.request.get(f"/nachrichten/{message.pk}/html/")
    assert "default-src 'none'" in response.headers["content-security-policy"]

    if message.has_remote_images:
        page.get_by_role("button", name="Bilder anzeigen").click()
        expect(frame_element).to_have_attribute("src", f"/nachrichten/{message.pk}/html/?bilder=1")
        assert page.evaluate("window.pwned") is None


def test_a_user_of_brand_a_cannot_open_brand_b(page, agent_a, brand_b):
    secret = ConversationFactory(brand=brand_b, subject="Vertraulich: Marke B")
    message = MessageFactory(conversation=secret, html="<p>geheim</p>")
    login(page, agent_a)

    expect(page.locator("#rows")).not_to_contain_text("Vertraulich")
    for url in [
        f"/konversationen/{secret.pk}/",
        f"/konversationen/{secret.pk + 1000}/",
        f"/nachrichten/{message.pk}/html/",
    ]:
        response = page.goto(url)
        assert response.status == 404, url
    assert "geheim" not in page.content()
