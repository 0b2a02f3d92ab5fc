"""The email composer (issue 10 §4): subject, Cc/Bcc, attachments with a size limit,
and the warning before writing to a suppressed address. Sent through a real SMTP
server (aiosmtpd)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from compliance.models import Suppression
from compliance.services import Actor, suppress_address
from conversations.models import Attachment
from kommunikation.dispatch import dispatch_batch
from tests.conftest import NOW
from tests.factories import ConversationFactory, MessageFactory
from tests.kommunikation.conftest import smtp_sink  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW)]
HTMX = {"HX-Request": "true", "HX-Target": "detail"}


@pytest.fixture
def conv(brand_a):
    conv = ConversationFactory(brand=brand_a, counterpart="kunde@example.de", subject="Wallbox")
    MessageFactory(conversation=conv, message_id="<a1@example.de>")
    return conv


def test_a_reply_with_subject_cc_bcc_and_an_attachment_goes_out_so(
    client,
    agent_a,
    conv,
    smtp_sink,  # noqa: F811
):
    client.force_login(agent_a)
    pdf = SimpleUploadedFile("angebot.pdf", b"%PDF-1.4 Angebot", content_type="application/pdf")

    response = client.post(
        f"/konversationen/{conv.pk}/antwort/",
        {
            "text": "Anbei das Angebot.",
            "subject": "Ihr Angebot",
            "cc": "Chef@Example.de, buchhaltung@example.de",
            "bcc": "archiv@laderthuis.nl",
            "files": [pdf],
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    dispatch_batch()

    [(_sender, recipients, _raw)] = smtp_sink.envelopes
    assert sorted(recipients) == [
        "archiv@laderthuis.nl", "buchhaltung@example.de", "chef@example.de", "kunde@example.de",
    ]  # fmt: skip
    [sent] = smtp_sink.messages
    assert sent["Subject"] == "Ihr Angebot"
    assert sent["To"] == "kunde@example.de"
    assert sent["Cc"] == "chef@example.de, buchhaltung@example.de"
    assert sent["Bcc"] is None  # the envelope only
    [part] = list(sent.iter_attachments())
    assert (part.get_filename(), part.get_content()) == ("angebot.pdf", b"%PDF-1.4 Angebot")
    reply = conv.messages.get(direction="out")
    assert reply.cc == ["chef@example.de", "buchhaltung@example.de"]
    assert reply.header("Bcc") == "archiv@laderthuis.nl"
    [stored] = Attachment.objects.filter(message=reply)
    assert (stored.filename, stored.size) == ("angebot.pdf", 16)


def test_the_subject_is_prefilled_with_aw(client, agent_a, conv):
    client.force_login(agent_a)

    response = client.get(f"/konversationen/{conv.pk}/", headers=HTMX)

    assert 'name="subject" id="reply-subject" maxlength="500" value="AW: Wallbox"' in response.text


def test_attachments_over_the_limit_are_refused_in_german(client, agent_a, conv, settings):
    settings.REPLY_ATTACHMENTS_MAX_BYTES = 1024
    client.force_login(agent_a)
    big = SimpleUploadedFile("gross.bin", b"x" * 2048)

    response = client.post(
        f"/konversationen/{conv.pk}/antwort/", {"text": "Anbei.", "files": [big]}, headers=HTMX
    )

    assert response.status_code == 422
    assert "Die Anhänge sind zusammen größer als 1,0" in response.text
    assert response["HX-Retarget"] == "#reply-errors"
    assert not conv.messages.filter(direction="out").exists()


def test_an_invalid_copy_address_is_refused(client, agent_a, conv):
    client.force_login(agent_a)

    response = client.post(
        f"/konversationen/{conv.pk}/antwort/", {"text": "Hallo", "cc": "chef@"}, headers=HTMX
    )

    assert response.status_code == 422
    assert "Ungültige E-Mail-Adresse: chef@" in response.text


def test_the_composer_warns_before_writing_to_a_blocked_address(client, agent_a, conv):
    suppress_address(
        channel="email", value="kunde@example.de", reason=Suppression.Reason.HARD_BOUNCE,
        actor=Actor.staff(agent_a),
    )  # fmt: skip
    client.force_login(agent_a)

    response = client.get(f"/konversationen/{conv.pk}/antwortvorlagen/", headers=HTMX)

    assert "Diese Antwort wird nicht gesendet: kunde@example.de steht auf der Sperrliste" in (
        response.text
    )


def test_an_unsubscribe_only_hints_a_service_reply_still_goes(client, agent_a, conv):
    suppress_address(
        channel="email", value="kunde@example.de", reason=Suppression.Reason.UNSUBSCRIBED,
        actor=Actor.staff(agent_a),
    )  # fmt: skip
    client.force_login(agent_a)

    response = client.get(f"/konversationen/{conv.pk}/antwortvorlagen/", headers=HTMX)

    assert "wird trotzdem gesendet" in response.text
    assert "wird nicht gesendet" not in response.text


def test_no_warning_for_a_reply_to_a_customer_without_marketing_consent(client, agent_a, conv):
    client.force_login(agent_a)

    response = client.get(f"/konversationen/{conv.pk}/antwortvorlagen/", headers=HTMX)

    assert 'id="reply-warnings"' not in response.text
