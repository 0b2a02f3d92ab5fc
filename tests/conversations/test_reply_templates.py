"""The template picker of the reply form: the library's reply templates, rendered per customer."""

from __future__ import annotations

import html

import pytest

from conversations.services import reply_templates
from kommunikation.models import ContactPoint
from templates_app.loading import LIBRARY_DIR, load_library
from templates_app.models import MessageTemplate, TemplateVariant, create_version
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true", "HX-Target": "detail"}


@pytest.fixture
def replies():
    load_library([LIBRARY_DIR / "replies.yaml"])


@pytest.fixture
def anna(brand_a):
    customer = CustomerFactory(
        brand=brand_a, first_name="Anna", last_name="Schwarzkopf", gender="f", language="de"
    )
    ContactPoint.objects.create(customer=customer, channel="phone", value="+4930123456")
    ContactPoint.objects.create(
        customer=customer, channel="phone", value="+4915112345678", type="mobile"
    )
    return customer


def offered(conversation) -> dict[str, tuple[str, str]]:
    return {key: (label, text) for key, label, text in reply_templates(conversation)}


def test_the_picker_offers_the_four_replies_rendered_for_the_customer(
    client, agent_a, brand_a, anna, replies
):
    conv = ConversationFactory(brand=brand_a, customer=anna, counterpart="anna@kopf.example")
    MessageFactory(conversation=conv)
    client.force_login(agent_a)

    pane = client.get(f"/konversationen/{conv.pk}/", headers=HTMX)
    assert f'hx-get="/konversationen/{conv.pk}/antwortvorlagen/"' in pane.text  # loaded on open
    response = client.get(f"/konversationen/{conv.pk}/antwortvorlagen/", headers=HTMX)

    assert response.status_code == 200
    page = html.unescape(response.text)
    assert 'id="reply-template"' in page
    for label in ["Abschluss / erledigt", "Eingangsbestätigung", "Rückfrage", "Rückrufangebot"]:
        assert f">{label}</option>" in page
    assert "Sehr geehrte Frau Schwarzkopf,\n\nvielen Dank für Ihre Nachricht! Wir melden" in page
    assert "sollen wir Sie unter +49 1511 2345678 zurückrufen?" in page  # the mobile first
    assert "Ihr Team von LaderThuis" in page


def test_the_reply_text_is_the_body_without_the_brand_footer(brand_a, anna, replies):
    conv = ConversationFactory(brand=brand_a, customer=anna)

    label, text = offered(conv)["reply_follow_up"]

    assert label == "Rückfrage"
    assert text.startswith("Sehr geehrte Frau Schwarzkopf,\n\nhaben Sie noch Fragen")
    assert text.endswith("Mit freundlichen Grüßen\nIhr Team von LaderThuis")
    assert "--" not in text


def test_an_english_customer_gets_english_replies_and_a_dutch_brand_its_language(
    brand_a, anna, replies
):
    anna.language = "en"
    anna.save()
    conv = ConversationFactory(brand=brand_a, customer=anna)
    assert offered(conv)["reply_acknowledgement"][1].startswith(
        "Dear Ms Schwarzkopf,\n\nThank you for your message!"
    )

    brand_a.default_language = "nl"
    brand_a.save()
    unknown = ConversationFactory(brand=brand_a, customer=None)
    assert offered(unknown)["reply_acknowledgement"][1].startswith(
        "Geachte heer/mevrouw,\n\nHartelijk dank voor uw bericht!"
    )


def test_without_a_customer_the_greeting_is_neutral_and_the_callback_asks_for_a_number(
    brand_a, replies
):
    conv = ConversationFactory(brand=brand_a, customer=None, counterpart="wer@extern.example")

    replies_offered = offered(conv)

    assert replies_offered["reply_follow_up"][1].startswith("Sehr geehrte Damen und Herren,")
    assert "Anna" not in replies_offered["reply_follow_up"][1]  # never the sample customer
    assert (
        "sollen wir Sie zurückrufen? Nennen Sie uns gern Ihre Telefonnummer."
        in (replies_offered["reply_callback"][1])
    )


def test_a_brand_template_replaces_the_default_for_that_brand_only(brand_a, brand_b, anna, replies):
    template = MessageTemplate.objects.get(key="reply_follow_up", language="de", brand=None)
    own = MessageTemplate.objects.create(
        key="reply_follow_up", event_type="conversation", category="service", channel="email",
        language="de", brand=brand_a, description="Rückfrage (LaderThuis)",
    )  # fmt: skip
    variant = TemplateVariant.objects.create(template=own, name="A")
    content = template.variants.get().active_version.content()
    content["text"] = "Moin {{ customer.first_name }}, noch Fragen?"
    create_version(variant=variant, content=content)

    assert offered(ConversationFactory(brand=brand_a, customer=anna))["reply_follow_up"][1] == (
        "Moin Anna, noch Fragen?"
    )
    other = ConversationFactory(brand=brand_b, customer=None)
    assert offered(other)["reply_follow_up"][1].startswith("Sehr geehrte Damen und Herren")


def test_a_template_that_needs_what_a_conversation_cannot_give_is_left_out(brand_a, anna, replies):
    # an appointment template whose event type was later changed to "conversation"
    load_library([LIBRARY_DIR / "appointments.yaml"])
    moved = MessageTemplate.objects.filter(channel="email", key="appointment_confirmation")
    assert moved.exists()
    moved.update(event_type="conversation")
    conv = ConversationFactory(brand=brand_a, customer=anna)

    keys = set(offered(conv))

    assert "appointment_confirmation" not in keys
    assert keys == {"reply_acknowledgement", "reply_follow_up", "reply_callback", "reply_resolved"}


def test_without_reply_templates_the_picker_is_empty(client, agent_a, brand_a):
    conv = ConversationFactory(brand=brand_a, counterpart="kunde@example.de")
    client.force_login(agent_a)

    response = client.get(f"/konversationen/{conv.pk}/antwortvorlagen/", headers=HTMX)

    assert response.status_code == 200
    assert response.text.strip() == ""  # the placeholder is swapped for nothing


def test_the_picker_of_another_brands_conversation_is_not_found(client, agent_a, brand_b, replies):
    conv = ConversationFactory(brand=brand_b, counterpart="kunde@example.de")
    client.force_login(agent_a)

    assert client.get(f"/konversationen/{conv.pk}/antwortvorlagen/").status_code == 404


def test_the_picker_costs_one_query_for_the_keys_and_a_few_per_template(
    client, agent_a, brand_a, anna, replies, django_assert_max_num_queries
):
    conv = ConversationFactory(brand=brand_a, customer=anna, counterpart="anna@kopf.example")
    client.force_login(agent_a)

    # session, user, conversation; the keys; the phone; per template: resolution,
    # its variants, the active version; the gate's suppression and preference (warnings)
    with django_assert_max_num_queries(5 + 1 + 4 * 3 + 2):
        response = client.get(f"/konversationen/{conv.pk}/antwortvorlagen/", headers=HTMX)

    assert response.status_code == 200
    assert response.text.count("<option") == 5
