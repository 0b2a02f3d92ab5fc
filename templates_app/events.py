"""Event types: the variables each one offers to templates, and one context builder per type.

A template may only use the variables its event type declares (checked when it is saved).
The builders turn a payload (from sevDesk, the event API, a time scan) into plain data:
strings, numbers, Decimals, dates, lists and dicts; never model instances, so a template
edited in the admin cannot reach a method.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict

from django.utils.translation import gettext_lazy as _


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
    "language": "de",
    "today": dt.date(2025, 6, 16),
}


# --- event types -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EventType:
    key: str
    label: str
    example: Mapping[str, Any]  # the payload example; its keys are the declared variables
    builder: Callable[[Mapping[str, Any]], Mapping[str, Any]]
    help: Mapping[str, str]

    @property
    def variables(self) -> dict[str, Any]:
        """Every variable a template of this type may use, with an example value."""
        return {**COMMON_VARIABLES, **self.builder(self.example)}


def _req(payload: Mapping[str, Any], name: str) -> Any:
    try:
        return payload[name]
    except KeyError:
        raise MissingVariable(name) from None


def _date(payload: Mapping[str, Any], name: str) -> dt.date:
    value = _req(payload, name)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _money(payload: Mapping[str, Any], name: str) -> Decimal:
    return Decimal(str(_req(payload, name)))


def _str(payload: Mapping[str, Any], name: str) -> str:
    return str(_req(payload, name))


def _opt(payload: Mapping[str, Any], name: str) -> str:
    return str(payload.get(name) or "")


class OrderItem(TypedDict):
    name: str
    quantity: int
    price: Decimal


class OrderCreatedContext(TypedDict):
    order_number: str
    order_date: dt.date
    order_total: Decimal
    order_status_friendly: str
    items: list[OrderItem]
    order_link: str


def build_order_created(p: Mapping[str, Any]) -> OrderCreatedContext:
    return OrderCreatedContext(
        order_number=_str(p, "order_number"),
        order_date=_date(p, "order_date"),
        order_total=_money(p, "order_total"),
        order_status_friendly=_str(p, "order_status_friendly"),
        items=[
            OrderItem(
                name=str(i["name"]), quantity=int(i["quantity"]), price=Decimal(str(i["price"]))
            )
            for i in _req(p, "items")
        ],
        order_link=_opt(p, "order_link"),
    )


class OrderOnHoldContext(TypedDict):
    order_number: str
    order_status_friendly: str
    hold_reason: str


def build_order_on_hold(p: Mapping[str, Any]) -> OrderOnHoldContext:
    return OrderOnHoldContext(
        order_number=_str(p, "order_number"),
        order_status_friendly=_str(p, "order_status_friendly"),
        hold_reason=_str(p, "hold_reason"),
    )


class OrderCompletedContext(TypedDict):
    order_number: str
    completion_date: dt.date
    survey_link: str


def build_order_completed(p: Mapping[str, Any]) -> OrderCompletedContext:
    return OrderCompletedContext(
        order_number=_str(p, "order_number"),
        completion_date=_date(p, "completion_date"),
        survey_link=_opt(p, "survey_link"),
    )


class QuoteSentContext(TypedDict):
    quote_number: str
    quote_total: Decimal
    valid_until: dt.date
    quote_link: str


def build_quote_sent(p: Mapping[str, Any]) -> QuoteSentContext:
    return QuoteSentContext(
        quote_number=_str(p, "quote_number"),
        quote_total=_money(p, "quote_total"),
        valid_until=_date(p, "valid_until"),
        quote_link=_opt(p, "quote_link"),
    )


class AppointmentContext(TypedDict):
    order_number: str
    date: dt.date
    time: str
    installer_team: str
    appointment_address: str
    phone: str


def build_appointment(p: Mapping[str, Any]) -> AppointmentContext:
    return AppointmentContext(
        order_number=_opt(p, "order_number"),
        date=_date(p, "date"),
        time=_str(p, "time"),
        installer_team=_opt(p, "installer_team"),
        appointment_address=_opt(p, "appointment_address"),
        phone=_str(p, "phone"),
    )


class InvoiceCreatedContext(TypedDict):
    invoice_number: str
    invoice_date: dt.date
    amount: Decimal
    due_date: dt.date
    invoice_link: str


def build_invoice_created(p: Mapping[str, Any]) -> InvoiceCreatedContext:
    return InvoiceCreatedContext(
        invoice_number=_str(p, "invoice_number"),
        invoice_date=_date(p, "invoice_date"),
        amount=_money(p, "amount"),
        due_date=_date(p, "due_date"),
        invoice_link=_opt(p, "invoice_link"),
    )


class InvoiceOverdueContext(TypedDict):
    invoice_number: str
    invoice_date: dt.date
    amount: Decimal
    due_date: dt.date
    days_overdue: int
    fee: Decimal
    total_due: Decimal
    new_due_date: dt.date
    iban: str


def build_invoice_overdue(p: Mapping[str, Any]) -> InvoiceOverdueContext:
    amount = _money(p, "amount")
    fee = Decimal(str(p.get("fee") or "0"))
    return InvoiceOverdueContext(
        invoice_number=_str(p, "invoice_number"),
        invoice_date=_date(p, "invoice_date"),
        amount=amount,
        due_date=_date(p, "due_date"),
        days_overdue=int(_req(p, "days_overdue")),
        fee=fee,
        total_due=amount + fee,
        new_due_date=_date(p, "new_due_date"),
        iban=_str(p, "iban"),
    )


class PaymentReceivedContext(TypedDict):
    invoice_number: str
    amount: Decimal
    payment_date: dt.date


def build_payment_received(p: Mapping[str, Any]) -> PaymentReceivedContext:
    return PaymentReceivedContext(
        invoice_number=_str(p, "invoice_number"),
        amount=_money(p, "amount"),
        payment_date=_date(p, "payment_date"),
    )


class BirthdayContext(TypedDict):
    offer_code: str
    offer_text: str


def build_birthday(p: Mapping[str, Any]) -> BirthdayContext:
    return BirthdayContext(offer_code=_opt(p, "offer_code"), offer_text=_opt(p, "offer_text"))


class AnniversaryContext(TypedDict):
    years: int
    customer_since: dt.date


def build_anniversary(p: Mapping[str, Any]) -> AnniversaryContext:
    return AnniversaryContext(
        years=int(_req(p, "years")), customer_since=_date(p, "customer_since")
    )


class SeasonalContext(TypedDict):
    year: int


def build_seasonal(p: Mapping[str, Any]) -> SeasonalContext:
    return SeasonalContext(year=int(_req(p, "year")))


class MaintenanceContext(TypedDict):
    product_name: str
    installation_date: dt.date
    last_service_date: dt.date
    booking_link: str


def build_maintenance(p: Mapping[str, Any]) -> MaintenanceContext:
    return MaintenanceContext(
        product_name=_str(p, "product_name"),
        installation_date=_date(p, "installation_date"),
        last_service_date=_date(p, "last_service_date"),
        booking_link=_opt(p, "booking_link"),
    )


class ProductUpdateContext(TypedDict):
    product_name: str
    update_title: str
    update_summary: str
    update_link: str


def build_product_update(p: Mapping[str, Any]) -> ProductUpdateContext:
    return ProductUpdateContext(
        product_name=_str(p, "product_name"),
        update_title=_str(p, "update_title"),
        update_summary=_str(p, "update_summary"),
        update_link=_opt(p, "update_link"),
    )


class SupportFollowUpContext(TypedDict):
    ticket_number: str
    ticket_subject: str
    agent_name: str


def build_support_follow_up(p: Mapping[str, Any]) -> SupportFollowUpContext:
    return SupportFollowUpContext(
        ticket_number=_str(p, "ticket_number"),
        ticket_subject=_str(p, "ticket_subject"),
        agent_name=_str(p, "agent_name"),
    )


class InactiveContext(TypedDict):
    last_order_date: dt.date
    offer_code: str
    shop_link: str


def build_inactive(p: Mapping[str, Any]) -> InactiveContext:
    return InactiveContext(
        last_order_date=_date(p, "last_order_date"),
        offer_code=_opt(p, "offer_code"),
        shop_link=_opt(p, "shop_link"),
    )


class Article(TypedDict):
    title: str
    summary: str
    link: str


class NewsletterContext(TypedDict):
    headline: str
    intro: str
    articles: list[Article]


def build_newsletter(p: Mapping[str, Any]) -> NewsletterContext:
    return NewsletterContext(
        headline=_str(p, "headline"),
        intro=_str(p, "intro"),
        articles=[
            Article(title=str(a["title"]), summary=str(a["summary"]), link=str(a.get("link") or ""))
            for a in _req(p, "articles")
        ],
    )


class ConversationContext(TypedDict):
    phone: str


def build_conversation(p: Mapping[str, Any]) -> ConversationContext:
    return ConversationContext(phone=_opt(p, "phone"))


def _et(key, label, builder, example, **help_texts) -> EventType:
    return EventType(key=key, label=label, builder=builder, example=example, help=help_texts)


EVENT_TYPES: dict[str, EventType] = {
    et.key: et
    for et in [
        _et(
            "order.created",
            _("Auftrag angelegt"),
            build_order_created,
            {
                "order_number": "CC-2025-00123",
                "order_date": dt.date(2025, 6, 15),
                "order_total": Decimal("1234.56"),
                "order_status_friendly": "in Bearbeitung",
                "items": [
                    {"name": "Zaptec Go 11 kW", "quantity": 1, "price": Decimal("899.00")},
                    {"name": "Installation", "quantity": 1, "price": Decimal("335.56")},
                ],
                "order_link": "https://example.org/auftrag/CC-2025-00123",
            },
        ),
        _et(
            "order.on_hold",
            _("Auftrag pausiert"),
            build_order_on_hold,
            {
                "order_number": "CC-2025-00123",
                "order_status_friendly": "pausiert",
                "hold_reason": "Wir warten auf die Freigabe des Netzbetreibers.",
            },
        ),
        _et(
            "order.completed",
            _("Auftrag abgeschlossen"),
            build_order_completed,
            {
                "order_number": "CC-2025-00123",
                "completion_date": dt.date(2025, 6, 20),
                "survey_link": "https://example.org/umfrage/abc",
            },
        ),
        _et(
            "quote.sent",
            _("Angebot versandt"),
            build_quote_sent,
            {
                "quote_number": "AN-2025-0042",
                "quote_total": Decimal("2499.00"),
                "valid_until": dt.date(2025, 7, 15),
                "quote_link": "https://example.org/angebot/AN-2025-0042",
            },
        ),
        _et(
            "appointment.scheduled",
            _("Termin geplant"),
            build_appointment,
            {
                "order_number": "CC-2025-00123",
                "date": dt.date(2025, 6, 24),
                "time": "09:30",
                "installer_team": "Team Nord",
                "appointment_address": "Hauptstraße 12, 10115 Berlin",
                "phone": "020-1234567",
            },
        ),
        _et(
            "invoice.created",
            _("Rechnung erstellt"),
            build_invoice_created,
            {
                "invoice_number": "RE-2025-1000",
                "invoice_date": dt.date(2025, 6, 16),
                "amount": Decimal("1234.56"),
                "due_date": dt.date(2025, 6, 30),
                "invoice_link": "https://example.org/rechnung/RE-2025-1000",
            },
        ),
        _et(
            "invoice.overdue",
            _("Rechnung überfällig"),
            build_invoice_overdue,
            {
                "invoice_number": "RE-2025-1000",
                "invoice_date": dt.date(2025, 6, 16),
                "amount": Decimal("1234.56"),
                "due_date": dt.date(2025, 6, 30),
                "days_overdue": 14,
                "fee": Decimal("5.00"),
                "new_due_date": dt.date(2025, 7, 21),
                "iban": "DE89 3704 0044 0532 0130 00",
            },
        ),
        _et(
            "payment.received",
            _("Zahlung eingegangen"),
            build_payment_received,
            {
                "invoice_number": "RE-2025-1000",
                "amount": Decimal("1234.56"),
                "payment_date": dt.date(2025, 6, 28),
            },
        ),
        _et(
            "birthday",
            _("Geburtstag"),
            build_birthday,
            {"offer_code": "GEBURTSTAG10", "offer_text": "10 % auf Ihre nächste Bestellung"},
        ),
        _et(
            "anniversary",
            _("Kundenjubiläum"),
            build_anniversary,
            {"years": 5, "customer_since": dt.date(2020, 6, 16)},
        ),
        _et("season.greeting", _("Weihnachten / Neujahr"), build_seasonal, {"year": 2026}),
        _et(
            "maintenance.due",
            _("Wartung fällig"),
            build_maintenance,
            {
                "product_name": "Zaptec Go 11 kW",
                "installation_date": dt.date(2024, 6, 20),
                "last_service_date": dt.date(2024, 6, 20),
                "booking_link": "https://example.org/termin",
            },
        ),
        _et(
            "product.update",
            _("Produktneuigkeit"),
            build_product_update,
            {
                "product_name": "Zaptec Go",
                "update_title": "Neue Firmware 2.4",
                "update_summary": "Schnelleres Laden mit dynamischem Lastmanagement.",
                "update_link": "https://example.org/neuigkeiten/firmware-2-4",
            },
        ),
        _et(
            "support.follow_up",
            _("Support-Nachfrage"),
            build_support_follow_up,
            {
                "ticket_number": "T-4711",
                "ticket_subject": "Ladestation startet nicht",
                "agent_name": "Jonas Weber",
            },
        ),
        _et(
            "customer.inactive",
            _("Inaktiver Kunde"),
            build_inactive,
            {
                "last_order_date": dt.date(2024, 3, 1),
                "offer_code": "WILLKOMMEN15",
                "shop_link": "https://example.org/shop",
            },
        ),
        _et(
            "newsletter",
            _("Newsletter"),
            build_newsletter,
            {
                "headline": "Neuigkeiten im Juni",
                "intro": "Sommerzeit ist Ladezeit.",
                "articles": [
                    {
                        "title": "Förderung 2025",
                        "summary": "Was sich ändert.",
                        "link": "https://example.org/a1",
                    },
                    {
                        "title": "Tipps zum Laden",
                        "summary": "So laden Sie günstiger.",
                        "link": "https://example.org/a2",
                    },
                ],
            },
        ),
        _et(
            "conversation",
            _("Konversation (WhatsApp)"),
            build_conversation,
            {"phone": "+49 30 1234567"},
        ),
    ]
}


def build_context(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The event's variables as plain data (raises MissingVariable for a missing field)."""
    return dict(EVENT_TYPES[event_type].builder(payload))
