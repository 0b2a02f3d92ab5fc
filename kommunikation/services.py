"""Small flows around brands and customers."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import transaction

from kommunikation.models import BusinessEntity


def resolve_brand(slug: str) -> BusinessEntity:
    try:
        return BusinessEntity.objects.get(slug=slug)
    except BusinessEntity.DoesNotExist:
        known = ", ".join(BusinessEntity.objects.values_list("slug", flat=True)) or "keine"
        raise CommandError(f"Keine Marke mit dem Kürzel {slug!r} (vorhanden: {known}).") from None


@transaction.atomic
def default_brand() -> BusinessEntity:
    """The first brand; on an empty installation one is created so mail has a home."""
    brand = BusinessEntity.objects.order_by("pk").first()
    if brand is None:
        brand = BusinessEntity.objects.create(name="Standard", slug="standard")
    return brand
