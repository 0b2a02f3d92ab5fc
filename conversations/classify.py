"""Classification by sender: the sender decides, not the content (seed 001)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from conversations.models import Classification, SenderRule
from kommunikation.contact import email_domain
from kommunikation.models import BusinessEntity, ContactChannel, ContactPoint, CustomerKind


@dataclass(frozen=True)
class SenderVerdict:
    classification: str
    customer_id: int | None
    reason: str


def parent_domains(domain: str) -> list[str]:
    """mail.example.co.uk -> [mail.example.co.uk, example.co.uk, co.uk]; never the bare TLD."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


class SenderClassifier:
    """Decides by sender, in the order of the seed: rule for the address, rule for the
    domain, a known contact point, the brand's own domains, bulk signals. Lookups are
    cached for one batch (one instance per ingest run)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str, bool], SenderVerdict | None] = {}

    def classify(
        self, brand: BusinessEntity, address: str, *, bulk: bool = False
    ) -> SenderVerdict | None:
        key = (brand.pk, address, bulk)
        if key not in self._cache:
            self._cache[key] = self._classify(brand, address, bulk)
        return self._cache[key]

    def _classify(self, brand: BusinessEntity, address: str, bulk: bool) -> SenderVerdict | None:
        if not address:
            return None
        domains = parent_domains(email_domain(address))
        rules = {
            (r.kind, r.pattern): r
            for r in SenderRule.objects.filter(brand=brand, pattern__in=[address, *domains])
        }
        rule = rules.get((SenderRule.Kind.ADDRESS, address))
        if rule:
            return SenderVerdict(
                rule.classification, rule.customer_id, str(_("Absenderregel (Adresse)"))
            )
        for domain in domains:  # the most specific domain rule wins
            rule = rules.get((SenderRule.Kind.DOMAIN, domain))
            if rule:
                return SenderVerdict(
                    rule.classification, rule.customer_id, str(_("Absenderregel (Domain)"))
                )

        contact = (
            ContactPoint.objects.filter(
                channel=ContactChannel.EMAIL, value=address, customer__brand=brand
            )
            .order_by("position", "id")
            .values_list("customer_id", "customer__kind")
            .first()
        )
        if contact:
            customer_id, kind = contact
            if kind == CustomerKind.SUPPLIER:
                return SenderVerdict(
                    Classification.SUPPLIER, customer_id, str(_("bekannter Lieferant"))
                )
            return SenderVerdict(Classification.CUSTOMER, customer_id, str(_("bekannter Kunde")))

        if brand.owns_address(address):
            return SenderVerdict(Classification.INTERNAL, None, str(_("eigene Domain")))
        if bulk:
            return SenderVerdict(
                Classification.NEWSLETTER, None, str(_("Massen-E-Mail eines unbekannten Absenders"))
            )
        return None
