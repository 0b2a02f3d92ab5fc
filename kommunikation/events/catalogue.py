"""The catalogue of event types: one list for the rules engine and for template validation.

Each type has a key (``invoice.overdue``), a German label, the variables a template of that
type may use (with example values, for previews and the save-time check) and a payload
builder that turns an event's payload (from sevDesk, the event API or a daily scan) into the
template's plain data (strings, numbers, Decimals, dates, lists and dicts; never model
instances). ``required`` names the payload fields an event of the type must carry to be
recorded at all; the other fields a template needs are checked when a message is rendered
(a missing one stops that message with a clear error, see templates_app.rendering).

Besides the listed types, any ``custom.<name>`` key is accepted for other systems; such
events share the ``custom.*`` entry, whose templates read the payload as ``data``.

templates_app may import this module (and nothing else of kommunikation but the customer and
brand models); it must therefore stay free of imports of our models.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from templates_app.plain import COMMON_VARIABLES, MissingVariable, plain

CUSTOM_FAMILY = "custom.*"
# custom.<segment>[.<segment>...], segments as the Standard Webhooks type names: [a-z0-9_]
CUSTOM_KEY = re.compile(r"^custom(\.[a-z0-9_]+)+$")


@dataclass(frozen=True)
class EventType:
    key: str
    label: str
    example: Mapping[str, Any]  # an example payload; the builder makes the variables from it
    builder: Callable[[Mapping[str, Any]], Mapping[str, Any]]
    help: Mapping[str, str] = field(default_factory=dict)
    # what the event is about (Event.record_kind), e.g. "invoice"; "" for none
    record_kind: str = ""
    # payload fields without which the event is refused (the event API answers 400)
    required: tuple[str, ...] = ()
    # allowed values per payload field (e.g. the order statuses of seed 002)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def variables(self) -> dict[str, Any]:
        """Every variable a template of this type may use, with an example value."""
        return {**COMMON_VARIABLES, **self.builder(self.example)}

    def payload_errors(self, payload: Mapping[str, Any]) -> dict[str, list[str]]:
        """Errors per payload field that make an event of this type unusable."""
        errors: dict[str, list[str]] = {}
        for name in self.required:
            if payload.get(name) in (None, ""):
                errors.setdefault(name, []).append(str(_("Pflichtfeld für diesen Ereignistyp.")))
        for name, allowed in self.choices.items():
            value = payload.get(name)
            if value not in (None, "") and value not in allowed:
                errors.setdefault(name, []).append(
                    str(_("Unbekannter Wert „%(value)s“, erlaubt: %(allowed)s."))
                    % {"value": value, "allowed": ", ".join(allowed)}
                )
        for name, message in self.conditional_errors(payload).items():
            errors.setdefault(name, []).append(message)
        return errors

    def conditional_errors(self, payload: Mapping[str, Any]) -> dict[str, str]:
        if self.key != "order.status_changed":
            return {}
        needed = ORDER_STATUS_REQUIRES.get(str(payload.get("status") or ""))
        if needed and payload.get(needed) in (None, ""):
            return {needed: str(_("Pflichtfeld bei diesem Status."))}
        return {}


def get_event_type(key: str) -> EventType | None:
    """The catalogue entry of an event's type; every ``custom.*`` key shares one entry."""
    if CUSTOM_KEY.match(key):
        return EVENT_TYPES[CUSTOM_FAMILY]
    if key == CUSTOM_FAMILY:
        return None  # the family itself is no event type
    return EVENT_TYPES.get(key)


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


def _opt_date(payload: Mapping[str, Any], name: str) -> dt.date | None:
    return _date(payload, name) if payload.get(name) not in (None, "") else None


def _opt_money(payload: Mapping[str, Any], name: str) -> Decimal | None:
    return _money(payload, name) if payload.get(name) not in (None, "") else None


def _datetime(payload: Mapping[str, Any], name: str) -> dt.datetime:
    """An aware datetime; a naive one (or a bare ISO string without offset) is Berlin time."""
    value = _req(payload, name)
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(str(value))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
    return value


# --- orders (seed 002's status triggers, seed 003's tracking number) -------------------------

ORDER_STATUSES = ("new_order", "quote_sent", "scheduled", "completed", "on_hold", "shipped")
ORDER_STATUS_LABELS = {
    "new_order": _("neuer Auftrag"),
    "quote_sent": _("Angebot versandt"),
    "scheduled": _("Termin geplant"),
    "completed": _("abgeschlossen"),
    "on_hold": _("pausiert"),
    "shipped": _("versandt"),
}
# a status whose messages cannot be written without this field
ORDER_STATUS_REQUIRES = {"on_hold": "hold_reason", "shipped": "tracking_number"}


class OrderStatusChangedContext(TypedDict):
    order_number: str
    status: str
    previous_status: str
    order_status_friendly: str
    hold_reason: str
    completion_date: dt.date | None
    survey_link: str
    tracking_number: str
    tracking_link: str
    carrier: str


def build_order_status_changed(p: Mapping[str, Any]) -> OrderStatusChangedContext:
    status = _str(p, "status")
    completion = _opt_date(p, "completion_date")
    if completion is None and status == "completed" and p.get("changed_at"):
        completion = _date(p, "changed_at")
    return OrderStatusChangedContext(
        order_number=_str(p, "order_number"),
        status=status,
        previous_status=_opt(p, "previous_status"),
        order_status_friendly=_opt(p, "order_status_friendly")
        or str(ORDER_STATUS_LABELS.get(status, status)),
        hold_reason=_opt(p, "hold_reason"),
        completion_date=completion,
        survey_link=_opt(p, "survey_link"),
        tracking_number=_opt(p, "tracking_number"),
        tracking_link=_opt(p, "tracking_link"),
        carrier=_opt(p, "carrier"),
    )


class DeliveryNoteContext(TypedDict):
    order_number: str
    delivery_note_number: str
    delivery_date: dt.date


def build_delivery_note_sent(p: Mapping[str, Any]) -> DeliveryNoteContext:
    return DeliveryNoteContext(
        order_number=_str(p, "order_number"),
        delivery_note_number=_opt(p, "delivery_note_number"),
        delivery_date=_date(p, "delivery_date"),
    )


class QuoteAcceptedContext(TypedDict):
    quote_number: str
    quote_total: Decimal | None
    accepted_date: dt.date


def build_quote_accepted(p: Mapping[str, Any]) -> QuoteAcceptedContext:
    return QuoteAcceptedContext(
        quote_number=_str(p, "quote_number"),
        quote_total=_opt_money(p, "quote_total"),
        accepted_date=_date(p, "accepted_date"),
    )


# --- appointments ---------------------------------------------------------------------------


class AppointmentContext(TypedDict):
    order_number: str
    starts_at: dt.datetime
    date: dt.date  # starts_at's day and time in the business's time zone
    time: str
    installer_team: str
    appointment_address: str
    phone: str


def build_appointment(p: Mapping[str, Any]) -> AppointmentContext:
    if p.get("starts_at") in (None, "") and "date" in p:
        # older producers send a date and a time of day instead of starts_at
        starts_at = _datetime({"s": f"{_date(p, 'date').isoformat()}T{_str(p, 'time')}"}, "s")
    else:
        starts_at = _datetime(p, "starts_at")
    local = starts_at.astimezone(ZoneInfo(settings.TIME_ZONE))
    return AppointmentContext(
        order_number=_opt(p, "order_number"),
        starts_at=starts_at,
        date=local.date(),
        time=local.strftime("%H:%M"),
        installer_team=_opt(p, "installer_team"),
        appointment_address=_opt(p, "appointment_address"),
        phone=_str(p, "phone"),
    )


class AppointmentMovedContext(AppointmentContext):
    previous_starts_at: dt.datetime
    previous_date: dt.date
    previous_time: str


def build_appointment_moved(p: Mapping[str, Any]) -> AppointmentMovedContext:
    previous = _datetime(p, "previous_starts_at").astimezone(ZoneInfo(settings.TIME_ZONE))
    return AppointmentMovedContext(
        **build_appointment(p),
        previous_starts_at=previous,
        previous_date=previous.date(),
        previous_time=previous.strftime("%H:%M"),
    )


class AppointmentCancelledContext(AppointmentContext):
    cancellation_reason: str


def build_appointment_cancelled(p: Mapping[str, Any]) -> AppointmentCancelledContext:
    return AppointmentCancelledContext(
        **build_appointment(p), cancellation_reason=_opt(p, "cancellation_reason")
    )


# --- invoices and payments ----------------------------------------------------------------


class InvoicePartiallyPaidContext(TypedDict):
    invoice_number: str
    amount: Decimal
    paid_amount: Decimal
    open_amount: Decimal
    payment_date: dt.date
    due_date: dt.date


def build_invoice_partially_paid(p: Mapping[str, Any]) -> InvoicePartiallyPaidContext:
    amount = _money(p, "amount")
    paid = _money(p, "paid_amount")
    return InvoicePartiallyPaidContext(
        invoice_number=_str(p, "invoice_number"),
        amount=amount,
        paid_amount=paid,
        open_amount=_opt_money(p, "open_amount") or amount - paid,
        payment_date=_date(p, "payment_date"),
        due_date=_date(p, "due_date"),
    )


# --- relationship and conversations ---------------------------------------------------------

SEASONAL_OCCASIONS = ("christmas", "new_year", "easter", "summer")


class SeasonalContext(TypedDict):
    year: int
    occasion: str


def build_seasonal(p: Mapping[str, Any]) -> SeasonalContext:
    return SeasonalContext(year=int(_req(p, "year")), occasion=_opt(p, "occasion") or "christmas")


class NoResponseContext(TypedDict):
    conversation_reference: str
    conversation_subject: str
    hours_without_response: int
    last_message_at: dt.datetime


def build_no_response(p: Mapping[str, Any]) -> NoResponseContext:
    return NoResponseContext(
        conversation_reference=_str(p, "conversation_reference"),
        conversation_subject=_opt(p, "conversation_subject"),
        hours_without_response=int(_req(p, "hours_without_response")),
        last_message_at=_datetime(p, "last_message_at"),
    )


class InboundContext(TypedDict):
    conversation_reference: str
    conversation_subject: str
    message_subject: str
    from_name: str
    from_address: str
    channel: str
    received_at: dt.datetime
    # filled in by the auto-reply rules (kommunikation.automation.autoreply), not the source:
    # the absent agent and their substitute, the brand's opening hours
    agent_name: str
    substitute_name: str
    substitute_email: str
    absent_until: str  # ISO date (the datum filter reads it)
    next_opening: str  # ISO date
    next_opening_time: str  # "08:00"


def build_inbound(p: Mapping[str, Any]) -> InboundContext:
    # ``from_*``, not ``sender_*``: sender_name is ours (COMMON_VARIABLES). The payload also
    # carries what the rules need and templates do not (RFC 3834 headers, classification).
    return InboundContext(
        conversation_reference=_str(p, "conversation_reference"),
        conversation_subject=_opt(p, "conversation_subject"),
        message_subject=_opt(p, "message_subject"),
        from_name=_opt(p, "from_name"),
        from_address=_opt(p, "from_address"),
        channel=_opt(p, "channel") or "email",
        received_at=_datetime(p, "received_at"),
        agent_name=_opt(p, "agent_name"),
        substitute_name=_opt(p, "substitute_name"),
        substitute_email=_opt(p, "substitute_email"),
        absent_until=_opt(p, "absent_until"),
        next_opening=_opt(p, "next_opening"),
        next_opening_time=_opt(p, "next_opening_time"),
    )


_INBOUND_EXAMPLE = {
    "conversation_reference": "KK-2025-000042",
    "conversation_subject": "Frage zu meiner Bestellung",
    "message_subject": "Frage zu meiner Bestellung",
    "from_name": "Anna Müller",
    "from_address": "anna.mueller@example.org",
    "channel": "email",
    "received_at": dt.datetime(2025, 6, 16, 19, 30, tzinfo=ZoneInfo("Europe/Berlin")),
    "message_id": 4711,
    "classification": "customer",
    "mailbox_id": 1,
    "mailbox": "support@musterfirma.de",
    "to": ["support@musterfirma.de"],
    "auto_submitted": "",
    "precedence": "",
    "list_id": "",
    "return_path": "<anna.mueller@example.org>",
    "list_unsubscribe": False,
    "x_auto_response_suppress": "",
    "flagged": False,
    "new_conversation": True,
    "is_bulk": False,
    "is_auto_generated": False,
    "sender_is_noreply": False,
    "sender_is_mailer_daemon": False,
    "auto_reply_blockers": [],
    "agent_name": "Jonas Weber",
    "substitute_name": "Lea Schmidt",
    "substitute_email": "lea.schmidt@musterfirma.de",
    "absent_until": "2025-06-23",
    "next_opening": "2025-06-17",
    "next_opening_time": "08:00",
}


class CustomContext(TypedDict):
    data: dict[str, Any]


def build_custom(p: Mapping[str, Any]) -> CustomContext:
    # other systems' payloads have no declared shape: templates read them as data.<field>
    return CustomContext(data=plain(dict(p), "data"))


def _et(key, label, builder, example, **options) -> EventType:
    return EventType(key=key, label=label, builder=builder, example=example, **options)


_INVOICE_EXAMPLE = {
    "invoice_number": "RE-2025-1000",
    "invoice_date": dt.date(2025, 6, 16),
    "amount": Decimal("1234.56"),
    "due_date": dt.date(2025, 6, 30),
    "invoice_link": "https://example.org/rechnung/RE-2025-1000",
}
_QUOTE_EXAMPLE = {
    "quote_number": "AN-2025-0042",
    "quote_total": Decimal("2499.00"),
    "valid_until": dt.date(2025, 7, 15),
    "quote_link": "https://example.org/angebot/AN-2025-0042",
}
_APPOINTMENT_EXAMPLE = {
    "order_number": "CC-2025-00123",
    "starts_at": dt.datetime(2025, 6, 24, 9, 30, tzinfo=ZoneInfo("Europe/Berlin")),
    "installer_team": "Team Nord",
    "appointment_address": "Hauptstraße 12, 10115 Berlin",
    "phone": "020-1234567",
}

EVENT_TYPES: dict[str, EventType] = {
    et.key: et
    for et in [
        # --- orders and quotes
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
            record_kind="order",
        ),
        _et(
            "order.status_changed",
            _("Auftragsstatus geändert"),
            build_order_status_changed,
            {
                "order_number": "CC-2025-00123",
                "status": "completed",
                "previous_status": "scheduled",
                "order_status_friendly": "abgeschlossen",
                "hold_reason": "Wir warten auf die Freigabe des Netzbetreibers.",
                "completion_date": dt.date(2025, 6, 20),
                "survey_link": "https://example.org/umfrage/abc",
                "tracking_number": "00340434161094042557",
                "tracking_link": "https://example.org/sendung/00340434161094042557",
                "carrier": "DHL",
            },
            record_kind="order",
            required=("order_number", "status"),
            choices={"status": ORDER_STATUSES, "previous_status": ORDER_STATUSES},
        ),
        # a delivery note that names no tracking number (with one it is order.status_changed
        # to shipped): "Ihre Ware ist unterwegs" without a parcel link
        _et(
            "order.delivery_note_sent",
            _("Lieferschein versandt (ohne Sendungsnummer)"),
            build_delivery_note_sent,
            {
                "order_number": "CC-2025-00123",
                "delivery_note_number": "LI-2025-0007",
                "delivery_date": dt.date(2025, 6, 19),
            },
            record_kind="order",
            required=("order_number", "delivery_date"),
        ),
        _et(
            "quote.created",
            _("Angebot erstellt"),
            build_quote_sent,
            _QUOTE_EXAMPLE,
            record_kind="quote",
        ),
        _et(
            "quote.sent",
            _("Angebot versandt"),
            build_quote_sent,
            _QUOTE_EXAMPLE,
            record_kind="quote",
        ),
        _et(
            "quote.accepted",
            _("Angebot angenommen"),
            build_quote_accepted,
            {
                "quote_number": "AN-2025-0042",
                "quote_total": Decimal("2499.00"),
                "accepted_date": dt.date(2025, 6, 18),
            },
            record_kind="quote",
        ),
        # --- appointments: starts_at is an ISO 8601 time with offset (reminders count back)
        _et(
            "appointment.scheduled",
            _("Termin geplant"),
            build_appointment,
            _APPOINTMENT_EXAMPLE,
            record_kind="appointment",
            required=("starts_at",),
        ),
        _et(
            "appointment.moved",
            _("Termin verschoben"),
            build_appointment_moved,
            {
                **_APPOINTMENT_EXAMPLE,
                "previous_starts_at": dt.datetime(
                    2025, 6, 23, 14, 0, tzinfo=ZoneInfo("Europe/Berlin")
                ),
            },
            record_kind="appointment",
            required=("starts_at", "previous_starts_at"),
        ),
        _et(
            "appointment.cancelled",
            _("Termin abgesagt"),
            build_appointment_cancelled,
            {**_APPOINTMENT_EXAMPLE, "cancellation_reason": "Auf Wunsch des Kunden."},
            record_kind="appointment",
            required=("starts_at",),
        ),
        # --- invoices and payments (sevDesk)
        _et(
            "invoice.created",
            _("Rechnung erstellt"),
            build_invoice_created,
            _INVOICE_EXAMPLE,
            record_kind="invoice",
        ),
        _et(
            "invoice.sent",
            _("Rechnung versandt"),
            build_invoice_created,
            _INVOICE_EXAMPLE,
            record_kind="invoice",
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
            record_kind="invoice",
        ),
        _et(
            "invoice.partially_paid",
            _("Rechnung teilweise bezahlt"),
            build_invoice_partially_paid,
            {
                "invoice_number": "RE-2025-1000",
                "amount": Decimal("1234.56"),
                "paid_amount": Decimal("500.00"),
                "open_amount": Decimal("734.56"),
                "payment_date": dt.date(2025, 6, 28),
                "due_date": dt.date(2025, 6, 30),
            },
            record_kind="invoice",
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
            record_kind="invoice",
        ),
        # --- the customer relationship (daily scans)
        _et(
            "customer.birthday",
            _("Geburtstag"),
            build_birthday,
            {"offer_code": "GEBURTSTAG10", "offer_text": "10 % auf Ihre nächste Bestellung"},
            record_kind="customer",
        ),
        _et(
            "customer.anniversary",
            _("Kundenjubiläum"),
            build_anniversary,
            {"years": 5, "customer_since": dt.date(2020, 6, 16)},
            record_kind="customer",
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
            record_kind="customer",
        ),
        _et(
            "seasonal.greeting",
            _("Saisonaler Gruß (Weihnachten / Neujahr)"),
            build_seasonal,
            {"year": 2026, "occasion": "christmas"},
            choices={"occasion": SEASONAL_OCCASIONS},
        ),
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
        # --- conversations
        _et(
            "conversation",
            _("Konversation (WhatsApp)"),
            build_conversation,
            {"phone": "+49 30 1234567"},
        ),
        _et(
            "conversation.no_response",
            _("Keine Antwort des Kunden"),
            build_no_response,
            {
                "conversation_reference": "KK-2025-000042",
                "conversation_subject": "Ihr Angebot AN-2025-0042",
                "hours_without_response": 336,
                "last_message_at": dt.datetime(2025, 6, 2, 10, 0, tzinfo=ZoneInfo("Europe/Berlin")),
            },
            record_kind="conversation",
            required=("conversation_reference",),
        ),
        _et(
            "message.received",
            _("Nachricht eingegangen"),
            build_inbound,
            _INBOUND_EXAMPLE,
            record_kind="conversation",
            required=("conversation_reference", "received_at"),
        ),
        _et(
            "conversation.created",
            _("Neue Konversation"),
            build_inbound,
            _INBOUND_EXAMPLE,
            record_kind="conversation",
            required=("conversation_reference", "received_at"),
        ),
        # --- other systems
        _et(
            CUSTOM_FAMILY,
            _("Benutzerdefiniert (custom.*)"),
            build_custom,
            {"reference": "X-1001", "note": "Beispiel"},
        ),
    ]
}


def build_context(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The event's variables as plain data (raises MissingVariable for a missing field)."""
    entry = get_event_type(event_type)
    if entry is None:
        raise KeyError(event_type)
    return dict(entry.builder(payload))
