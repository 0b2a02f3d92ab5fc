"""The customer page's contact card: contact data, contact points, address, duplicates,
"Neue Nachricht"; Agents and Team-Leads, only in their brands."""

from __future__ import annotations

import pytest

from compliance.models import Suppression
from conversations.models import Conversation, Message
from kommunikation.models import ContactPoint, OutboundMessage
from tests.factories import ContactPointFactory, CustomerFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture(params=["agent_a", "team_lead"])
def staff(request):
    """Both roles keep contact data."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def anna(brand_a):
    customer = CustomerFactory(brand=brand_a, first_name="Anna", last_name="Huber", number="K-1")
    ContactPointFactory(customer=customer, value="anna@huber.example")
    return customer


def test_staff_change_name_company_number_and_kind(client, staff, anna):
    client.force_login(staff)

    response = client.post(
        f"/kunden/{anna.pk}/kontaktdaten/",
        {"is_company": "company", "company_name": "Huber Bau GmbH", "gender": "f",
         "first_name": "Anna", "last_name": "Huber", "number": "K-10083"},
        headers=HTMX,
    )  # fmt: skip

    assert response.status_code == 200
    assert "Kontaktdaten gespeichert." in response.text
    anna.refresh_from_db()
    assert (anna.is_company, anna.company_name, anna.number) == (True, "Huber Bau GmbH", "K-10083")


def test_a_company_without_its_name_is_refused_in_german(client, agent_a, anna):
    client.force_login(agent_a)

    response = client.post(
        f"/kunden/{anna.pk}/kontaktdaten/",
        {"is_company": "company", "company_name": "", "gender": "f", "last_name": "Huber"},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert "Bitte den Namen der Firma angeben." in response.text
    anna.refresh_from_db()
    assert not anna.is_company


def test_a_phone_number_is_stored_in_e164(client, staff, anna):
    client.force_login(staff)

    response = client.post(
        f"/kunden/{anna.pk}/kontaktwege/",
        {"channel": "phone", "value": "0171 234 56 78", "type": "mobile"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert anna.contact_points.filter(
        channel="phone", value="+491712345678", type="mobile"
    ).exists()
    assert "+491712345678 hinzugefügt." in response.text


def test_mobile_is_a_type_of_phone_number_only(client, agent_a, anna):
    client.force_login(agent_a)

    response = client.post(
        f"/kunden/{anna.pk}/kontaktwege/",
        {"channel": "email", "value": "a@b.example", "type": "mobile"},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert "»mobil« gibt es nur für Telefonnummern." in response.text


def test_an_address_of_another_contact_of_the_brand_is_refused_and_linked(
    client, agent_a, brand_a, anna
):
    other = CustomerFactory(brand=brand_a, first_name="Max", last_name="Roth")
    client.force_login(agent_a)

    response = client.post(
        f"/kunden/{other.pk}/kontaktwege/",
        {"channel": "email", "value": "Anna@Huber.example", "type": "work"},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert "gehört schon zu Anna Huber (K-1)" in response.text
    assert f'href="/kunden/{anna.pk}/"' in response.text
    assert not other.contact_points.exists()


def test_the_page_warns_of_a_possible_duplicate_and_links_it(client, agent_a, brand_a, anna):
    twin = CustomerFactory(brand=brand_a, first_name="Anna", last_name="Huber", number="K-2")
    client.force_login(agent_a)

    response = client.get(f"/kunden/{anna.pk}/")

    assert "Mögliche Dublette:" in response.text
    assert f'href="/kunden/{twin.pk}/"' in response.text


def test_a_contact_point_is_corrected_and_removed(client, staff, anna):
    point = anna.contact_points.get()
    client.force_login(staff)

    response = client.post(
        f"/kunden/{anna.pk}/kontaktwege/{point.pk}/",
        {"value": "anna.huber@huber.example", "type": "private"},
        headers=HTMX,
    )
    assert response.status_code == 200
    point.refresh_from_db()
    assert (point.value, point.type) == ("anna.huber@huber.example", "private")

    response = client.post(f"/kunden/{anna.pk}/kontaktwege/{point.pk}/entfernen/", headers=HTMX)
    assert response.status_code == 200
    assert not ContactPoint.objects.filter(pk=point.pk).exists()


def test_another_customers_contact_point_is_not_found(client, agent_a, brand_a, anna):
    other = CustomerFactory(brand=brand_a)
    foreign = ContactPointFactory(customer=other)
    client.force_login(agent_a)

    response = client.post(f"/kunden/{anna.pk}/kontaktwege/{foreign.pk}/entfernen/")

    assert response.status_code == 404
    assert ContactPoint.objects.filter(pk=foreign.pk).exists()


def test_the_address_is_saved_and_the_country_checked(client, staff, anna):
    client.force_login(staff)

    refused = client.post(
        f"/kunden/{anna.pk}/anschrift/",
        {"street": "Hauptstr. 1", "postal_code": "80331", "city": "München", "country": "D1"},
        headers=HTMX,
    )
    saved = client.post(
        f"/kunden/{anna.pk}/anschrift/",
        {"street": "Hauptstr. 1", "postal_code": "80331", "city": "München", "country": "de"},
        headers=HTMX,
    )

    assert refused.status_code == 422
    assert "zwei Buchstaben" in refused.text
    assert saved.status_code == 200
    anna.refresh_from_db()
    assert (anna.street, anna.city, anna.country) == ("Hauptstr. 1", "München", "DE")


def test_a_customer_of_another_brand_cannot_be_edited(client, agent_a, brand_b):
    other = CustomerFactory(brand=brand_b, last_name="Fremd")
    client.force_login(agent_a)

    response = client.post(
        f"/kunden/{other.pk}/kontaktdaten/",
        {"is_company": "person", "gender": "f", "last_name": "Gekapert"},
    )

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.last_name == "Fremd"


def test_neue_nachricht_starts_a_conversation_through_the_reply_path(client, staff, anna):
    client.force_login(staff)

    response = client.post(
        f"/kunden/{anna.pk}/nachricht/",
        {"to": "anna@huber.example", "subject": "Ihr Angebot", "text": "Guten Tag Frau Huber"},
        headers=HTMX,
    )

    conversation = Conversation.objects.get(customer=anna)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/konversationen/{conversation.pk}/"
    assert (conversation.brand, conversation.counterpart, conversation.classification) == (
        anna.brand, "anna@huber.example", "customer",
    )  # fmt: skip
    message = conversation.messages.get()
    assert (message.direction, message.subject, message.author) == ("out", "Ihr Angebot", staff)
    assert message.to == ["anna@huber.example"]
    row = OutboundMessage.objects.get(message=message)
    assert (row.customer, row.to_address, row.source) == (anna, "anna@huber.example", "reply")


def test_neue_nachricht_only_to_the_customers_own_addresses(client, agent_a, anna):
    client.force_login(agent_a)

    response = client.post(
        f"/kunden/{anna.pk}/nachricht/",
        {"to": "fremd@example.org", "subject": "x", "text": "y"},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert not Message.objects.exists()


def test_after_blocking_the_block_form_of_that_address_is_gone(client, team_lead, anna):
    point = anna.contact_points.get()
    client.force_login(team_lead)
    page = client.get(f"/kunden/{anna.pk}/")
    assert f'name="contact_point" value="{point.pk}"' in page.text

    response = client.post(
        f"/kunden/{anna.pk}/sperren/",
        {"contact_point": point.pk, "channel": "email", "detail": "Wunsch"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert Suppression.objects.filter(value="anna@huber.example").exists()
    assert "anna@huber.example ist für E-Mail gesperrt." in response.text
    assert f'name="contact_point" value="{point.pk}"' not in response.text
