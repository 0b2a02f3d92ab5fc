"""New and edited contacts (kommunikation.customers): prefill, normalisation, duplicates."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from compliance.models import AuditEntry
from kommunikation.customers import (
    CustomerDetails,
    DuplicateContactPoint,
    add_contact_point,
    create_customer,
    guess_details,
    possible_duplicates,
)
from kommunikation.models import ContactPoint
from tests.factories import ContactPointFactory, CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Anna Huber", "Anna", "Huber"),
        ("Anna Maria von Huber", "Anna Maria von", "Huber"),
        ("Huber, Anna", "Anna", "Huber"),
        ("Huber", "", "Huber"),
        ('"Peter Wagner"', "Peter", "Wagner"),
    ],
)
def test_a_persons_display_name_is_split_into_first_and_last_name(name, first, last):
    details = guess_details(name=name, address="a@huber.example")

    assert (details.is_company, details.first_name, details.last_name) == (False, first, last)
    assert details.email == "a@huber.example"


@pytest.mark.parametrize(
    "name",
    ["Huber Bau GmbH", "Elektro Maier e.K.", "Müller & Co", "Schmidt KG", "Solar UG", "ABC AG"],
)
def test_a_name_that_looks_like_a_company_becomes_the_company(name):
    details = guess_details(name=name, address="info@firma.example")

    assert (details.is_company, details.company_name, details.last_name) == (True, name, "")


def test_a_name_with_ag_inside_a_word_is_a_person():
    assert not guess_details(name="Agnes Kagel", address="a@x.example").is_company


def test_a_phone_sender_becomes_the_phone_number():
    details = guess_details(name="Anna Huber", address="+491701234567")

    assert (details.email, details.phone) == ("", "+491701234567")


def test_create_customer_stores_normalised_contact_points_and_audits(brand_a, agent_a):
    customer = create_customer(
        brand=brand_a,
        kind="supplier",
        details=CustomerDetails(
            is_company=True, company_name="Huber Bau GmbH", email="Info@Huber-Bau.example",
            phone="0171 2345678",
        ),
        actor=agent_a,
    )  # fmt: skip

    assert customer.brand == brand_a and customer.kind == "supplier"
    assert sorted(customer.contact_points.values_list("channel", "value")) == [
        ("email", "info@huber-bau.example"),
        ("phone", "+491712345678"),
    ]
    assert AuditEntry.objects.filter(action="customer.created", customer_id=customer.pk).exists()


def test_an_address_another_contact_of_the_brand_has_is_refused_with_that_contact(brand_a, agent_a):
    anna = CustomerFactory(brand=brand_a, first_name="Anna", last_name="Huber", number="K-1")
    ContactPointFactory(customer=anna, value="anna@huber.example")

    with pytest.raises(DuplicateContactPoint) as refused:
        create_customer(
            brand=brand_a,
            kind="customer",
            details=CustomerDetails(last_name="Huber", email="ANNA@huber.example"),
            actor=agent_a,
        )

    assert refused.value.existing == anna
    assert "Anna Huber (K-1)" in refused.value.messages[0]
    assert ContactPoint.objects.count() == 1


def test_the_same_address_in_another_brand_is_no_duplicate(brand_a, brand_b, agent_a):
    ContactPointFactory(customer=CustomerFactory(brand=brand_b), value="anna@huber.example")

    customer = create_customer(
        brand=brand_a,
        kind="customer",
        details=CustomerDetails(last_name="Huber", email="anna@huber.example"),
        actor=agent_a,
    )

    assert customer.contact_points.get().value == "anna@huber.example"


def test_a_phone_number_in_another_format_is_the_same_number(brand_a, agent_a):
    anna = CustomerFactory(brand=brand_a)
    ContactPoint.objects.create(customer=anna, channel="phone", value="+49 171 2345678")
    other = CustomerFactory(brand=brand_a)

    with pytest.raises(DuplicateContactPoint):
        add_contact_point(
            customer=other, channel="phone", value="0171 / 234 56 78", type="mobile", actor=agent_a
        )


def test_an_invalid_phone_number_is_refused_in_german(brand_a, agent_a):
    with pytest.raises(ValidationError) as refused:
        add_contact_point(
            customer=CustomerFactory(brand=brand_a), channel="phone", value="Rückruf bitte", type="work",
            actor=agent_a,
        )  # fmt: skip

    assert "keine gültige Telefonnummer" in refused.value.messages[0]


def test_possible_duplicates_are_the_same_name_or_company_domain_in_the_brand(brand_a, brand_b):
    anna = CustomerFactory(brand=brand_a, first_name="Anna", last_name="Huber")
    ContactPointFactory(customer=anna, value="anna@huber-bau.example")
    ContactPointFactory(customer=anna, value="anna.huber@gmail.com")
    twin = CustomerFactory(brand=brand_a, first_name="Anna", last_name="Huber")
    colleague = CustomerFactory(brand=brand_a, first_name="Max", last_name="Bauer")
    ContactPointFactory(customer=colleague, value="max@huber-bau.example")
    freemail = CustomerFactory(brand=brand_a, first_name="Eva", last_name="Roth")
    ContactPointFactory(customer=freemail, value="eva@gmail.com")
    CustomerFactory(brand=brand_b, first_name="Anna", last_name="Huber")

    found = dict(possible_duplicates(anna))

    assert set(found) == {twin, colleague}
    assert found[twin] == "gleicher Name"
    assert "huber-bau.example" in found[colleague]
