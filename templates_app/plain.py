"""Plain data for templates: the only values a template context may hold.

The context is built from strings, numbers, Decimals, dates, lists and dicts; never model
instances, so a template edited in the admin cannot reach a method. ``customer_data`` and
``brand_data`` turn the two models templates may know into such data; the sample values are
what previews and the save-time check render with. The event types (which variables each
template may use) live in ``kommunikation.events.catalogue``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypedDict


class TemplateRenderError(Exception):
    """A template cannot be rendered with this data; the message is not sent (never retried).

    Subclasses: MissingVariable, and in templates_app.sandbox the render limits and the
    refused lookups. ``lineno`` is the template line, when known.
    """

    # Django's Variable._resolve_lookup re-raises exceptions unless this is true.
    silent_variable_failure = False
    lineno: int | None = None


class MissingVariable(TemplateRenderError):
    """A variable the template needs is not in the context; nothing may be sent."""

    # Django's Variable._resolve_lookup re-raises exceptions unless this is true.
    silent_variable_failure = False

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"Variable fehlt: {name}")


class NotPlainData(TypeError):
    """Something other than plain data was put into a template context."""


# --- plain data -----------------------------------------------------------------------

PLAIN_SCALARS = (str, int, float, Decimal, bool, dt.date, dt.datetime, dt.time, type(None))
_EXACT_SCALARS = frozenset(PLAIN_SCALARS)


class StrictDict(dict):
    """A dict whose missing keys raise MissingVariable (which Django does not swallow)."""

    __slots__ = ("path",)

    def __init__(self, data=(), path: str = ""):
        super().__init__(data)
        self.path = path

    def __getitem__(self, key):
        try:
            return dict.__getitem__(self, key)
        except KeyError:
            raise MissingVariable(f"{self.path}.{key}" if self.path else str(key)) from None


def plain(value: Any, path: str = "") -> Any:
    """Check that value is plain data and return it with StrictDicts for every dict.

    Model instances, functions and other objects are refused, so templates can only read
    values, never call methods.
    """
    # Fast path for the common shapes (exact built-in types; subclasses take the general
    # path below): a scalar, or a dict whose keys are str and whose values are scalars.
    cls = type(value)
    if cls in _EXACT_SCALARS:
        return value
    if cls is dict or cls is StrictDict:
        for key, item in value.items():
            if type(key) is not str or type(item) not in _EXACT_SCALARS:
                break
        else:
            return StrictDict(value, path)
    return _plain(value, path)


def _plain(value: Any, path: str) -> Any:
    if isinstance(value, PLAIN_SCALARS):
        return value
    if isinstance(value, Mapping):
        result = StrictDict(path=path)
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotPlainData(f"{path or 'context'}: keys must be strings, not {key!r}")
            if type(item) in _EXACT_SCALARS:
                dict.__setitem__(result, key, item)
            else:
                dict.__setitem__(result, key, plain(item, f"{path}.{key}" if path else key))
        return result
    if isinstance(value, list | tuple):
        return [plain(item, f"{path}.{i}") for i, item in enumerate(value)]
    raise NotPlainData(
        f"{path or 'context'}: {type(value).__name__} is not plain data "
        "(only str, numbers, dates, lists and dicts are allowed)"
    )


# --- customer and brand as plain data -----------------------------------------------------


class CustomerData(TypedDict):
    id: int | None
    number: str
    name: str
    first_name: str
    last_name: str
    title: str
    gender: str  # f, m, d
    company: str
    is_company: bool
    informal: bool
    language: str
    street: str
    postal_code: str
    city: str
    country: str
    birthday: dt.date | None
    customer_since: dt.date | None


class BrandData(TypedDict):
    id: int | None
    name: str
    legal_name: str
    email: str
    phone: str
    street: str
    postal_code: str
    city: str
    country: str
    return_address: str
    color: str
    logo_url: str
    imprint: str
    default_language: str
    whatsapp: str  # the brand's WhatsApp number (E.164), "" for none


def customer_data(customer) -> CustomerData:
    """Plain data of a kommunikation.Customer."""
    return CustomerData(
        id=customer.pk,
        number=customer.number,
        name=customer.display_name,
        first_name=customer.first_name,
        last_name=customer.last_name,
        title=customer.title,
        gender=customer.gender,
        company=customer.company_name,
        is_company=customer.is_company,
        informal=customer.informal,
        language=customer.language,
        street=customer.street,
        postal_code=customer.postal_code,
        city=customer.city,
        country=customer.country,
        birthday=customer.birthday,
        customer_since=customer.customer_since,
    )


def brand_data(brand) -> BrandData:
    """Plain data of a kommunikation.BusinessEntity (None: a neutral sample brand)."""
    if brand is None:
        return SAMPLE_BRAND
    return BrandData(
        id=brand.pk,
        name=brand.name,
        legal_name=brand.legal_name or brand.name,
        email=brand.support_email or brand.noreply_email,
        phone=brand.phone,
        street=brand.street,
        postal_code=brand.postal_code,
        city=brand.city,
        country=brand.country,
        return_address=brand.letter_return_address
        or " · ".join(
            p
            for p in (
                brand.legal_name or brand.name,
                brand.street,
                f"{brand.postal_code} {brand.city}".strip(),
            )
            if p
        ),
        color=brand.primary_color or "#1f5f99",
        logo_url=brand.logo.url if brand.logo else "",
        imprint=brand.imprint,
        default_language=brand.default_language,
        whatsapp=brand.whatsapp_number,
    )


SAMPLE_CUSTOMER = CustomerData(
    id=None,
    number="K-10001",
    name="Anna Müller",
    first_name="Anna",
    last_name="Müller",
    title="",
    gender="f",
    company="",
    is_company=False,
    informal=False,
    language="de",
    street="Hauptstraße 12",
    postal_code="10115",
    city="Berlin",
    country="DE",
    birthday=dt.date(1985, 6, 13),
    customer_since=dt.date(2019, 3, 1),
)

# A message to someone who is no customer (yet): no name, so a neutral greeting.
NO_CUSTOMER = CustomerData(
    id=None, number="", name="", first_name="", last_name="", title="", gender="", company="",
    is_company=False, informal=False, language="", street="", postal_code="", city="",
    country="", birthday=None, customer_since=None,
)  # fmt: skip

SAMPLE_BRAND = BrandData(
    id=None,
    name="Musterfirma",
    legal_name="Musterfirma GmbH",
    email="service@musterfirma.example",
    phone="030 1234567",
    street="Beispielweg 1",
    postal_code="10117",
    city="Berlin",
    country="DE",
    return_address="Musterfirma GmbH · Beispielweg 1 · 10117 Berlin",
    color="#1f5f99",
    logo_url="",
    imprint="Musterfirma GmbH · Beispielweg 1 · 10117 Berlin · HRB 12345 · USt-IdNr. DE123456789",
    default_language="de",
    whatsapp="+4930123456789",
)

# Variables every template may use, whatever its event type.
COMMON_VARIABLES: dict[str, Any] = {
    "customer": SAMPLE_CUSTOMER,
    "customer_name": "Anna Müller",
    "brand": SAMPLE_BRAND,
    "business_entity_name": "Musterfirma",
    "sender_name": "Ihr Team von Musterfirma",
    "unsubscribe_link": "https://example.org/abmelden/abc",
    "preferences_link": "https://example.org/einstellungen/abc",
    # messenger invite (seed 003): click-to-chat to the brand's WhatsApp number
    "whatsapp_link": "https://wa.me/4930123456789?text=Hallo%20Musterfirma%2C%20ich%20m%C3%B6chte",
    "language": "de",
    "today": dt.date(2025, 6, 16),
}
