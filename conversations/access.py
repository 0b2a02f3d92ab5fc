"""The one door to each protected object: scoped to the user's brands.

Outsiders get 404 (not 403), so guessing ids reveals nothing; a user who may see
but not change gets 403 on ``write=True``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

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


def access_customer(user, pk: int) -> Customer:
    return get_object_or_404(
        Customer.objects.for_brands(BusinessEntity.objects.for_user(user)).select_related("brand"),
        pk=pk,
    )
