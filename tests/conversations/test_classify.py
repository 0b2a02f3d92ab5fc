"""The sender decides (seed 001), in this order: address rule, known contact, domain rule,
the brand's own domains, the company domain of a known customer or supplier, bulk signals
from an unknown sender; otherwise unclassified."""

from __future__ import annotations

import pytest

from conversations.classify import COMPANY_DOMAIN, SenderClassifier, parent_domains
from conversations.models import Classification, SenderRule
from tests.factories import CustomerFactory, SenderRuleFactory, SupplierFactory

pytestmark = pytest.mark.django_db


def classify(brand, address, *, bulk=False):
    return SenderClassifier().classify(brand, address, bulk=bulk)


def test_an_address_rule_wins_over_everything(brand_a):
    customer = CustomerFactory(brand=brand_a, email="chef@laderthuis.nl")
    SenderRuleFactory(
        brand=brand_a,
        kind=SenderRule.Kind.DOMAIN,
        pattern="laderthuis.nl",
        classification=Classification.SUPPLIER,
    )
    SenderRuleFactory(
        brand=brand_a, pattern="chef@laderthuis.nl", classification=Classification.ADVERTISING
    )

    verdict = classify(brand_a, "chef@laderthuis.nl", bulk=True)

    assert verdict.classification == Classification.ADVERTISING
    assert verdict.customer_id is None
    assert customer  # a known contact, and still the rule decides


def test_a_known_contact_wins_over_a_domain_rule_and_the_most_specific_domain_counts(brand_a):
    known = CustomerFactory(brand=brand_a, email="chef@mail.grosshandel.example")
    supplier = SupplierFactory(brand=brand_a)
    SenderRuleFactory(
        brand=brand_a,
        kind=SenderRule.Kind.DOMAIN,
        pattern="grosshandel.example",
        classification=Classification.ADVERTISING,
    )
    SenderRuleFactory(
        brand=brand_a,
        kind=SenderRule.Kind.DOMAIN,
        pattern="mail.grosshandel.example",
        classification=Classification.SUPPLIER,
        customer=supplier,
    )

    verdict = classify(brand_a, "a@mail.grosshandel.example")
    parent = classify(brand_a, "b@grosshandel.example")
    contact = classify(brand_a, "chef@mail.grosshandel.example")

    assert (verdict.classification, verdict.customer_id) == (Classification.SUPPLIER, supplier.pk)
    assert parent.classification == Classification.ADVERTISING
    # the address itself is known: more specific than any rule for its domain
    assert (contact.classification, contact.customer_id) == (Classification.CUSTOMER, known.pk)


def test_a_known_customer_is_kunde_with_the_customer_linked(brand_a):
    customer = CustomerFactory(brand=brand_a, email="Juergen.Mueller@Kunde-GmbH.de")

    verdict = classify(brand_a, "juergen.mueller@kunde-gmbh.de", bulk=True)

    assert (verdict.classification, verdict.customer_id) == (Classification.CUSTOMER, customer.pk)


def test_a_known_supplier_is_lieferant(brand_a):
    supplier = SupplierFactory(brand=brand_a, email="info@lieferant.example")

    verdict = classify(brand_a, "info@lieferant.example")

    assert (verdict.classification, verdict.customer_id) == (Classification.SUPPLIER, supplier.pk)


def test_contacts_and_rules_of_another_brand_do_not_count(brand_a, brand_b):
    CustomerFactory(brand=brand_b, email="k@kunde.example")
    SenderRuleFactory(brand=brand_b, pattern="k@kunde.example")

    assert classify(brand_a, "k@kunde.example") is None


def test_the_brands_own_domains_are_intern_before_bulk_signals(brand_a):
    assert classify(brand_a, "kollege@laderthuis.nl").classification == Classification.INTERNAL
    assert classify(brand_a, "x@mail.laderthuis.nl", bulk=True).classification == (
        Classification.INTERNAL
    )


def test_bulk_from_an_unknown_sender_is_newsletter(brand_a):
    verdict = classify(brand_a, "news@elektro-newsletter.example", bulk=True)

    assert verdict.classification == Classification.NEWSLETTER


def test_an_unknown_sender_stays_unclassified(brand_a):
    assert classify(brand_a, "neu@irgendwo.example") is None
    assert classify(brand_a, "") is None


def test_the_content_does_not_decide(brand_a):
    # no bulk headers: a mail full of "Angebot" from a stranger is not advertising
    assert classify(brand_a, "angebot@evil.example", bulk=False) is None


def test_parent_domains_never_reach_the_bare_tld():
    assert parent_domains("mail.example.co.uk") == ["mail.example.co.uk", "example.co.uk", "co.uk"]
    assert parent_domains("example.de") == ["example.de"]


# --- a known sender wins over bulk signals; the company domain (issue 10) ----------------


def test_a_known_supplier_with_bulk_headers_stays_lieferant(brand_a):
    supplier = SupplierFactory(brand=brand_a, email="rechnung@grosshandel.example")

    verdict = classify(brand_a, "rechnung@grosshandel.example", bulk=True)

    assert (verdict.classification, verdict.customer_id) == (Classification.SUPPLIER, supplier.pk)


def test_a_new_system_address_of_a_known_supplier_is_that_supplier_despite_auto_submitted(
    brand_a,
):
    supplier = SupplierFactory(brand=brand_a, email="vertrieb@grosshandel.example")

    verdict = classify(brand_a, "rechnung@grosshandel.example", bulk=True)

    assert (verdict.classification, verdict.customer_id) == (Classification.SUPPLIER, supplier.pk)
    assert verdict.source == COMPANY_DOMAIN
    assert verdict.reason == "Domain eines bekannten Lieferanten"


def test_a_customers_newsletter_from_a_new_address_is_kunde(brand_a):
    customer = CustomerFactory(brand=brand_a, email="chef@huber-bau.example")

    verdict = classify(brand_a, "news@huber-bau.example", bulk=True)

    assert (verdict.classification, verdict.customer_id) == (Classification.CUSTOMER, customer.pk)


def test_a_learned_address_makes_its_domain_known_too(brand_a):
    customer = CustomerFactory(brand=brand_a)
    SenderRuleFactory(
        brand=brand_a,
        pattern="buero@schmidt-elektro.example",
        classification=Classification.CUSTOMER,
        customer=customer,
    )

    verdict = classify(brand_a, "info@schmidt-elektro.example")

    assert (verdict.classification, verdict.customer_id) == (Classification.CUSTOMER, customer.pk)


@pytest.mark.parametrize("domain", ["gmail.com", "gmx.de", "web.de", "ziggo.nl", "hetnet.nl"])
def test_a_freemail_domain_says_nothing_about_the_company(brand_a, domain):
    CustomerFactory(brand=brand_a, email=f"anna.huber@{domain}")

    assert classify(brand_a, f"peter.meier@{domain}") is None
    assert classify(brand_a, f"news@{domain}", bulk=True).classification == (
        Classification.NEWSLETTER
    )


def test_a_domain_of_two_customers_decides_nothing(brand_a):
    CustomerFactory(brand=brand_a, email="a@gemeinsam.example")
    SupplierFactory(brand=brand_a, email="b@gemeinsam.example")

    assert classify(brand_a, "c@gemeinsam.example") is None


def test_the_company_domain_of_another_brand_does_not_count(brand_a, brand_b):
    CustomerFactory(brand=brand_b, email="chef@huber-bau.example")

    assert classify(brand_a, "news@huber-bau.example") is None
