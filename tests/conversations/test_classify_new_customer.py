""" "Neuen Kunden anlegen" in the classification dialog: the prefilled form, and the new
contact saved with the classification in one request; Agents and Team-Leads."""

from __future__ import annotations

import pytest

from conversations.models import ClassificationChange, SenderRule
from kommunikation.models import Customer
from tests.factories import ContactPointFactory, ConversationFactory, CustomerFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture(params=["agent_a", "team_lead"])
def staff(request):
    return request.getfixturevalue(request.param)


def _new(conv, **fields):
    data = {
        "scope": "auswahl",
        "ids": str(conv.pk),
        "classification": "customer",
        "new_customer": "1",
        "neu-is_company": "person",
        "neu-first_name": "Anna",
        "neu-last_name": "Huber",
        "neu-email": conv.counterpart,
        "neu-phone": "",
        "neu-company_name": "",
        "neu-number": "",
    }
    data.update(fields)
    return data


def test_the_form_is_prefilled_from_the_sender(client, staff, brand_a):
    conv = ConversationFactory(
        brand=brand_a, counterpart="anna@huber.example", counterpart_name="Anna Huber"
    )
    client.force_login(staff)

    response = client.get(f"/konversationen/{conv.pk}/neuer-kontakt/", {"art": "customer"})

    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["first_name"] == "Anna"
    assert form.initial["last_name"] == "Huber"
    assert form.initial["email"] == "anna@huber.example"
    assert 'value="anna@huber.example"' in response.text


def test_a_company_sender_prefills_the_company(client, agent_a, brand_a):
    conv = ConversationFactory(
        brand=brand_a, counterpart="rechnung@huber-bau.example", counterpart_name="Huber Bau GmbH"
    )
    client.force_login(agent_a)

    response = client.get(f"/konversationen/{conv.pk}/neuer-kontakt/", {"art": "supplier"})

    assert response.context["form"].initial["is_company"] == "company"
    assert response.context["form"].initial["company_name"] == "Huber Bau GmbH"
    assert "Neuer Lieferant" in response.text


def test_another_brands_conversation_prefills_nothing(client, agent_a, brand_b):
    conv = ConversationFactory(brand=brand_b)
    client.force_login(agent_a)

    assert client.get(f"/konversationen/{conv.pk}/neuer-kontakt/").status_code == 404


def test_new_customer_and_classification_in_one_request(client, staff, brand_a):
    conv = ConversationFactory(brand=brand_a, counterpart="anna@huber.example")
    client.force_login(staff)

    response = client.post(
        "/konversationen/klassifizieren/", _new(conv, **{"neu-number": "K-10083"}), headers=HTMX
    )

    assert response.status_code == 200
    customer = Customer.objects.get()
    assert (customer.brand, customer.kind, customer.first_name, customer.last_name) == (
        brand_a, "customer", "Anna", "Huber",
    )  # fmt: skip
    assert list(customer.contact_points.values_list("channel", "value")) == [
        ("email", "anna@huber.example")
    ]
    conv.refresh_from_db()
    assert (conv.classification, conv.customer) == ("customer", customer)
    change = ClassificationChange.objects.get(conversation=conv)
    assert (change.to_customer, change.changed_by) == (customer, staff)
    # the sender is learned as the contact point: no extra rule
    assert not SenderRule.objects.exists()
    assert "Neu angelegt und als Kunde klassifiziert: Anna Huber (K-10083)." in response.text


def test_a_new_supplier_is_a_supplier(client, agent_a, brand_a):
    conv = ConversationFactory(brand=brand_a, counterpart="info@bau.example")
    client.force_login(agent_a)

    client.post(
        "/konversationen/klassifizieren/",
        _new(conv, classification="supplier", **{"neu-is_company": "company",
                                                  "neu-company_name": "Bau AG"}),
        headers=HTMX,
    )  # fmt: skip

    conv.refresh_from_db()
    assert conv.classification == "supplier"
    assert (conv.customer.kind, conv.customer.is_company, conv.customer.company_name) == (
        "supplier", True, "Bau AG",
    )  # fmt: skip


def test_the_new_customer_belongs_to_the_conversations_brand(client, team_lead, brand_b):
    conv = ConversationFactory(brand=brand_b, counterpart="anna@huber.example")
    client.force_login(team_lead)

    client.post("/konversationen/klassifizieren/", _new(conv, marke="999", brand="1"), headers=HTMX)

    assert Customer.objects.get().brand == brand_b


def test_conversations_of_two_brands_are_refused_and_nothing_is_created(
    client, team_lead, brand_a, brand_b
):
    one = ConversationFactory(brand=brand_a)
    two = ConversationFactory(brand=brand_b)
    client.force_login(team_lead)

    response = client.post(
        "/konversationen/klassifizieren/", _new(one, ids=f"{one.pk},{two.pk}"), headers=HTMX
    )

    assert response.status_code == 422
    assert "einer Marke" in response.text
    assert not Customer.objects.exists()
    assert not ClassificationChange.objects.exists()


def test_an_invalid_form_is_refused_in_german(client, agent_a, brand_a):
    conv = ConversationFactory(brand=brand_a)
    client.force_login(agent_a)

    response = client.post(
        "/konversationen/klassifizieren/",
        _new(conv, **{"neu-first_name": "", "neu-last_name": "", "neu-email": "kein-at"}),
        headers=HTMX,
    )

    assert response.status_code == 422
    assert "Bitte einen Namen angeben." in response.text
    assert "keine gültige E-Mail-Adresse" in response.text
    conv.refresh_from_db()
    assert conv.classification == ""
    assert not Customer.objects.exists()


def test_an_address_another_customer_has_is_refused_with_a_link(client, agent_a, brand_a):
    anna = CustomerFactory(brand=brand_a, first_name="Anna", last_name="Huber", number="K-7")
    ContactPointFactory(customer=anna, value="anna@huber.example")
    conv = ConversationFactory(brand=brand_a, counterpart="anna@huber.example")
    client.force_login(agent_a)

    response = client.post("/konversationen/klassifizieren/", _new(conv), headers=HTMX)

    assert response.status_code == 422
    assert "gehört schon zu Anna Huber (K-7)" in response.text
    assert f'href="/kunden/{anna.pk}/"' in response.text
    assert Customer.objects.count() == 1
    conv.refresh_from_db()
    assert conv.classification == ""


def test_without_add_customer_nothing_is_created(client, brand_a):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    user = UserFactory(username="nur.klassifizieren", brands=[brand_a])
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["classify_conversation", "view_conversation"])
    )
    conv = ConversationFactory(brand=brand_a)
    client.force_login(user)

    response = client.post("/konversationen/klassifizieren/", _new(conv), headers=HTMX)

    assert response.status_code == 403
    assert not Customer.objects.exists()


def test_the_toast_names_the_chosen_customer(client, agent_a, brand_a):
    anna = CustomerFactory(brand=brand_a, first_name="Anna", last_name="Huber", number="K-10083")
    convs = [ConversationFactory(brand=brand_a) for _ in range(3)]
    client.force_login(agent_a)

    one = client.post(
        "/konversationen/klassifizieren/",
        {"scope": "auswahl", "ids": str(convs[0].pk), "classification": "customer",
         "customer": anna.pk},
        headers=HTMX,
    )  # fmt: skip
    both = client.post(
        "/konversationen/klassifizieren/",
        {"scope": "auswahl", "ids": f"{convs[1].pk},{convs[2].pk}", "classification": "customer",
         "customer": anna.pk},
        headers=HTMX,
    )  # fmt: skip

    assert "Als Kunde klassifiziert: Anna Huber (K-10083)." in one.text
    assert "2 Konversationen als Kunde klassifiziert: Anna Huber (K-10083)." in both.text
