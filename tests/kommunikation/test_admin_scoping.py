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
