"""Customer pages for staff: the customer view and the autocomplete of the classification dialog."""

from __future__ import annotations

import copy

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from compliance import services as compliance
from compliance.forms import BlockForm, StaffPreferenceForm, channels_for_contact
from compliance.models import Suppression
from conversations import services as conversation_services
from conversations.access import (
    access_conversation,
    access_customer,
    access_customer_suppression,
    may_on_customer,
)
from conversations.filters import InboxFilterForm, filter_period
from conversations.models import Classification, Message
from kommunikation import customers as customer_services
from kommunikation.forms import (
    AddressForm,
    ChangeContactPointForm,
    ContactDataForm,
    ContactPointForm,
    NewCustomerForm,
    NewMessageForm,
    form_errors,
)
from kommunikation.models import BusinessEntity, Customer, CustomerKind

staff_required = staff_member_required(login_url="login")
TIMELINE_LIMIT = 200
CONSENT_LOG_LIMIT = 10
EVENTS_LIMIT = 20  # the customer page's "Ereignisse" card: the latest events


@require_GET
@staff_required
def customer_search(request):
    """Customers or suppliers of the user's brands by name, number, email or domain."""
    term = request.GET.get("q", "").strip()
    kind = request.GET.get("art", CustomerKind.CUSTOMER)
    customers = Customer.objects.none()
    if term and kind in CustomerKind.values:
        customers = Customer.objects.for_brands(BusinessEntity.objects.for_user(request.user))
        brand = request.GET.get("marke", "")
        if brand.isdigit():
            customers = customers.filter(brand_id=int(brand))
        customers = (
            customers.filter(kind=kind)
            .search(term)
            .prefetch_related("contact_points")
            .order_by("company_name", "last_name", "first_name", "id")[:10]
        )
    return render(
        request, "kommunikation/_customer_options.html", {"customers": customers, "term": term}
    )


@require_GET
@staff_required
def customer_detail(request, pk: int):
    customer = access_customer(request.user, pk)
    filters = InboxFilterForm(request.GET)
    values = filters.values()
    conversations = customer.conversations.select_related("assignee").order_by(
        "-last_message_at", "-id"
    )
    if "klasse" in values:
        conversations = conversations.filter(classification=values["klasse"])
    if "zeitraum" in values:
        conversations = filter_period(conversations, values, timezone.now())
    context = {
        "customer": customer,
        "contact_points": customer.contact_points.all(),
        "conversations": conversations[:100],
        "timeline": _timeline(customer),
        "filters": filters,
        "active": values,
        "classifications": Classification.choices,
        "timeline_limit": TIMELINE_LIMIT,
        "events": customer.events.all()[:EVENTS_LIMIT]
        if may_on_customer(request.user, "events")
        else None,
    }
    context.update(_compliance_context(request, customer))
    context.update(_contact_context(request, customer))
    return render(request, "kommunikation/customer.html", context)


def _timeline(customer: Customer) -> list[tuple[str, object]]:
    """Every message of the customer's threads, and the outbox rows that have none yet
    (waiting, refused, failed), newest first: ("message", Message) / ("outbox", row)."""
    messages = (
        Message.objects.filter(conversation__customer=customer)
        .select_related("conversation", "author")
        .prefetch_related("outbound")
        .order_by("-created_at", "-id")[:TIMELINE_LIMIT]
    )
    waiting = customer.outbound_messages.not_in_thread().order_by("-created_at", "-id")[
        :TIMELINE_LIMIT
    ]
    entries = [("message", m, m.timestamp) for m in messages]
    entries += [("outbox", row, row.created_at) for row in waiting]
    entries.sort(key=lambda entry: entry[2], reverse=True)
    return [(kind, item) for kind, item, _at in entries[:TIMELINE_LIMIT]]


def _compliance_context(
    request, customer: Customer, *, notice: str = "", errors: list[str] | None = None
) -> dict:
    """The consent card: preference matrix, suppressions, the customer's preference link."""
    user = request.user
    points = list(customer.contact_points.all())
    suppressions = compliance.customer_suppressions(customer)
    blocked = {(s.value, s.channel) for s in suppressions}
    # a blocked address offers no block form again; a number blocked for SMS still for calls
    blockable = [
        (p, [ch for ch in channels_for_contact(p.channel) if (p.value, ch) not in blocked])
        for p in points
    ]
    return {
        "preference_form": StaffPreferenceForm(matrix=compliance.preference_matrix(customer)),
        "can_edit_preferences": may_on_customer(user, "preferences"),
        "suppressions": suppressions,
        "blockable": [(p, channels) for p, channels in blockable if channels],
        "can_block": may_on_customer(user, "block"),
        "can_unblock": may_on_customer(user, "unblock"),
        "consents": customer.consents.select_related("recorded_by")[:CONSENT_LOG_LIMIT],
        "preference_url": compliance.preference_url(customer),
        "preference_link_days": settings.COMPLIANCE_LINK_DAYS,
        "compliance_notice": notice,
        "compliance_errors": errors or [],
    }


def _after_compliance_change(request, customer: Customer, *, status=200, **messages):
    if not request.htmx:
        return redirect(reverse("customer", args=[customer.pk]) + "#compliance")
    context = {"customer": customer, **_compliance_context(request, customer, **messages)}
    return render(request, "kommunikation/customer.html#compliance", context, status=status)


@require_POST
@staff_required
def customer_preferences(request, pk: int):
    """Staff record what the customer said (on the phone): preferences and consents."""
    customer = access_customer(request.user, pk, action="preferences")
    form = StaffPreferenceForm(request.POST, matrix=compliance.preference_matrix(customer))
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    changed = compliance.update_preferences(
        customer=customer,
        wanted=form.wanted(),
        actor=compliance.Actor.staff(request.user),
        source=form.cleaned_data["source"],
        wording=form.cleaned_data["note"],
    )
    notice = ngettext(
        "%(n)d Einstellung gespeichert.", "%(n)d Einstellungen gespeichert.", changed
    ) % {"n": changed}
    return _after_compliance_change(request, customer, notice=notice)


@require_POST
@staff_required
def customer_block(request, pk: int):
    """Put one of the customer's addresses or numbers on the suppression list."""
    customer = access_customer(request.user, pk, action="block")
    form = BlockForm(request.POST, customer=customer)
    if not form.is_valid():
        return _after_compliance_change(
            request,
            customer,
            status=422,
            errors=[str(error) for errors in form.errors.values() for error in errors],
        )
    suppression = compliance.suppress_address(
        channel=form.cleaned_data["channel"],
        value=form.cleaned_data["value"],
        reason=Suppression.Reason.STAFF,
        actor=compliance.Actor.staff(request.user),
        detail=form.cleaned_data["detail"],
        customer_id=customer.pk,
    )
    notice = _("%(value)s ist für %(channel)s gesperrt.") % {
        "value": suppression.value,
        "channel": suppression.get_channel_display(),
    }
    return _after_compliance_change(request, customer, notice=notice)


@require_POST
@staff_required
def customer_unblock(request, pk: int, suppression_pk: int):
    """Lift a suppression of one of this customer's addresses (not anyone else's)."""
    customer = access_customer(request.user, pk)
    suppression = access_customer_suppression(request.user, customer, suppression_pk)
    compliance.lift_suppression(
        suppression=suppression,
        actor=compliance.Actor.staff(request.user),
        customer_id=customer.pk,
    )
    notice = _("Sperre für %(value)s (%(channel)s) aufgehoben.") % {
        "value": suppression.value,
        "channel": suppression.get_channel_display(),
    }
    return _after_compliance_change(request, customer, notice=notice)


# --- new contacts and the contact card -----------------------------------------------


@require_GET
@staff_required
def customer_new_form(request, pk: int):
    """The "Neuen Kunden anlegen" form of the classification dialog, prefilled from the
    sender of the conversation (one of the user's; the contact will be of its brand)."""
    conversation = access_conversation(request.user, pk)
    if not request.user.has_perm("kommunikation.add_customer"):
        raise PermissionDenied
    kind = request.GET.get("art", CustomerKind.CUSTOMER)
    if kind not in CustomerKind.values:
        return HttpResponseBadRequest(_("Unbekannte Art des Kontakts."))
    details = customer_services.guess_details(
        name=conversation.counterpart_name, address=conversation.counterpart
    )
    context = {
        "form": NewCustomerForm.from_details(details),
        "kind": kind,
        "conversation": conversation,
    }
    return render(request, "kommunikation/_new_customer.html", context)


def _contact_context(
    request, customer: Customer, *, notice: str = "", errors=None, duplicate=None, forms=None
) -> dict:
    """The contact card: data, contact points, address, possible duplicates, edit forms."""
    user = request.user
    forms = forms or {}
    return {
        "contact_points": customer.contact_points.all(),
        "duplicates": customer_services.possible_duplicates(customer),
        "can_edit_customer": may_on_customer(user, "edit"),
        "can_add_contact": may_on_customer(user, "add_contact"),
        "can_change_contact": may_on_customer(user, "change_contact"),
        "can_remove_contact": may_on_customer(user, "remove_contact"),
        "can_write": may_on_customer(user, "write"),
        "contact_form": forms.get("contact") or ContactDataForm(instance=customer),
        "address_form": forms.get("address") or AddressForm(instance=customer),
        "contact_point_form": forms.get("contact_point") or ContactPointForm(),
        "message_form": forms.get("message") or NewMessageForm(customer=customer),
        "contact_notice": notice,
        "contact_errors": errors or [],
        "duplicate": duplicate,
        "edit_open": bool(errors),
    }


def _after_contact_change(request, customer: Customer, *, status=200, **kwargs):
    if not request.htmx and status < 400:
        return redirect(reverse("customer", args=[customer.pk]) + "#contact")
    customer.refresh_from_db()
    context = {"customer": customer, **_contact_context(request, customer, **kwargs)}
    return render(request, "kommunikation/customer.html#contact", context, status=status)


def _contact_point(customer: Customer, point_pk: int):
    """One of this customer's contact points (another's id is a 404)."""
    return get_object_or_404(customer.contact_points.select_related("customer"), pk=point_pk)


def _invalid(request, customer: Customer, form, key: str | None = None):
    """A refused form of the contact card: 422 with its errors, the form kept as typed."""
    forms = {key: form} if key else None
    return _after_contact_change(
        request, customer, status=422, errors=form_errors(form), forms=forms
    )


def _refused(request, customer: Customer, exc: ValidationError, **kwargs):
    duplicate = getattr(exc, "existing", None)
    return _after_contact_change(
        request, customer, status=422, errors=exc.messages, duplicate=duplicate, **kwargs
    )


def _save_contact_form(request, pk: int, form_class, key: str, saved: str):
    """A form of the contact card (contact data or address): saved, or refused with 422."""
    customer = access_customer(request.user, pk, action="edit")
    form = form_class(request.POST, instance=copy.copy(customer))
    if not form.is_valid():
        return _invalid(request, customer, form, key)
    changed = customer_services.update_customer(
        customer=customer, values=form.cleaned_data, actor=request.user
    )
    return _after_contact_change(
        request, customer, notice=saved if changed else _("Nichts geändert.")
    )


@require_POST
@staff_required
def customer_edit(request, pk: int):
    """Name, company, number and kind (person / organisation) of a contact."""
    return _save_contact_form(
        request, pk, ContactDataForm, "contact", _("Kontaktdaten gespeichert.")
    )


@require_POST
@staff_required
def customer_address(request, pk: int):
    return _save_contact_form(request, pk, AddressForm, "address", _("Anschrift gespeichert."))


@require_POST
@staff_required
def customer_contact_add(request, pk: int):
    """A new email address or phone number (E.164, German numbers by default)."""
    customer = access_customer(request.user, pk, action="add_contact")
    form = ContactPointForm(request.POST)
    if not form.is_valid():
        return _invalid(request, customer, form, "contact_point")
    try:
        point = customer_services.add_contact_point(
            customer=customer,
            channel=form.cleaned_data["channel"],
            value=form.cleaned_data["value"],
            type=form.cleaned_data["type"],
            actor=request.user,
        )
    except ValidationError as exc:
        return _refused(request, customer, exc, forms={"contact_point": form})
    notice = _("%(value)s hinzugefügt.") % {"value": point.value}
    return _after_contact_change(request, customer, notice=notice)


@require_POST
@staff_required
def customer_contact_change(request, pk: int, point_pk: int):
    customer = access_customer(request.user, pk, action="change_contact")
    point = _contact_point(customer, point_pk)
    form = ChangeContactPointForm(request.POST)
    if not form.is_valid():
        return _invalid(request, customer, form)
    try:
        customer_services.change_contact_point(
            point=point,
            value=form.cleaned_data["value"],
            type=form.cleaned_data["type"],
            actor=request.user,
        )
    except ValidationError as exc:
        return _refused(request, customer, exc)
    notice = _("%(value)s gespeichert.") % {"value": point.value}
    return _after_contact_change(request, customer, notice=notice)


@require_POST
@staff_required
def customer_contact_remove(request, pk: int, point_pk: int):
    customer = access_customer(request.user, pk, action="remove_contact")
    point = _contact_point(customer, point_pk)
    customer_services.remove_contact_point(point=point, actor=request.user)
    notice = _("%(value)s entfernt.") % {"value": point.value}
    return _after_contact_change(request, customer, notice=notice)


@require_POST
@staff_required
def customer_message(request, pk: int):
    """ "Neue Nachricht": a new email conversation with the customer, sent the way a reply is."""
    customer = access_customer(request.user, pk, action="write")
    form = NewMessageForm(request.POST, customer=customer)
    if not form.is_valid():
        return _invalid(request, customer, form, "message")
    try:
        conversation = conversation_services.start_conversation(
            customer=customer,
            to_address=form.cleaned_data["to"],
            subject=form.cleaned_data["subject"],
            text=form.cleaned_data["text"],
            author=request.user,
        )
    except ValidationError as exc:
        return _refused(request, customer, exc, forms={"message": form})
    url = reverse("conversation", args=[conversation.pk])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
