"""Customer pages for staff: the customer view and the autocomplete of the classification dialog."""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from compliance import services as compliance
from compliance.forms import BlockForm, StaffPreferenceForm, channels_for_contact
from compliance.models import Suppression
from conversations.access import access_customer
from conversations.filters import InboxFilterForm, filter_period
from conversations.models import Classification, Message
from kommunikation.models import BusinessEntity, Customer, CustomerKind

staff_required = staff_member_required(login_url="login")
TIMELINE_LIMIT = 200
CONSENT_LOG_LIMIT = 10
EVENTS_LIMIT = 20  # the customer page's "Ereignisse" card: the latest events
# recording what the customer wants is a consent record and a preference change
PREFERENCE_PERMISSIONS = ("compliance.change_channelpreference", "compliance.add_consent")


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
        if request.user.has_perm("kommunikation.view_event")
        else None,
    }
    context.update(_compliance_context(request, customer))
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
    return {
        "preference_form": StaffPreferenceForm(matrix=compliance.preference_matrix(customer)),
        "can_edit_preferences": user.has_perms(PREFERENCE_PERMISSIONS),
        "suppressions": compliance.customer_suppressions(customer),
        "blockable": [(p, channels_for_contact(p.channel)) for p in points],
        "can_block": user.has_perm("compliance.add_suppression"),
        "can_unblock": user.has_perm("compliance.delete_suppression"),
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
    customer = access_customer(request.user, pk)
    if not request.user.has_perms(PREFERENCE_PERMISSIONS):
        raise PermissionDenied
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
    customer = access_customer(request.user, pk)
    if not request.user.has_perm("compliance.add_suppression"):
        raise PermissionDenied
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
    if not request.user.has_perm("compliance.delete_suppression"):
        raise PermissionDenied
    suppression = next(
        (s for s in compliance.customer_suppressions(customer) if s.pk == suppression_pk), None
    )
    if suppression is None:
        raise Http404
    if suppression.protects_customers_outside(BusinessEntity.objects.for_user(request.user)):
        raise PermissionDenied  # another brand's customer has the address too
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
