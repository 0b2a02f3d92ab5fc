"""Creating and editing customers by staff: the contact data, contact points and address.

Every change is one named function taking keyword-only arguments, atomic, audited. The
rule that holds everywhere: within a brand an address or number belongs to one contact
only (an incoming message from it must name one customer), so an exact duplicate is
refused with the contact that has it; a possible duplicate (the same name, the same
company mail domain) is only pointed out (``possible_duplicates``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from compliance.services import Actor, audit
from kommunikation.contact import email_domain, normalize_email, normalize_phone
from kommunikation.models import (
    BusinessEntity,
    ContactChannel,
    ContactPoint,
    ContactType,
    Customer,
    CustomerKind,
)

CUSTOMER_CREATED = "customer.created"
CUSTOMER_CHANGED = "customer.changed"
CONTACT_POINT_ADDED = "customer.contact_point_added"
CONTACT_POINT_CHANGED = "customer.contact_point_changed"
CONTACT_POINT_REMOVED = "customer.contact_point_removed"
DUPLICATES_SHOWN = 5

# A sender's display name that names a company rather than a person (legal forms and
# the words companies put in their mail names).
_COMPANY = re.compile(
    r"(?:^|[\s,(])(?:gmbh|ag|e\.\s?k\.?|e\.\s?kfm\.?|kg|ohg|ug|gbr|mbh|se|e\.\s?v\.?|ltd\.?|"
    r"inc\.?|llc|b\.\s?v\.?|n\.\s?v\.?|s\.\s?a\.?|co\.?|&|und\s+co|gruppe|holding|"
    r"shop|team|service|support|kundenservice|vertrieb|buchhaltung|verlag|werk|werke)"
    r"(?=$|[\s,.)])",
    re.IGNORECASE,
)


class DuplicateContactPoint(ValidationError):
    """The address or number belongs to another contact of the same brand already."""

    def __init__(self, message: str, *, existing: Customer):
        super().__init__(message, code="duplicate")
        self.existing = existing


@dataclass(frozen=True)
class CustomerDetails:
    """What staff enter for a new contact (or the sender's guess of it)."""

    is_company: bool = False
    company_name: str = ""
    first_name: str = ""
    last_name: str = ""
    number: str = ""
    email: str = ""
    phone: str = ""


def looks_like_company(name: str) -> bool:
    return bool(_COMPANY.search(name))


def guess_details(*, name: str, address: str) -> CustomerDetails:
    """A new contact from a sender: the display name split into first and last name (the
    last word is the last name; "Huber, Anna" is read as last, first), or the company
    when the name looks like one; the address (or number) as its contact point."""
    name = " ".join(name.replace('"', " ").split())
    email = address if "@" in address else ""
    phone = "" if email else address
    if not name and email:
        name = ""  # a bare address: nothing to split (the local part is often "info")
    if name and looks_like_company(name):
        return CustomerDetails(is_company=True, company_name=name, email=email, phone=phone)
    first, last = "", name
    if "," in name:
        last, _comma, first = (part.strip() for part in name.partition(","))
    elif " " in name:
        first, _space, last = name.rpartition(" ")
    return CustomerDetails(first_name=first, last_name=last, email=email, phone=phone)


def name_with_number(customer: Customer) -> str:
    """How the inbox names a chosen contact: "Anna Huber (K-10083)"."""
    if customer.number:
        return f"{customer.display_name} ({customer.number})"
    return customer.display_name


def normalized_contact(channel: str, value: str) -> str:
    """The stored form (lower-case email, E.164 phone, German numbers by default), or a
    ValidationError with the German reason."""
    try:
        if channel == ContactChannel.EMAIL:
            return normalize_email(value)
        if channel == ContactChannel.PUSH:
            return value.strip()  # a device token, case-sensitive
        return normalize_phone(value)
    except ValueError as exc:
        raise ValidationError(str(exc), code="invalid") from None


def check_not_taken(
    *, brand_id: int, channel: str, value: str, exclude_customer: int | None = None
) -> None:
    """Refuse an address or number another contact of the brand has (exact, normalised)."""
    taken = ContactPoint.objects.filter(
        customer__brand_id=brand_id, channel=channel, value=value
    ).select_related("customer")
    if exclude_customer is not None:
        taken = taken.exclude(customer_id=exclude_customer)
    point = taken.first()
    if point is None:
        return
    what = _("Die E-Mail-Adresse") if channel == ContactChannel.EMAIL else _("Die Nummer")
    raise DuplicateContactPoint(
        _("%(what)s %(value)s gehört schon zu %(customer)s.")
        % {"what": what, "value": value, "customer": name_with_number(point.customer)},
        existing=point.customer,
    )


@transaction.atomic
def create_customer(
    *, brand: BusinessEntity, kind: str, details: CustomerDetails, actor
) -> Customer:
    """A new customer or supplier of ``brand`` with its email and phone as contact points."""
    if kind not in CustomerKind.values:
        raise ValidationError(_("Unbekannte Art des Kontakts."))
    points = []
    if details.email:
        points.append(
            (ContactChannel.EMAIL, normalized_contact(ContactChannel.EMAIL, details.email))
        )
    if details.phone:
        points.append(
            (ContactChannel.PHONE, normalized_contact(ContactChannel.PHONE, details.phone))
        )
    for channel, value in points:
        check_not_taken(brand_id=brand.pk, channel=channel, value=value)
    customer = Customer.objects.create(
        brand=brand,
        kind=kind,
        is_company=details.is_company,
        company_name=details.company_name.strip(),
        first_name=details.first_name.strip(),
        last_name=details.last_name.strip(),
        number=details.number.strip(),
        language=brand.default_language,
    )
    ContactPoint.objects.bulk_create(
        ContactPoint(
            customer=customer,
            channel=channel,
            value=value,
            type=ContactType.WORK if customer.is_company else ContactType.PRIVATE,
        )
        for channel, value in points
    )
    audit(
        actor=Actor.staff(actor),
        action=CUSTOMER_CREATED,
        obj=customer,
        customer_id=customer.pk,
        changes={"kind": kind, "name": customer.display_name, "contacts": [v for _c, v in points]},
    )
    return customer


CONTACT_FIELDS = ("is_company", "company_name", "gender", "first_name", "last_name", "number")
ADDRESS_FIELDS = ("street", "postal_code", "city", "country")


@transaction.atomic
def update_customer(*, customer: Customer, values: dict, actor) -> list[str]:
    """Change the contact data or the address (only the fields in CONTACT_FIELDS and
    ADDRESS_FIELDS); returns the changed field names, audited with old and new values."""
    allowed = set(CONTACT_FIELDS) | set(ADDRESS_FIELDS)
    changes = {
        field: [getattr(customer, field), value]
        for field, value in values.items()
        if field in allowed and getattr(customer, field) != value
    }
    if not changes:
        return []
    for field, (_old, new) in changes.items():
        setattr(customer, field, new)
    customer.save(update_fields=[*changes, "updated_at"])
    audit(
        actor=Actor.staff(actor),
        action=CUSTOMER_CHANGED,
        obj=customer,
        customer_id=customer.pk,
        changes=changes,
    )
    return list(changes)


@transaction.atomic
def add_contact_point(*, customer: Customer, channel: str, value: str, type: str, actor):
    value = normalized_contact(channel, value)
    check_not_taken(brand_id=customer.brand_id, channel=channel, value=value)
    position = customer.contact_points.filter(channel=channel).count()
    point = ContactPoint.objects.create(
        customer=customer, channel=channel, value=value, type=type, position=position
    )
    audit(
        actor=Actor.staff(actor),
        action=CONTACT_POINT_ADDED,
        obj=customer,
        customer_id=customer.pk,
        changes={"value": value, "type": type},
    )
    return point


@transaction.atomic
def change_contact_point(*, point: ContactPoint, value: str, type: str, actor) -> ContactPoint:
    """A corrected address or number keeps its place; a changed value starts unverified."""
    value = normalized_contact(point.channel, value)
    check_not_taken(
        brand_id=point.customer.brand_id,
        channel=point.channel,
        value=value,
        exclude_customer=point.customer_id,
    )
    if (
        point.customer.contact_points.filter(channel=point.channel, value=value)
        .exclude(pk=point.pk)
        .exists()
    ):
        raise ValidationError(_("Diesen Kontaktweg hat der Kunde schon."))
    changes = {}
    if value != point.value:
        changes["value"] = [point.value, value]
        point.value, point.verified, point.bouncing = value, False, False
        point.wrong_number = False  # a corrected number is tried again
    if type != point.type:
        changes["type"] = [point.type, type]
        point.type = type
    if changes:
        point.save(update_fields=["value", "type", "verified", "bouncing", "wrong_number"])
        audit(
            actor=Actor.staff(actor),
            action=CONTACT_POINT_CHANGED,
            obj=point.customer,
            customer_id=point.customer_id,
            changes=changes,
        )
    return point


@transaction.atomic
def remove_contact_point(*, point: ContactPoint, actor) -> None:
    """Remove an address or number (its suppression, if any, stays: it protects the address)."""
    audit(
        actor=Actor.staff(actor),
        action=CONTACT_POINT_REMOVED,
        obj=point.customer,
        customer_id=point.customer_id,
        changes={"value": point.value, "channel": point.channel},
    )
    point.delete()


def possible_duplicates(customer: Customer) -> list[tuple[Customer, str]]:
    """Other contacts of the brand that may be the same: the same name, or an email
    address on the same company domain (not a freemail domain). (contact, why)."""
    from conversations.classify import is_freemail

    others = Customer.objects.filter(brand_id=customer.brand_id).exclude(pk=customer.pk)
    found: dict[int, tuple[Customer, str]] = {}
    if customer.is_company and customer.company_name:
        same_name = others.filter(company_name__iexact=customer.company_name)
    elif customer.last_name:
        same_name = others.filter(
            first_name__iexact=customer.first_name, last_name__iexact=customer.last_name
        )
    else:
        same_name = others.none()
    for other in same_name[:DUPLICATES_SHOWN]:
        found[other.pk] = (other, _("gleicher Name"))
    domains = {
        domain
        for value in customer.contact_points.filter(channel=ContactChannel.EMAIL).values_list(
            "value", flat=True
        )
        if (domain := email_domain(value)) and not is_freemail(domain)
    }
    for domain in sorted(domains):
        for other in others.filter(
            contact_points__channel=ContactChannel.EMAIL,
            contact_points__value__endswith="@" + domain,
        ).distinct()[:DUPLICATES_SHOWN]:
            found.setdefault(
                other.pk, (other, _("gleiche E-Mail-Domain %(domain)s") % {"domain": domain})
            )
    return list(found.values())[:DUPLICATES_SHOWN]
