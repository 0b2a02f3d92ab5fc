from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render

from conversations.models import Conversation


@staff_member_required(login_url="login")
def inbox(request):
    conversations = (
        Conversation.objects.for_user(request.user)
        .select_related("brand", "customer")
        .order_by("-last_message_at", "-id")[:50]
    )
    return render(request, "conversations/inbox.html", {"conversations": conversations})
