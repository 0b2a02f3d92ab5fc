"""Classification by sender: the sender decides, not the content (seed 001)."""

from __future__ import annotations

from collections.abc import Iterable
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
    cached for one batch (one instance per ingest run); ``prefetch`` looks up many
    senders at once (two queries for a whole batch of messages)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str, bool], SenderVerdict | None] = {}
        # per (brand, address): the rules for the address and its domains, and the
        # first contact point's (customer_id, kind)
        self._lookups: dict[
            tuple[int, str], tuple[dict[tuple[str, str], SenderRule], tuple[int, str] | None]
        ] = {}

    def classify(
        self, brand: BusinessEntity, address: str, *, bulk: bool = False
    ) -> SenderVerdict | None:
        key = (brand.pk, address, bulk)
        if key not in self._cache:
            self._cache[key] = self._classify(brand, address, bulk)
        return self._cache[key]

    def prefetch(self, brand: BusinessEntity, addresses: Iterable[str]) -> None:
        """Sender rules and contact points of every address not looked up yet."""
        missing = sorted({a for a in addresses if a and (brand.pk, a) not in self._lookups})
        if not missing:
            return
        patterns: set[str] = set()
        for address in missing:
            patterns.add(address)
            patterns.update(parent_domains(email_domain(address)))
        rules = {
            (r.kind, r.pattern): r
            for r in SenderRule.objects.filter(brand=brand, pattern__in=sorted(patterns))
        }
        contacts: dict[str, tuple[int, str]] = {}
        for value, customer_id, kind in (
            ContactPoint.objects.filter(
                channel=ContactChannel.EMAIL, value__in=missing, customer__brand=brand
            )
            .order_by("position", "id")
            .values_list("value", "customer_id", "customer__kind")
        ):
            contacts.setdefault(value, (customer_id, kind))
        for address in missing:
            self._lookups[(brand.pk, address)] = (rules, contacts.get(address))

    def _classify(self, brand: BusinessEntity, address: str, bulk: bool) -> SenderVerdict | None:
        if not address:
            return None
        self.prefetch(brand, [address])
        rules, contact = self._lookups[(brand.pk, address)]
        domains = parent_domains(email_domain(address))
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
