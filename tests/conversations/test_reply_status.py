"""A reply's way out, as the conversation pane shows it: queued -> sent -> delivered, or why not."""

from __future__ import annotations

import pytest
from django.utils import timezone

from compliance.models import Suppression
from compliance.services import Actor, suppress_address
from conversations import services
from conversations.models import StatusChange
from kommunikation.dispatch import dispatch_batch
from kommunikation.models import OutboundMessage
from tests.factories import ConversationFactory, MessageFactory
from tests.kommunikation.conftest import free_port

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true", "HX-Target": "detail"}


@pytest.fixture
def conv(brand_a):
    conv = ConversationFactory(brand=brand_a, counterpart="kunde@example.de", subject="Wallbox")
    MessageFactory(conversation=conv, message_id="<a1@example.de>")
    return conv


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_a_sent_and_delivered_reply_shows_its_timeline(client, agent_a, conv):
    reply = services.queue_reply(conversation=conv, text="Wir kümmern uns.", author=agent_a)
    dispatch_batch()
    StatusChange.objects.create(message=reply, status="delivered", at=timezone.now())
    reply.status = "delivered"
    reply.save(update_fields=["status"])
    client.force_login(agent_a)

    response = client.get(f"/konversationen/{conv.pk}/", headers=HTMX)

    assert response.status_code == 200
    timeline = response.text.split('class="delivery"')[1].split("</ol>")[0]
    assert [s for s in ["in Warteschlange", "gesendet", "zugestellt"] if s in timeline] == [
        "in Warteschlange",
        "gesendet",
        "zugestellt",
    ]
    assert timeline.index("in Warteschlange") < timeline.index("gesendet")
    assert f'id="msg-{reply.pk}"' in response.text
    assert "every 4s" not in response.text  # nothing left to wait for


def test_a_refused_reply_shows_the_reason_from_the_outbox(client, agent_a, conv):
    suppress_address(
        channel="email", value="kunde@example.de", reason=Suppression.Reason.STAFF,
        actor=Actor.staff(agent_a),
    )  # fmt: skip
    reply = services.queue_reply(conversation=conv, text="Wir kümmern uns.", author=agent_a)
    dispatch_batch()
    row = OutboundMessage.objects.get(message=reply)
    assert row.status == "refused" and row.last_error
    client.force_login(agent_a)

    response = client.get(f"/konversationen/{conv.pk}/", headers=HTMX)

    reply.refresh_from_db()
    assert reply.status == "failed"
    assert 'class="send-error" role="alert"' in response.text
    assert "Nicht gesendet" in response.text
    assert row.last_error in response.text.replace("&quot;", '"').replace("&#x27;", "'")


def test_a_reply_waiting_for_a_retry_says_so(client, agent_a, conv, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    reply = services.queue_reply(conversation=conv, text="Wir kümmern uns.", author=agent_a)
    dispatch_batch()  # nothing listens: connection refused, retried later
    client.force_login(agent_a)

    response = client.get(f"/konversationen/{conv.pk}/", headers=HTMX)

    row = OutboundMessage.objects.get(message=reply)
    assert (row.status, row.attempts) == ("queued", 1)
    assert "Neuer Versuch geplant" in response.text
    assert "every 4s" not in response.text  # a retry is minutes away: no polling


def test_a_fresh_reply_is_polled_until_the_worker_sent_it(client, agent_a, conv):
    reply = services.queue_reply(conversation=conv, text="Wir kümmern uns.", author=agent_a)
    client.force_login(agent_a)
    url = f"/nachrichten/{reply.pk}/status/"

    pane = client.get(f"/konversationen/{conv.pk}/", headers=HTMX)
    assert f'hx-get="{url}" hx-trigger="every 4s" hx-target="this"' in pane.text
    waiting = client.get(url, headers={"HX-Request": "true"})
    assert waiting.status_code == 200
    assert "every 4s" in waiting.text and "in Warteschlange" in waiting.text

    dispatch_batch()
    done = client.get(url, headers={"HX-Request": "true"})

    assert done.status_code == 200
    assert done.text.strip().startswith(f'<section id="msg-{reply.pk}"')
    assert "every 4s" not in done.text
    assert "gesendet" in done.text


def test_the_status_of_another_brands_message_is_not_found(client, agent_a, brand_b):
    other = MessageFactory(conversation=ConversationFactory(brand=brand_b))
    client.force_login(agent_a)

    assert client.get(f"/nachrichten/{other.pk}/status/").status_code == 404


def test_the_reply_button_sends_and_the_notice_says_so(client, agent_a, conv):
    client.force_login(agent_a)

    response = client.post(
        f"/konversationen/{conv.pk}/antwort/", {"text": "Vielen Dank!"}, headers=HTMX
    )

    assert response.status_code == 200
    assert "Antwort an den Versand übergeben." in response.text
    assert OutboundMessage.objects.filter(conversation=conv, source="reply").count() == 1
