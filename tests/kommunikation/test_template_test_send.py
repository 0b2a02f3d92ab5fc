"""'Testversand an mich' in the template admin goes through the outbox to the staff member."""

from __future__ import annotations

import pytest
from django.core import mail

from kommunikation.events.catalogue import EVENT_TYPES
from kommunikation.models import OutboundMessage
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def preview_post(client, **extra):
    event_type = "order.created"
    data = {
        "event_type": event_type,
        "channel": "email",
        "language": "de",
        "subject": "Ihre Bestellung {{ order_number }}",
        "text": "{{ customer|salutation }},\nvielen Dank.",
        "html": "",
        "sms_text": "",
        "letter_body": "",
        "whatsapp_name": "",
        "whatsapp_params": "",
        **extra,
    }
    assert event_type in EVENT_TYPES
    return client.post("/admin/templates_app/messagetemplate/vorschau/", data)


def test_a_test_send_reaches_the_staff_members_mailbox(
    client, settings, brand_a, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    admin = UserFactory(
        username="ada.admin", email="ada@laderthuis.nl", is_superuser=True, brands=[brand_a]
    )
    client.force_login(admin)

    with django_capture_on_commit_callbacks(execute=True):  # the outbox triggers dispatch on commit
        response = preview_post(client, test_send="1")

    assert response.status_code == 200
    assert "ist im Ausgang" in response.content.decode()
    outbound = OutboundMessage.objects.get()
    assert outbound.source == "test"
    assert outbound.to_address == "ada@laderthuis.nl"
    assert [m.to for m in mail.outbox] == [["ada@laderthuis.nl"]]
    assert mail.outbox[0].subject.startswith("[Test] Ihre Bestellung")


def test_a_preview_alone_sends_nothing(client, settings, brand_a):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    admin = UserFactory(
        username="ada.admin", email="ada@laderthuis.nl", is_superuser=True, brands=[brand_a]
    )
    client.force_login(admin)

    response = preview_post(client)

    assert response.status_code == 200
    assert not OutboundMessage.objects.exists()
    assert mail.outbox == []
