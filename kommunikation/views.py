"""Customer pages for staff: the customer view and the autocomplete of the classification dialog."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from conversations.access import access_customer
from conversations.filters import InboxFilterForm, filter_period
from conversations.models import Classification, Message
from kommunikation.models import BusinessEntity, Customer, CustomerKind

staff_required = staff_member_required(login_url="login")
TIMELINE_LIMIT = 200


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
        match = (
            Q(last_name__icontains=term)
            | Q(first_name__icontains=term)
            | Q(company_name__icontains=term)
            | Q(number__istartswith=term)
            | Q(contact_points__value__icontains=term.lstrip("@"))
        )
        customers = (
            customers.filter(kind=kind)
            .filter(
                pk__in=Customer.objects.filter(match).values("pk")  # no duplicate rows
            )
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
    timeline = (
        Message.objects.filter(conversation__customer=customer)
        .select_related("conversation", "author")
        .order_by("-created_at", "-id")[:TIMELINE_LIMIT]
    )
    return render(
        request,
        "kommunikation/customer.html",
        {
            "customer": customer,
            "contact_points": customer.contact_points.all(),
            "conversations": conversations[:100],
            "timeline": timeline,
            "filters": filters,
            "active": values,
            "classifications": Classification.choices,
            "timeline_limit": TIMELINE_LIMIT,
        },
    )
