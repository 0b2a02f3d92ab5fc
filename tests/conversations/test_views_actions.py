from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from conversations.models import Attachment, ClassificationChange, Conversation, SenderRule
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def test_classify_saves_and_answers_with_the_notice_and_the_rows(client, agent_a, brand_a):
    conv = ConversationFactory(brand=brand_a)
    customer = CustomerFactory(brand=brand_a)
    client.force_login(agent_a)

    response = client.post(
        "/konversationen/klassifizieren/",
        {
            "scope": "auswahl",
            "ids": str(conv.pk),
            "classification": "customer",
            "customer": customer.pk,
        },
        headers=HTMX,
    )

    assert response.status_code == 200
    assert f"Als Kunde klassifiziert: {customer} ({customer.number})." in response.text
    assert f'id="row-{conv.pk}"' in response.text
    assert "inbox:classified" in response["HX-Trigger-After-Settle"]
    conv.refresh_from_db()
    assert (conv.classification, conv.customer) == ("customer", customer)


def test_classify_as_customer_without_a_customer_is_refused(client, agent_a, brand_a):
    conv = ConversationFactory(brand=brand_a)
    client.force_login(agent_a)

    response = client.post(
        "/konversationen/klassifizieren/",
        {"scope": "auswahl", "ids": str(conv.pk), "classification": "customer"},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert "Bitte einen Kunden oder Lieferanten auswählen." in response.text
    conv.refresh_from_db()
    assert conv.classification == ""


def test_classify_never_touches_another_brand(client, agent_a, brand_a, brand_b):
    mine = ConversationFactory(brand=brand_a, counterpart="x@spam.example")
    theirs = ConversationFactory(brand=brand_b, counterpart="x@spam.example")
    client.force_login(agent_a)

    for data in [
        {"scope": "auswahl", "ids": f"{mine.pk},{theirs.pk}"},
        {"scope": "absender", "sender": "x@spam.example"},
        {"scope": "treffer", "query": "status=alle"},
    ]:
        client.post(
            "/konversationen/klassifizieren/",
            {**data, "classification": "advertising", "remember_sender": "domain"},
            headers=HTMX,
        )

    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert (mine.classification, theirs.classification) == ("advertising", "")
    assert list(SenderRule.objects.values_list("brand", flat=True)) == [brand_a.pk]


def test_the_count_of_a_bulk_classification(client, agent_a, brand_a, brand_b):
    ConversationFactory.create_batch(3, brand=brand_a, counterpart="n@news.example")
    ConversationFactory(brand=brand_b, counterpart="n@news.example")
    client.force_login(agent_a)

    response = client.get(
        "/konversationen/klassifizieren/anzahl/", {"scope": "absender", "sender": "n@news.example"}
    )

    assert response.text == "3"


def test_undo_restores_and_only_for_the_own_brands(client, agent_a, agent_b, brand_a):
    conv = ConversationFactory(brand=brand_a, classification="internal")
    client.force_login(agent_a)
    client.post(
        "/konversationen/klassifizieren/",
        {"scope": "auswahl", "ids": str(conv.pk), "classification": "newsletter"},
        headers=HTMX,
    )
    batch = ClassificationChange.objects.get().batch

    client.force_login(agent_b)
    assert client.post(f"/klassifizierung/{batch}/rueckgaengig/", headers=HTMX).status_code == 404
    client.force_login(agent_a)
    response = client.post(f"/klassifizierung/{batch}/rueckgaengig/", headers=HTMX)

    assert response.status_code == 200
    assert "1 Klassifizierung wiederhergestellt." in response.text
    conv.refresh_from_db()
    assert conv.classification == "internal"


def test_an_agent_may_not_reassign_to_a_colleague(client, agent_a, brand_a, team_lead):
    conv = ConversationFactory(brand=brand_a)
    colleague = UserFactory(brands=[brand_a], roles=["Agent"])

    client.force_login(agent_a)
    response = client.post(
        f"/konversationen/{conv.pk}/zuweisen/", {"assignee": colleague.pk}, headers=HTMX
    )
    assert response.status_code == 403
    assert (
        client.post(
            f"/konversationen/{conv.pk}/zuweisen/", {"assignee": "ich"}, headers=HTMX
        ).status_code
        == 200
    )
    conv.refresh_from_db()
    assert conv.assignee == agent_a

    client.force_login(team_lead)
    client.post(f"/konversationen/{conv.pk}/zuweisen/", {"assignee": colleague.pk}, headers=HTMX)
    conv.refresh_from_db()
    assert conv.assignee == colleague


def test_reply_is_queued_and_shown_as_queued(client, agent_a, brand_a):
    conv = ConversationFactory(brand=brand_a, counterpart="kunde@example.de")
    client.force_login(agent_a)

    response = client.post(
        f"/konversationen/{conv.pk}/antwort/", {"text": "Vielen Dank!"}, headers=HTMX
    )

    assert response.status_code == 200
    assert "in Warteschlange" in response.text
    assert conv.messages.get().status == "queued"


def test_without_htmx_actions_redirect_back(client, agent_a, brand_a):
    conv = ConversationFactory(brand=brand_a)
    client.force_login(agent_a)

    response = client.post(f"/konversationen/{conv.pk}/status/", {"status": "archived"})

    assert response.status_code == 302
    conv.refresh_from_db()
    assert conv.status == "archived"
    response = client.post(f"/konversationen/{conv.pk}/prioritaet/", {"priority": "sofort"})
    assert response.status_code == 400


def test_the_message_html_view_is_sandboxed_and_maps_cid_images(client, agent_a, brand_a):
    message = MessageFactory(
        conversation=ConversationFactory(brand=brand_a),
        html='<p>Hallo</p><img src="cid:logo@x"><img data-remote-src="https://t.example/p.gif">',
        has_remote_images=True,
    )
    attachment = Attachment.objects.create(
        message=message,
        file=ContentFile(b"GIF89a", name="logo.gif"),
        filename="logo.gif",
        content_type="image/gif",
        size=6,
        sha256="a" * 64,
        content_id="<logo@x>",
        is_inline=True,
    )
    client.force_login(agent_a)

    response = client.get(f"/nachrichten/{message.pk}/html/")

    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "https:" not in csp
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "cid:" not in response.text
    assert ' src="https://t.example' not in response.text
    inline_url = response.text.split('<img src="')[1].split('"')[0]
    client.logout()
    image = client.get(inline_url)  # a sandboxed frame sends no session: the signature is enough
    assert image.status_code == 200
    assert b"".join(image.streaming_content) == b"GIF89a"
    assert client.get(inline_url[:-3] + "xyz/").status_code == 404

    client.force_login(agent_a)
    with_images = client.get(f"/nachrichten/{message.pk}/html/?bilder=1")
    assert "http: https:" in with_images["Content-Security-Policy"]
    assert ' src="https://t.example/p.gif"' in with_images.text
    download = client.get(f"/anhaenge/{attachment.pk}/")
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]


def test_queries_for_an_open_conversation_do_not_grow_with_messages(
    client, agent_a, brand_a, django_assert_max_num_queries
):
    conv = ConversationFactory(brand=brand_a, customer=CustomerFactory(brand=brand_a))
    MessageFactory.create_batch(30, conversation=conv)
    client.force_login(agent_a)

    # 12 whatever the thread's length: attachments, status timelines, outbox rows prefetched
    with django_assert_max_num_queries(12):
        response = client.get(
            f"/konversationen/{conv.pk}/", headers={**HTMX, "HX-Target": "detail"}
        )

    assert response.status_code == 200
    assert Conversation.objects.get().unread is False


def test_protocol_relative_images_stored_before_the_fix_are_disarmed_when_shown(
    client, agent_a, brand_a
):
    # HTML sanitised by the old code kept //host images armed
    message = MessageFactory(
        conversation=ConversationFactory(brand=brand_a),
        html='<p>Hallo</p><img src="//t.example/p.gif"><img src="http://t.example/q.gif">',
        has_remote_images=True,
    )
    client.force_login(agent_a)

    blocked = client.get(f"/nachrichten/{message.pk}/html/")
    shown = client.get(f"/nachrichten/{message.pk}/html/?bilder=1")

    assert ' src="//t.example' not in blocked.text and ' src="http://' not in blocked.text
    assert 'data-remote-src="//t.example/p.gif"' in blocked.text
    assert " http: " not in blocked["Content-Security-Policy"]
    assert (
        ' src="//t.example/p.gif"' in shown.text and ' src="http://t.example/q.gif"' in shown.text
    )
    assert "img-src data: " in shown["Content-Security-Policy"]
    assert " http: https:" in shown["Content-Security-Policy"]
