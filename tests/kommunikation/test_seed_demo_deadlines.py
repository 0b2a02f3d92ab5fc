"""The demo shows "überfällig" only where a reply is owed (issue 10 §4), not on every
open newsletter."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from conversations.models import Conversation


@pytest.mark.django_db
def test_the_demo_has_deadlines_only_where_a_reply_is_owed():
    call_command("seed_demo", "--conversations", "120", "--seed", "7", stdout=io.StringIO())

    with_deadline = Conversation.objects.filter(response_due_at__isnull=False)
    assert with_deadline.exists()
    assert not with_deadline.exclude(pk__in=Conversation.objects.owing_reply().values("pk"))
    assert not with_deadline.filter(classification__in=["newsletter", "advertising", "internal"])
