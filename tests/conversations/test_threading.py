"""Which conversation a message joins: Message-IDs first, then subject + counterpart."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conversations.models import Direction
from conversations.threading import find_conversation, normalize_subject
from tests.conftest import NOW
from tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.time_machine(NOW, tick=False)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Termin Installation", "termin installation"),
        ("Re: Termin Installation", "termin installation"),
        ("AW: Termin Installation", "termin installation"),
        ("Re: AW: Termin Installation", "termin installation"),
        ("WG: Fwd: FW: Termin Installation", "termin installation"),
        ("SV: VS: Antw: Termin Installation", "termin installation"),
        ("[EXT] AW: RE: Termin Installation", "termin installation"),
        ("AW: [EXTERN] Re[2]: Termin Installation", "termin installation"),
        ("Re (3): aw:Termin   Installation", "termin installation"),
        ("RE：Termin Installation", "termin installation"),  # full-width colon
        ("TR: RIF: Termin Installation", "termin installation"),
        ("*EXT* Termin Installation", "termin installation"),
        ("Re: Re: Re: Re: Re: Re: Termin Installation", "termin installation"),
        ("Rechnung: 4711", "rechnung: 4711"),  # a colon in the subject itself stays
        ("Reaktion auf Ihre Anfrage", "reaktion auf ihre anfrage"),
        ("Re:", ""),
        ("", ""),
    ],
)
def test_normalize_subject(subject, expected):
    assert normalize_subject(subject) == expected


@pytest.mark.django_db
def test_in_reply_to_finds_the_conversation_even_with_another_subject(brand_a):
    message = MessageFactory(conversation__brand=brand_a, message_id="<q1@kunde.example>")

    found = find_conversation(
        brand=brand_a,
        thread_ids=["<q1@kunde.example>"],
        counterpart="jemand-anderes@kunde.example",
        subject_key="ganz anders",
        at=NOW,
    )

    assert found == message.conversation


@pytest.mark.django_db
def test_our_own_outbound_message_id_threads_a_reply(brand_a):
    ours = MessageFactory(
        conversation__brand=brand_a,
        direction=Direction.OUTBOUND,
        message_id="<antwort-7@laderthuis.nl>",
    )

    found = find_conversation(
        brand=brand_a,
        thread_ids=["<antwort-7@laderthuis.nl>"],
        counterpart="",
        subject_key="",
        at=NOW,
    )

    assert found == ours.conversation


@pytest.mark.django_db
def test_message_ids_of_another_brand_do_not_count(brand_a, brand_b):
    MessageFactory(conversation__brand=brand_b, message_id="<q2@kunde.example>")

    assert (
        find_conversation(
            brand=brand_a,
            thread_ids=["<q2@kunde.example>"],
            counterpart="",
            subject_key="",
            at=NOW,
        )
        is None
    )


@pytest.mark.django_db
def test_the_same_subject_from_the_same_counterpart_within_14_days(brand_a):
    now = NOW
    recent = ConversationFactory(
        brand=brand_a,
        counterpart="k@kunde.example",
        subject_key="termin installation",
        last_message_at=now - timedelta(days=13),
    )
    ConversationFactory(  # too old
        brand=brand_a,
        counterpart="k@kunde.example",
        subject_key="rechnung",
        last_message_at=now - timedelta(days=15),
    )

    def find(counterpart, key):
        return find_conversation(
            brand=brand_a, thread_ids=[], counterpart=counterpart, subject_key=key, at=now
        )

    assert find("k@kunde.example", "termin installation") == recent
    assert find("k@kunde.example", "rechnung") is None
    assert find("anders@kunde.example", "termin installation") is None
    assert find("k@kunde.example", "") is None
