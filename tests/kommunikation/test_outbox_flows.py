"""Flows through the outbox: immediate dispatch on enqueue, double opt-in by email."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from compliance.models import Consent
from kommunikation.dispatch import dispatch_batch
from kommunikation.models import OutboundStatus
from kommunikation.outbox import enqueue_outbound, send_double_opt_in


def test_an_immediate_message_is_dispatched_right_after_the_commit(
    smtp_sink, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        row = enqueue_outbound(
            brand=customer.brand, customer=customer, channels="email", category="service",
            idempotency_key="service:1", source="reply", subject="Ihr Termin", text="Bis morgen.",
        )  # fmt: skip
    row.refresh_from_db()
    assert row.status == OutboundStatus.SENT
    assert len(smtp_sink.envelopes) == 1


def test_double_opt_in_mails_a_link_that_confirms_the_consent(smtp_sink, customer, client):
    send_double_opt_in(
        customer=customer, purpose="marketing", address="anna@kunde.example",
        wording="Ja, schickt mir den Newsletter.", wording_version="v3", ip_address="192.0.2.1",
    )  # fmt: skip
    dispatch_batch()
    message = smtp_sink.messages[0]
    assert message["From"] == "LaderThuis <noreply@laderthuis.nl>"
    assert message["List-Unsubscribe"] is None  # part of the consent process, not promotion
    text = message.get_body(("plain",)).get_content()  # the brand layout adds an HTML part
    link = re.search(r"https?://\S+/einwilligung/bestaetigen/\S+/", text).group(0)
    current = Consent.objects.current(customer=customer, purpose="marketing", channel="email")
    assert current.state == Consent.State.PENDING
    assert client.post(urlsplit(link).path).status_code == 200
    current = Consent.objects.current(customer=customer, purpose="marketing", channel="email")
    assert current.state == Consent.State.GRANTED
    assert current.wording_version == "v3"
