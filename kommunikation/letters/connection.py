"""A brand's letter settings: the environment's PINGEN_* first, else its LetterConnection."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from kommunikation.letters.models import LetterConnection


@dataclass(frozen=True)
class LetterConfig:
    mode: str
    api_url: str = "https://api.pingen.com"
    identity_url: str = "https://identity.pingen.com"
    client_id: str = ""
    client_secret: str = ""
    organisation_id: str = ""
    webhook_secret: str = ""
    auto_send: bool = True
    delivery_product: str = "cheap"
    print_mode: str = "simplex"
    print_spectrum: str = "grayscale"
    address_position: str = "left"


def env_applies(brand) -> bool:
    """Whether the environment's Pingen credentials serve this brand."""
    return bool(settings.PINGEN_CLIENT_ID) and settings.PINGEN_BRAND.lower() in (
        "",
        brand.slug.lower(),
    )


def letter_config(brand, connection: LetterConnection | None = None) -> LetterConfig:
    """How `brand`'s letters go out; environment credentials win over stored ones."""
    if connection is None:
        connection = LetterConnection.objects.filter(brand=brand).first()
    base = LetterConfig(mode=settings.LETTER_MODE)
    if connection is not None:
        base = LetterConfig(
            mode=connection.mode,
            api_url=connection.api_url,
            identity_url=connection.identity_url,
            client_id=connection.client_id,
            client_secret=connection.client_secret,
            organisation_id=connection.organisation_id,
            webhook_secret=connection.webhook_secret,
            auto_send=connection.auto_send,
            delivery_product=connection.delivery_product,
            print_mode=connection.print_mode,
            print_spectrum=connection.print_spectrum,
            address_position=connection.address_position,
        )
    if not env_applies(brand):
        return base
    return LetterConfig(
        mode=base.mode,
        api_url=settings.PINGEN_API_URL,
        identity_url=settings.PINGEN_IDENTITY_URL,
        client_id=settings.PINGEN_CLIENT_ID,
        client_secret=settings.PINGEN_CLIENT_SECRET,
        organisation_id=settings.PINGEN_ORGANISATION_ID,
        webhook_secret=settings.PINGEN_WEBHOOK_SECRET or base.webhook_secret,
        auto_send=base.auto_send,
        delivery_product=base.delivery_product,
        print_mode=base.print_mode,
        print_spectrum=base.print_spectrum,
        address_position=base.address_position,
    )
