"""A bulk classification whose selection is known to be empty changes nothing, and says so
(it used to stop with EmptyResultSet while compiling the history INSERT ... SELECT)."""

import pytest

from conversations.models import ClassificationChange, Conversation
from conversations.services import record_classification
from tests.factories import ConversationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_empty_id_list_classifies_nothing():
    untouched = ConversationFactory()
    before = untouched.classification

    batch = record_classification(
        conversations=Conversation.objects.filter(pk__in=[]),
        classification="advertising",
        actor=UserFactory(),
    )

    assert batch.changed == 0
    assert not ClassificationChange.objects.exists()
    untouched.refresh_from_db()
    assert untouched.classification == before
