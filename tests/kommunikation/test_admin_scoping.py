from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from kommunikation.roles import ADMIN
from tests.factories import ConversationFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_a(brand_a):
    return UserFactory(username="alex.admin", brands=[brand_a], roles=[ADMIN])


def test_the_roles_exist_with_their_permissions():
    groups = {
        g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()
    }

    assert set(groups) == {"Agent", "Team-Lead", "Admin", "Management"}
    assert "classify_conversation" in groups["Agent"]
    assert "reassign_conversation" not in groups["Agent"]
    assert "reassign_conversation" in groups["Team-Lead"]
    assert "change_businessentity" in groups["Admin"]
    assert "change_businessentity" not in groups["Management"]


def test_an_admin_sees_only_the_conversations_of_their_brands(client, admin_a, brand_a, brand_b):
    own = ConversationFactory(brand=brand_a, subject="Eigene Marke")
    foreign = ConversationFactory(brand=brand_b, subject="Fremde Marke")
    client.force_login(admin_a)
    admin_a.user_permissions.add(
        *__import__(
            "django.contrib.auth.models", fromlist=["Permission"]
        ).Permission.objects.filter(codename="view_conversation")
    )

    listing = client.get("/admin/conversations/conversation/")
    foreign_page = client.get(f"/admin/conversations/conversation/{foreign.pk}/change/")

    assert listing.status_code == 200
    assert "Eigene Marke" in listing.content.decode()
    assert "Fremde Marke" not in listing.content.decode()
    assert own.pk
    assert foreign_page.status_code == 302  # admin redirects away from objects outside the queryset


def test_an_admin_sees_only_customers_of_their_brands(client, admin_a, brand_a, brand_b):
    CustomerFactory(brand=brand_a, last_name="Aschenbrenner")
    CustomerFactory(brand=brand_b, last_name="Bäumler")
    client.force_login(admin_a)

    listing = client.get("/admin/kommunikation/customer/")

    assert listing.status_code == 200
    assert "Aschenbrenner" in listing.content.decode()
    assert "Bäumler" not in listing.content.decode()


# --- links between two brands ----------------------------------------------------------


def test_models_refuse_links_between_two_brands_outside_the_admin_too(brand_a, brand_b):
    from django.core.exceptions import ValidationError

    from conversations.models import Message, RawEmail
    from kommunikation.models import OutboundMessage
    from tests.factories import SenderRuleFactory

    foreign_customer = CustomerFactory(brand=brand_b)
    conversation = ConversationFactory(brand=brand_a, customer=foreign_customer)
    rule = SenderRuleFactory.build(brand=brand_a, customer=foreign_customer)
    raw = RawEmail.objects.create(
        brand=brand_b, sha256="b" * 64, content_hash="b", data=b"", size=0
    )
    message = Message(conversation=conversation, channel="email", direction="in", raw=raw)
    outbound = OutboundMessage(
        brand=brand_b, customer=CustomerFactory(brand=brand_a), channel="email"
    )

    for obj, field in [
        (conversation, "customer"),
        (rule, "customer"),
        (message, "raw"),
        (outbound, "customer"),
    ]:
        with pytest.raises(ValidationError) as refused:
            obj.clean()
        assert field in refused.value.message_dict, obj


def test_a_team_lead_of_two_brands_cannot_link_a_conversation_to_the_other_brands_customer(
    client, team_lead, brand_a, brand_b
):
    from django.urls import reverse

    conversation = ConversationFactory(brand=brand_a, subject="Eigene")
    foreign_customer = CustomerFactory(brand=brand_b)
    client.force_login(team_lead)
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    form = client.get(url).context["adminform"].form
    data = {
        name: ("" if value is None else value)
        for name, value in ((n, form[n].value()) for n in form.fields)
        if not isinstance(value, (bool, list))
    }
    data.update(
        {
            "customer": foreign_customer.pk,
            "last_message_at_0": "01.12.2026",
            "last_message_at_1": "10:00:00",
            "created_at_0": "01.12.2026",
            "created_at_1": "09:00:00",
            "messages-TOTAL_FORMS": "0",
            "messages-INITIAL_FORMS": "0",
            "classification_changes-TOTAL_FORMS": "0",
            "classification_changes-INITIAL_FORMS": "0",
        }  # fmt: skip
    )

    response = client.post(url, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "anderen Marke" in str(errors["customer"])
    conversation.refresh_from_db()
    assert conversation.customer is None


def test_a_raw_id_field_shows_no_label_for_another_brands_object(client, brand_a, brand_b):
    from django.urls import reverse

    from kommunikation.roles import TEAM_LEAD

    lead = UserFactory(username="lena.lead", brands=[brand_a], roles=[TEAM_LEAD])
    foreign = CustomerFactory(brand=brand_b, last_name="Geheimnisträger")
    client.force_login(lead)

    response = client.post(
        reverse("admin:kommunikation_contactpoint_add"),
        {"customer": foreign.pk, "channel": "email", "value": "x@example.org", "type": "work",
         "position": "0"},
    )  # fmt: skip

    assert response.status_code == 200
    assert "customer" in response.context["adminform"].form.errors
    assert "Geheimnisträger" not in response.content.decode()
