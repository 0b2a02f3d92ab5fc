from __future__ import annotations

import pytest

from conversations.ingest import ingest_raw_email
from conversations.models import Conversation
from tests.conftest import NOW

pytestmark = pytest.mark.time_machine(NOW)  # the mails carry fixed 2026 dates


@pytest.mark.django_db
def test_it_ingests_a_mail_once(brand_a, email_data):
    raw = (email_data / "01_plain_utf8_umlauts.eml").read_bytes()

    first = ingest_raw_email(raw, brand=brand_a)
    second = ingest_raw_email(raw, brand=brand_a)

    assert first.outcome == "new"
    assert second.outcome == "duplicate"
    conversation = Conversation.objects.get()
    assert conversation.subject == "Frage zur Wallbox – Größe"
    assert conversation.messages.get().sender_name == "Jürgen Müller"
