"""The demo's SMS threads (issue 11 §2): every brand has one to answer, from its sender id."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from conversations.models import Conversation, Message
from kommunikation.models import BusinessEntity


@pytest.mark.django_db
def test_every_brand_has_an_sms_thread_waiting_for_an_answer_from_its_sender_id():
    call_command("seed_demo", "--conversations", "50", "--seed", "7", stdout=io.StringIO())

    for brand in BusinessEntity.objects.all():
        threads = Conversation.objects.filter(brand=brand, channel="sms")
        assert threads.exists(), brand.slug
        out = Message.objects.filter(conversation__in=threads, direction="out")
        assert set(out.values_list("sender_address", flat=True)) == {brand.sms_sender_id}
        for thread in threads:
            last = thread.messages.order_by("created_at", "id").last()
            assert last.direction == "in"  # the customer's word is the last: it waits for us
            assert last.sender_address == thread.counterpart
            assert thread.counterpart.startswith("+49")
