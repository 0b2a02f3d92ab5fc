"""Which brand and mailbox an incoming message is for, by its recipients."""

from __future__ import annotations

from conversations.models import Mailbox
from kommunikation.contact import email_domain
from kommunikation.models import BusinessEntity
from kommunikation.services import default_brand


def route_inbound(recipients: list[str]) -> tuple[BusinessEntity, Mailbox | None]:
    addresses = [r.strip().lower() for r in recipients if r and "@" in r]
    mailbox = (
        Mailbox.objects.select_related("brand").filter(address__in=addresses).first()
        if addresses
        else None
    )
    if mailbox:
        return mailbox.brand, mailbox
    domains = {email_domain(a) for a in addresses}
    for brand in BusinessEntity.objects.all():
        if domains & set(brand.domains):
            return brand, None
    return default_brand(), None
