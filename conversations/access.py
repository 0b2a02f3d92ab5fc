"""The one door to each protected object: scoped to the user's brands.

Outsiders get 404 (not 403), so guessing ids reveals nothing; a user who may see
but not change gets 403 on ``write=True``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from compliance.models import Suppression
from compliance.services import customer_suppressions
from conversations.models import Attachment, Conversation, Message
from kommunikation.models import BusinessEntity, Customer


def access_conversation(user, pk: int, *, write: bool = False) -> Conversation:
    conversation = get_object_or_404(
        Conversation.objects.for_user(user).select_related("brand", "customer", "assignee"),
        pk=pk,
    )
    if write and not user.has_perm("conversations.change_conversation"):
        raise PermissionDenied
    return conversation


def access_message(user, pk: int) -> Message:
    return get_object_or_404(
        Message.objects.filter(conversation__brand__in=BusinessEntity.objects.for_user(user)),
        pk=pk,
    )


def access_attachment(user, pk: int) -> Attachment:
    return get_object_or_404(
        Attachment.objects.filter(
            message__conversation__brand__in=BusinessEntity.objects.for_user(user)
        ),
        pk=pk,
    )


# What staff may do on the customer page, and the permissions each needs (kommunikation.roles
# gives them to the groups). Recording what the customer wants is a consent record and a
# preference change.
CUSTOMER_ACTIONS: dict[str, tuple[str, ...]] = {
    "preferences": ("compliance.change_channelpreference", "compliance.add_consent"),
    "block": ("compliance.add_suppression",),
    "unblock": ("compliance.delete_suppression",),
    "events": ("kommunikation.view_event",),
    "edit": ("kommunikation.change_customer",),
    "add_contact": ("kommunikation.add_contactpoint",),
    "change_contact": ("kommunikation.change_contactpoint",),
    "remove_contact": ("kommunikation.delete_contactpoint",),
    "write": ("conversations.reply_conversation",),
}


def may_on_customer(user, action: str) -> bool:
    """Whether the user may do `action` (a key of CUSTOMER_ACTIONS) on their customers."""
    return user.has_perms(CUSTOMER_ACTIONS[action])


def access_customer(user, pk: int, *, action: str | None = None) -> Customer:
    """A customer of the user's brands (404 otherwise); with `action`, 403 unless the user
    may do it (CUSTOMER_ACTIONS)."""
    customer = get_object_or_404(
        Customer.objects.for_brands(BusinessEntity.objects.for_user(user)).select_related("brand"),
        pk=pk,
    )
    if action is not None and not may_on_customer(user, action):
        raise PermissionDenied
    return customer


def access_customer_suppression(user, customer: Customer, pk: int) -> Suppression:
    """A suppression of one of this customer's addresses, for lifting it: 404 for any other,
    403 when the address also protects a customer of a brand the user does not work for."""
    if not may_on_customer(user, "unblock"):
        raise PermissionDenied
    suppression = next((s for s in customer_suppressions(customer) if s.pk == pk), None)
    if suppression is None:
        raise Http404
    if suppression.protects_customers_outside(BusinessEntity.objects.for_user(user)):
        raise PermissionDenied  # another brand's customer has the address too
    return suppression
