"""The demo shows letters in customer threads: one through Pingen with its postal status,
one in the day's print batch, each with its PDF."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conversations.models import Message
from kommunikation.demo import seed_demo
from kommunikation.demo.letters import seed_letter_demo
from kommunikation.letters.models import Letter, PrintBatch

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine("2026-11-25 12:00 +01:00")]


def test_the_demo_has_a_pingen_letter_and_a_printed_one_in_customer_threads(client):
    seed_demo(conversations=5, seed=3)

    assert seed_letter_demo() == 2
    assert seed_letter_demo() == 0  # a second demo_setup adds none

    pingen, printed = Letter.objects.order_by("pk")
    assert (pingen.mode, pingen.status) == ("pingen", "sent")
    assert (printed.mode, printed.status) == ("selfprint", "sent")
    assert printed.batch == PrintBatch.objects.get() and printed.batch.file
    for letter in (pingen, printed):
        message = Message.objects.get(outbound__letter=letter)
        assert message.channel == "letter" and message.status == "sent"
        assert message.conversation.customer_id == letter.outbound.customer_id
        attachment = message.attachments.get()
        assert attachment.file.name == letter.pdf.name  # one stored PDF
        assert attachment.file.read().startswith(b"%PDF")
    timeline = [
        (c.status, c.detail)
        for c in Message.objects.get(outbound__letter=pingen).status_changes.order_by("at", "pk")
    ]
    assert timeline[-1] == ("sent", "Brief: der Post übergeben")

    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("chefin", "chefin@example.org", "x")
    client.force_login(user)
    page = client.get(reverse("conversation", args=[message.conversation_id]))
    assert page.status_code == 200
    assert "brief-" in page.content.decode()
