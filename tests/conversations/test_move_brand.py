"""A Team-Lead moves a misrouted conversation to another of their brands: the service
(`move_conversation_to_brand`) and its view (POST /konversationen/<pk>/marke/)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client

from compliance.models import AuditEntry
from conversations.ingest import ingest_raw_email
from conversations.models import (
    Attachment,
    ClassificationChange,
    Conversation,
    Mailbox,
    Message,
    RawEmail,
)
from conversations.services import BRAND_MOVED, move_conversation_to_brand
from kommunikation.models import OutboundMessage
from kommunikation.roles import AGENT, TEAM_LEAD
from tests.factories import BrandFactory, ConversationFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}

MAIL = (
    "From: Jan de Vries <jan.devries@gmail.example>\n"
    "To: ZaptecShop <support@zaptecshop.nl>\n"
    "Subject: Mijn LaderThuis-wallbox laadt niet\n"
    "Date: Fri, 20 Nov 2026 10:00:00 +0100\n"
    "Message-ID: <first@gmail.example>\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="b"\n\n'
    "--b\nContent-Type: text/plain; charset=utf-8\n\nDe wallbox van LaderThuis laadt niet.\n"
    "--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=factuur.pdf\n"
    "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n"
)


@pytest.fixture
def brand_c(db):
    return BrandFactory(name="ChargeCars", slug="chargecars", domains=["chargecars.nl"])


@pytest.fixture
def misrouted(brand_a, brand_b, tmp_path):
    """A LaderThuis customer's mail that went to ZaptecShop, classified there, with an
    attachment, a mailbox and an assignee of ZaptecShop only."""
    (tmp_path / "import").mkdir()
    (tmp_path / "import" / "mail.eml").write_text(MAIL)
    call_command("ingest_email", str(tmp_path / "import"), stdout=StringIO(), stderr=StringIO())
    conversation = Conversation.objects.get()
    assert conversation.brand == brand_b
    customer_b = CustomerFactory(brand=brand_b, email="jan.devries@gmail.example")
    conversation.customer = customer_b
    conversation.classification = "customer"
    conversation.mailbox = Mailbox.objects.create(brand=brand_b, name="Support")
    conversation.assignee = UserFactory(username="zara.zaptec", brands=[brand_b], roles=[AGENT])
    conversation.save()
    return conversation


def test_the_conversation_moves_with_everything_that_carries_a_brand(
    misrouted, team_lead, brand_a, brand_b
):
    old_customer = misrouted.customer

    moved = move_conversation_to_brand(conversation=misrouted, brand=brand_a, actor=team_lead)

    misrouted.refresh_from_db()
    assert misrouted.brand == brand_a and moved.brand == brand_a
    assert (misrouted.customer, misrouted.mailbox, misrouted.assignee) == (None, None, None)
    assert misrouted.classification == "customer"  # the kind stays; the customer is B's
    assert RawEmail.objects.get().brand == brand_a
    assert Attachment.objects.get().message.conversation == misrouted
    note = misrouted.messages.get(is_internal_note=True)
    assert note.author == team_lead
    assert "Marke geändert: ZaptecShop → LaderThuis" in note.text
    assert misrouted.message_count == 2
    change = ClassificationChange.objects.get(conversation=misrouted)
    assert (change.from_customer, change.to_customer, change.changed_by) == (
        old_customer,
        None,
        team_lead,
    )
    entry = AuditEntry.objects.get(action=BRAND_MOVED)
    assert (entry.actor, entry.object_id, entry.customer_id) == (
        team_lead,
        str(misrouted.pk),
        old_customer.pk,
    )
    assert entry.changes["brand"] == ["ZaptecShop", "LaderThuis"]
    old_customer.refresh_from_db()  # the customer itself stays with its brand
    assert old_customer.brand == brand_b


def test_an_assignee_of_both_brands_keeps_the_conversation(misrouted, team_lead, brand_a):
    misrouted.assignee = team_lead
    misrouted.save()

    move_conversation_to_brand(conversation=misrouted, brand=brand_a, actor=team_lead)

    misrouted.refresh_from_db()
    assert misrouted.assignee == team_lead


def test_after_the_move_the_same_mail_is_a_duplicate_and_replies_follow_the_thread(
    misrouted, team_lead, brand_a, tmp_path
):
    move_conversation_to_brand(conversation=misrouted, brand=brand_a, actor=team_lead)

    out = StringIO()
    call_command("ingest_email", str(tmp_path / "import"), stdout=out, stderr=StringIO())
    reply = (
        MAIL.replace("<first@gmail.example>", "<second@gmail.example>")
        .replace("Subject: ", "In-Reply-To: <first@gmail.example>\nSubject: Re: ")
        .encode()
    )
    result = ingest_raw_email(reply, brand=None, source="t")

    assert "0 neu, 1 doppelt" in out.getvalue()
    assert (result.outcome, result.conversation) == ("threaded", misrouted)
    assert Conversation.objects.count() == 1
    assert RawEmail.objects.filter(brand=brand_a).count() == 2


def test_an_agent_may_not_move(misrouted, brand_a, brand_b):
    agent = UserFactory(username="allround", brands=[brand_a, brand_b], roles=[AGENT])

    with pytest.raises(PermissionDenied):
        move_conversation_to_brand(conversation=misrouted, brand=brand_a, actor=agent)

    misrouted.refresh_from_db()
    assert misrouted.brand.slug == "zaptecshop"


@pytest.mark.parametrize("lacks", ["source", "target"])
def test_a_lead_needs_both_brands(misrouted, brand_a, brand_b, brand_c, lacks):
    lead = UserFactory(
        username="lead", brands=[brand_a] if lacks == "source" else [brand_b], roles=[TEAM_LEAD]
    )

    with pytest.raises(PermissionDenied):
        move_conversation_to_brand(
            conversation=misrouted, brand=brand_a if lacks == "source" else brand_c, actor=lead
        )

    assert Conversation.objects.get().brand == brand_b
    assert not AuditEntry.objects.exists()


def test_moving_to_its_own_brand_is_refused(misrouted, team_lead, brand_b):
    with pytest.raises(ValidationError):
        move_conversation_to_brand(conversation=misrouted, brand=brand_b, actor=team_lead)


def test_a_reply_still_waiting_to_be_sent_stops_the_move(misrouted, team_lead, brand_a, brand_b):
    OutboundMessage.objects.create(
        brand=brand_b,
        conversation=misrouted,
        channel="email",
        category="service",
        idempotency_key="reply:1",
        source="reply",
    )

    with pytest.raises(ValidationError, match="wartet noch auf den Versand"):
        move_conversation_to_brand(conversation=misrouted, brand=brand_a, actor=team_lead)

    assert Conversation.objects.get().brand == brand_b


# --- the view ---------------------------------------------------------------------------


def url(conversation) -> str:
    return f"/konversationen/{conversation.pk}/marke/"


def test_a_lead_moves_it_from_the_conversation_pane(client, misrouted, team_lead, brand_a):
    client.force_login(team_lead)

    response = client.post(url(misrouted), {"brand": brand_a.pk}, headers=HTMX)

    assert response.status_code == 200
    assert "Marke geändert: LaderThuis" in response.text
    assert f'id="row-{misrouted.pk}"' in response.text
    misrouted.refresh_from_db()
    assert misrouted.brand == brand_a


def test_without_htmx_it_redirects_to_the_conversation(client, misrouted, team_lead, brand_a):
    client.force_login(team_lead)

    response = client.post(url(misrouted), {"brand": brand_a.pk})

    assert response.status_code == 302
    assert response["Location"] == f"/konversationen/{misrouted.pk}/"
    assert Conversation.objects.get().brand == brand_a


def test_a_conversation_of_a_foreign_brand_is_404(client, misrouted, brand_a):
    lead_a = UserFactory(username="lead.a", brands=[brand_a], roles=[TEAM_LEAD])
    client.force_login(lead_a)

    response = client.post(url(misrouted), {"brand": brand_a.pk}, headers=HTMX)

    assert response.status_code == 404
    assert Conversation.objects.get().brand.slug == "zaptecshop"


def test_an_agent_gets_403(client, misrouted, brand_a, brand_b):
    agent = UserFactory(username="allround", brands=[brand_a, brand_b], roles=[AGENT])
    client.force_login(agent)

    response = client.post(url(misrouted), {"brand": brand_a.pk}, headers=HTMX)

    assert response.status_code == 403
    assert Conversation.objects.get().brand.slug == "zaptecshop"


@pytest.mark.parametrize("target", ["foreign", "own", "nonsense", "missing"])
def test_a_brand_the_lead_cannot_choose_is_400(
    client, misrouted, team_lead, brand_b, brand_c, target
):
    client.force_login(team_lead)
    data = {
        "foreign": {"brand": brand_c.pk},
        "own": {"brand": brand_b.pk},
        "nonsense": {"brand": "x"},
        "missing": {},
    }[target]

    response = client.post(url(misrouted), data, headers=HTMX)

    assert response.status_code == 400
    assert Conversation.objects.get().brand == brand_b
    assert not AuditEntry.objects.exists()


def test_a_pending_reply_is_400_with_the_reason(client, misrouted, team_lead, brand_a, brand_b):
    OutboundMessage.objects.create(
        brand=brand_b,
        conversation=misrouted,
        channel="email",
        category="service",
        idempotency_key="reply:1",
        source="reply",
    )
    client.force_login(team_lead)

    response = client.post(url(misrouted), {"brand": brand_a.pk}, headers=HTMX)

    assert response.status_code == 400
    assert "wartet noch auf den Versand" in response.text


def test_it_needs_post_and_the_csrf_token(misrouted, team_lead, brand_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(team_lead)

    assert client.get(url(misrouted)).status_code == 405
    assert client.post(url(misrouted), {"brand": brand_a.pk}).status_code == 403
    assert Conversation.objects.get().brand.slug == "zaptecshop"


def test_the_pane_offers_the_other_brands_to_a_lead_only(client, misrouted, team_lead, brand_a):
    agent = UserFactory(username="allround", brands=[brand_a, misrouted.brand], roles=[AGENT])
    pane = f"/konversationen/{misrouted.pk}/"

    client.force_login(team_lead)
    lead_view = client.get(pane, headers={**HTMX, "HX-Target": "detail"}).text
    client.force_login(agent)
    agent_view = client.get(pane, headers={**HTMX, "HX-Target": "detail"}).text

    assert "Marke ändern" in lead_view
    assert f'action="{url(misrouted)}"' in lead_view
    assert f'<option value="{brand_a.pk}">LaderThuis</option>' in lead_view
    assert ">ZaptecShop</option>" not in lead_view  # not its own brand
    assert "Marke ändern" not in agent_view


def test_a_moved_message_is_shown_to_the_new_brand_and_hidden_from_the_old(
    client, misrouted, team_lead, brand_a, brand_b, agent_a, agent_b
):
    move_conversation_to_brand(conversation=misrouted, brand=brand_a, actor=team_lead)
    message = Message.objects.get(is_internal_note=False)
    attachment = Attachment.objects.get()

    client.force_login(agent_a)
    assert client.get(f"/konversationen/{misrouted.pk}/").status_code == 200
    assert client.get(f"/anhaenge/{attachment.pk}/").status_code == 200
    client.force_login(agent_b)
    assert client.get(f"/konversationen/{misrouted.pk}/").status_code == 404
    assert client.get(f"/nachrichten/{message.pk}/html/").status_code == 404
    assert client.get(f"/anhaenge/{attachment.pk}/").status_code == 404


def test_the_factory_conversation_without_raw_mail_moves_too(team_lead, brand_a, brand_b):
    conversation = ConversationFactory(brand=brand_b)

    move_conversation_to_brand(conversation=conversation, brand=brand_a, actor=team_lead)

    conversation.refresh_from_db()
    assert conversation.brand == brand_a
