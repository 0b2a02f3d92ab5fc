"""Classification by sender: the sender decides, not the content (seed 001).

In this order (the first that knows the sender wins):

1. a sender rule for the address (learned from staff, or set in the admin);
2. a contact point of a customer or supplier of the brand with that address: a known
   sender is that customer or supplier even when the mail carries bulk headers (seed
   001: "auch Marketing-Newsletter von Kunden", invoices from a supplier's system);
3. a sender rule for the domain (the most specific domain first);
4. the brand's own domains: Intern;
5. the company domain of a known customer or supplier: a new address on a domain the
   brand knows from exactly one customer or supplier (by a contact point or a sender
   rule with a customer) is that company. Never for freemail domains, where one domain
   is thousands of unrelated people;
6. bulk signals (List-Id, Precedence, Auto-Submitted, ...) from an unknown sender:
   Newsletter.

What none of these decide, the brand's own model (``conversations.learning``) may
propose; ingestion asks it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F, Value
from django.db.models.functions import StrIndex, Substr
from django.utils.translation import gettext_lazy as _

from conversations.models import Classification, SenderRule
from kommunikation.contact import email_domain
from kommunikation.models import BusinessEntity, ContactChannel, ContactPoint, CustomerKind

# Domains where an address says nothing about the company behind it. German, Dutch and
# international mail providers; an address there is learned one by one, never by domain.
FREEMAIL_DOMAINS = frozenset(
    [
        "gmail.com", "googlemail.com", "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "gmx.com",
        "web.de", "t-online.de", "outlook.com", "outlook.de", "hotmail.com", "hotmail.de",
        "hotmail.nl", "live.com", "live.de", "live.nl", "msn.com", "yahoo.com", "yahoo.de",
        "yahoo.nl", "ymail.com", "icloud.com", "me.com", "mac.com", "freenet.de", "posteo.de",
        "posteo.net", "mailbox.org", "aol.com", "aol.de", "arcor.de", "online.de", "email.de",
        "mail.de", "vodafone.de", "kabelmail.de", "gmx.info", "protonmail.com", "proton.me",
        "tutanota.com", "tutanota.de", "tuta.io", "zoho.com", "yandex.com", "mail.ru",
        "ziggo.nl", "kpnmail.nl", "kpnplanet.nl", "hetnet.nl", "home.nl", "planet.nl",
        "chello.nl", "casema.nl", "quicknet.nl", "xs4all.nl", "upcmail.nl", "telfort.nl",
        "tele2.nl", "zonnet.nl", "caiway.nl", "onsbrabantnet.nl", "hccnet.nl", "solcon.nl",
    ]
)  # fmt: skip

# SenderVerdict.source
RULE_ADDRESS = "rule_address"
CONTACT = "contact"
RULE_DOMAIN = "rule_domain"
OWN_DOMAIN = "own_domain"
COMPANY_DOMAIN = "company_domain"
BULK = "bulk"
MODEL = "model"


def is_freemail(domain: str) -> bool:
    return domain.strip().lower() in FREEMAIL_DOMAINS


@dataclass(frozen=True)
class SenderVerdict:
    classification: str
    customer_id: int | None
    reason: str
    source: str = ""
    rule_id: int | None = None

    @property
    def knows_sender(self) -> bool:
        """True when the sender itself decided (a rule, a contact, a domain), not only
        the mail's bulk headers or a model's guess."""
        return self.source not in (BULK, MODEL)


def parent_domains(domain: str) -> list[str]:
    """mail.example.co.uk -> [mail.example.co.uk, example.co.uk, co.uk]; never the bare TLD."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


@dataclass
class _Lookup:
    """What the database knows about one sender address of one brand."""

    rules: dict[tuple[str, str], SenderRule]
    contact: tuple[int, str] | None  # (customer_id, kind) of the first contact point
    company: set[tuple[int, str]]  # (customer_id, kind) known on the address's domain


class SenderClassifier:
    """Decides by sender (see the module docstring). Lookups are cached for one batch
    (one instance per ingest run); ``prefetch`` looks up many senders at once (four
    queries for a whole batch of messages)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str, bool], SenderVerdict | None] = {}
        self._lookups: dict[tuple[int, str], _Lookup] = {}

    def classify(
        self, brand: BusinessEntity, address: str, *, bulk: bool = False
    ) -> SenderVerdict | None:
        key = (brand.pk, address, bulk)
        if key not in self._cache:
            self._cache[key] = self._classify(brand, address, bulk)
        return self._cache[key]

    def prefetch(self, brand: BusinessEntity, addresses: Iterable[str]) -> None:
        """Sender rules, contact points and company domains of every address not looked up yet."""
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
        companies = self._companies(
            brand, {d for a in missing if not is_freemail(d := email_domain(a)) and d}
        )
        for address in missing:
            self._lookups[(brand.pk, address)] = _Lookup(
                rules, contacts.get(address), companies.get(email_domain(address), set())
            )

    @staticmethod
    def _companies(brand: BusinessEntity, domains: set[str]) -> dict[str, set[tuple[int, str]]]:
        """domain -> the customers and suppliers of the brand known by an address on it."""
        found: dict[str, set[tuple[int, str]]] = defaultdict(set)
        if not domains:
            return found
        after_at = Substr(F("value"), StrIndex(F("value"), Value("@")) + 1)
        for domain, customer_id, kind in (
            ContactPoint.objects.filter(channel=ContactChannel.EMAIL, customer__brand=brand)
            .annotate(domain=after_at)
            .filter(domain__in=sorted(domains))
            .values_list("domain", "customer_id", "customer__kind")
        ):
            found[domain].add((customer_id, kind))
        pattern_domain = Substr(F("pattern"), StrIndex(F("pattern"), Value("@")) + 1)
        for domain, customer_id, kind in (
            SenderRule.objects.filter(
                brand=brand, kind=SenderRule.Kind.ADDRESS, customer__isnull=False
            )
            .annotate(domain=pattern_domain)
            .filter(domain__in=sorted(domains))
            .values_list("domain", "customer_id", "customer__kind")
        ):
            found[domain].add((customer_id, kind))
        return found

    def _classify(self, brand: BusinessEntity, address: str, bulk: bool) -> SenderVerdict | None:
        if not address:
            return None
        self.prefetch(brand, [address])
        lookup = self._lookups[(brand.pk, address)]
        rule = lookup.rules.get((SenderRule.Kind.ADDRESS, address))
        if rule:
            return SenderVerdict(
                rule.classification,
                rule.customer_id,
                str(_("Absenderregel (Adresse)")),
                RULE_ADDRESS,
                rule.pk,
            )
        if lookup.contact:
            customer_id, kind = lookup.contact
            if kind == CustomerKind.SUPPLIER:
                return SenderVerdict(
                    Classification.SUPPLIER, customer_id, str(_("bekannter Lieferant")), CONTACT
                )
            return SenderVerdict(
                Classification.CUSTOMER, customer_id, str(_("bekannter Kunde")), CONTACT
            )
        for domain in parent_domains(email_domain(address)):  # the most specific domain wins
            rule = lookup.rules.get((SenderRule.Kind.DOMAIN, domain))
            if rule:
                return SenderVerdict(
                    rule.classification,
                    rule.customer_id,
                    str(_("Absenderregel (Domain)")),
                    RULE_DOMAIN,
                    rule.pk,
                )
        if brand.owns_address(address):
            return SenderVerdict(Classification.INTERNAL, None, str(_("eigene Domain")), OWN_DOMAIN)
        if len(lookup.company) == 1:
            ((customer_id, kind),) = lookup.company
            if kind == CustomerKind.SUPPLIER:
                return SenderVerdict(
                    Classification.SUPPLIER,
                    customer_id,
                    str(_("Domain eines bekannten Lieferanten")),
                    COMPANY_DOMAIN,
                )
            return SenderVerdict(
                Classification.CUSTOMER,
                customer_id,
                str(_("Domain eines bekannten Kunden")),
                COMPANY_DOMAIN,
            )
        if bulk:
            return SenderVerdict(
                Classification.NEWSLETTER,
                None,
                str(_("Massen-E-Mail eines unbekannten Absenders")),
                BULK,
            )
        return None
