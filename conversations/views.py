"""The inbox: three panes, every view and filter a URL; HTMX swaps the panes."""

from __future__ import annotations

import re
import uuid
from functools import partial

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import prefetch_related_objects
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, ngettext_lazy
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap, retarget, trigger_client_event

from conversations import services, whatsapp, workflow
from conversations import sms as sms_inbox
from conversations.access import access_attachment, access_conversation, access_message
from conversations.filters import (
    SORTS,
    InboxFilterForm,
    contact_labels,
    filter_chips,
    filtered_conversations,
    industries_for,
    list_page,
    sort_from,
    view_counts,
)
from conversations.forms import (
    AssignForm,
    BulkActionForm,
    ClassifyForm,
    InboxSettingsForm,
    LoginForm,
    MoveBrandForm,
    NoteForm,
    PriorityForm,
    ReplyForm,
    SmsReplyForm,
    SnoozeForm,
    StatusForm,
    WhatsAppReplyForm,
    move_targets,
)
from conversations.models import Attachment, Classification, Conversation, InboxSettings, Status
from conversations.sanitize import disarm_remote_images, with_remote_images
from kommunikation.customers import name_with_number
from kommunikation.forms import NewCustomerForm, form_errors
from kommunikation.models import BusinessEntity

staff_required = staff_member_required(login_url="login")

login = auth_views.LoginView.as_view(authentication_form=LoginForm)

INLINE_LINK_MAX_AGE = 60 * 60  # signed cid: image links in a shown message


def _list_query(request) -> str:
    """The filter part of the query string (no cursor), carried into every link."""
    params = request.GET.copy()
    params.pop("nach", None)
    return params.urlencode()


def _inbox_context(request, conversation: Conversation | None = None) -> dict:
    qs = filtered_conversations(request.user, request.GET)
    sort = sort_from(request.GET)
    page = list_page(qs, request.GET.get("nach", ""), sort=sort)
    # the counts of the left pane arrive by their own request (inbox_counts)
    brands = [(brand, None) for brand in BusinessEntity.objects.for_user(request.user)]
    filters = InboxFilterForm(request.GET)
    labels = contact_labels(request.user, request.GET)
    return {
        "page": page,
        "rows": page.rows,
        "query": _list_query(request),
        "filters": filters,
        "active": filters.values(),
        "sort": request.GET.get("sortierung", ""),
        "sorts": SORTS,
        "chips": filter_chips(request.GET, labels),
        "contact_labels": labels,
        # called by the template only where the filter panel is drawn (not for list-body)
        "industries": partial(industries_for, request.user),
        "counts": None,
        "brands": brands,
        "conversation": conversation,
        "classifications": Classification.choices,
        "statuses_all": Status.choices,
        "priorities_all": Conversation._meta.get_field("priority").choices,
        "js_texts": js_texts(),
    }


def js_texts() -> dict[str, str]:
    """The German texts inbox.js shows, translated here ("%(n)s" is the number)."""
    return {
        "none_selected": _("Keine Auswahl"),
        "one_selected": _("1 ausgewählt"),
        "selected": _("%(n)s ausgewählt"),
        "will_change_one": _("1 Konversation wird geändert."),
        "will_change": _("%(n)s Konversationen werden geändert."),
        "will_change_sender": _("%(n)s Konversationen von diesem Absender werden geändert."),
        "will_change_filter": _(
            "%(n)s Konversationen mit diesem Filter (alle Seiten) werden geändert."
        ),
        "find_customer": _("Kunde suchen (Name, Nummer, E-Mail, Domain)"),
        "find_supplier": _("Lieferant suchen (Name, Nummer, E-Mail, Domain)"),
        "proposal": _("Vorschlag:"),
        "new_customer": _("Neuen Kunden anlegen"),
        "new_supplier": _("Neuen Lieferanten anlegen"),
    }


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def inbox(request):
    if not request.GET.get("nach"):
        # a Wiedervorlage that is due is back before the list is read, worker or not
        workflow.wake_snoozed(brands=BusinessEntity.objects.for_user(request.user))
    if request.htmx and request.GET.get("nach"):
        qs = filtered_conversations(request.user, request.GET)
        page = list_page(qs, request.GET["nach"], sort=sort_from(request.GET))
        context = {"page": page, "rows": page.rows, "query": _list_query(request)}
        return render(request, "conversations/inbox.html#rows", context)
    context = _inbox_context(request)
    if request.htmx and request.htmx.target in ("list-pane", "list-body"):
        return render(request, f"conversations/inbox.html#{request.htmx.target}", context)
    return render(request, "conversations/inbox.html", context)


@require_GET
@staff_required
def inbox_counts(request):
    """The live counts of the left pane, as out-of-band swaps of the numbers only:
    loaded after the page, refreshed every minute."""
    counts, brands = view_counts(request.user)
    context = {"counts": counts, "brands": brands}
    if request.user.has_perm("kommunikation.view_calltask"):
        from kommunikation.calls.services import call_task_counts  # issue 11 §4

        context["call_counts"] = call_task_counts(request.user)
    return render(request, "conversations/inbox.html#counts", context)


def _detail_context(request, conversation: Conversation) -> dict:
    messages = list(
        conversation.messages.select_related("author")
        .prefetch_related("attachments", "status_changes", "outbound")
        .order_by("created_at", "id")
    )
    customer = conversation.customer
    context = {
        "conversation": conversation,
        "messages": messages,
        "query": _list_query(request),
        "reply_templates": None,  # loaded by the reply box when it opens
        "reply_max_bytes": settings.REPLY_ATTACHMENTS_MAX_BYTES,
        "can_reassign": request.user.has_perm("conversations.reassign_conversation"),
        "statuses": Conversation._meta.get_field("status").choices,
        "priorities": Conversation._meta.get_field("priority").choices,
        "classifications": Classification.choices,
    }
    if conversation.channel == "whatsapp":
        context.update(whatsapp.composer_context(conversation))
    if conversation.channel == "sms":  # issue 11 §2: the SMS composer
        context.update(sms_inbox.composer_context(conversation))
    if customer:
        context["contact_points"] = list(customer.contact_points.all())
        context["customer_conversations"] = list(
            customer.conversations.exclude(pk=conversation.pk).order_by("-last_message_at")[:5]
        )
    if context["can_reassign"]:
        context["move_brands"] = list(move_targets(user=request.user, conversation=conversation))
        context["staff"] = list(
            get_user_model()
            .objects.filter(brands=conversation.brand_id, is_active=True)
            .order_by("first_name", "username")
        )
    return context


PREVIEW_HEADER = "X-Inbox-Preview"


@require_GET
@staff_required
@vary_on_headers("HX-Request", PREVIEW_HEADER)
def conversation_detail(request, pk: int):
    conversation = access_conversation(request.user, pk)
    if request.htmx and request.htmx.target == "detail":
        # browsing with the keyboard previews: read after the user's dwell (conversation_read)
        read_after = 0
        if request.headers.get(PREVIEW_HEADER) == "1" and conversation.unread:
            read_after = InboxSettings.read_delay_for(request.user)
        if not read_after:
            services.mark_read(conversation=conversation)
        context = _detail_context(request, conversation)
        response = render(request, "conversations/inbox.html#detail", context)
        return trigger_client_event(
            response, "inbox:opened", {"id": conversation.pk, "read_after": read_after}
        )
    # the list as it was before opening: with "Ungelesen" the open one stays in it
    context = _inbox_context(request, conversation)
    services.mark_read(conversation=conversation)
    for row in context["rows"]:
        if row.pk == conversation.pk:
            row.unread = False
    context.update(_detail_context(request, conversation))
    return render(request, "conversations/inbox.html", context)


def _answerable(request, pk: int) -> Conversation:
    """The conversation, if this staff member may write to it and answer (reply or note)."""
    conversation = access_conversation(request.user, pk, write=True)
    if not request.user.has_perm("conversations.reply_conversation"):
        raise PermissionDenied
    return conversation


def _after_change(request, conversation: Conversation, notice: str = "", undo_url: str = ""):
    """HTMX: the refreshed detail pane and, out of band, its list row; else back to the page.
    Acting on a conversation reads it (also one only previewed so far)."""
    services.mark_read(conversation=conversation)
    if not request.htmx:
        url = reverse("conversation", args=[conversation.pk])
        query = _list_query(request)
        return redirect(f"{url}?{query}" if query else url)
    conversation = access_conversation(request.user, conversation.pk)
    context = _detail_context(request, conversation)
    context.update({"c": conversation, "oob": True, "notice": notice, "undo_url": undo_url})
    return render(request, "conversations/_detail_update.html", context)


@require_POST
@staff_required
def assign(request, pk: int):
    conversation = access_conversation(request.user, pk, write=True)
    data = request.POST.copy()
    if data.get("assignee") == "ich":
        data["assignee"] = str(request.user.pk)
    form = AssignForm(data, conversation=conversation)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    try:
        services.assign(
            conversation=conversation, assignee=form.cleaned_data["assignee"], actor=request.user
        )
    except PermissionDenied:
        return HttpResponse(_("Nur Team-Leads dürfen anderen zuweisen."), status=403)
    return _after_change(request, conversation, _("Zuweisung gespeichert."))


@require_POST
@staff_required
def move_to_brand(request, pk: int):
    """A Team-Lead gives a misrouted conversation to another of their brands."""
    conversation = access_conversation(request.user, pk, write=True)
    if not request.user.has_perm("conversations.reassign_conversation"):
        raise PermissionDenied
    form = MoveBrandForm(request.POST, conversation=conversation, user=request.user)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    brand = form.cleaned_data["brand"]
    try:
        services.move_conversation_to_brand(
            conversation=conversation, brand=brand, actor=request.user
        )
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages))
    return _after_change(
        request, conversation, _("Marke geändert: %(brand)s") % {"brand": brand.name}
    )


@require_POST
@staff_required
def set_status(request, pk: int):
    conversation = access_conversation(request.user, pk, write=True)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    batch = services.set_status(
        conversation=conversation, status=form.cleaned_data["status"], actor=request.user
    )
    return _after_change(
        request,
        conversation,
        _("Status: %(status)s") % {"status": conversation.get_status_display()},
        undo_url=reverse("change_undo", args=[batch.id]) if batch.changed else "",
    )


@require_POST
@staff_required
def set_priority(request, pk: int):
    conversation = access_conversation(request.user, pk, write=True)
    form = PriorityForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    services.set_priority(
        conversation=conversation, priority=form.cleaned_data["priority"], actor=request.user
    )
    return _after_change(request, conversation, _("Priorität gespeichert."))


@require_POST
@staff_required
def mark_unread(request, pk: int):
    conversation = access_conversation(request.user, pk, write=True)
    services.mark_unread(
        conversations=Conversation.objects.filter(pk=conversation.pk), actor=request.user
    )
    conversation.unread = True
    if not request.htmx:
        return redirect("inbox")
    context = {"c": conversation, "oob": True, "query": _list_query(request)}
    response = render(request, "conversations/_row_update.html", context)
    return response


@require_POST
@staff_required
def mark_read(request, pk: int):
    """A previewed conversation was looked at long enough, or acted on: it is read now."""
    conversation = access_conversation(request.user, pk)
    services.mark_read(conversation=conversation)
    if not request.htmx:
        return redirect("conversation", pk=conversation.pk)
    return HttpResponse(status=204)


@require_http_methods(["GET", "POST"])
@staff_required
def inbox_settings(request):
    """The staff member's own inbox settings."""
    current = InboxSettings.read_delay_for(request.user)
    form = InboxSettingsForm(request.POST or None, initial={"read_delay": current / 1000})
    saved = False
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "conversations/settings.html", {"form": form}, status=400)
        InboxSettings.save_read_delay(user=request.user, read_delay_ms=form.read_delay_ms())
        saved = True
    return render(request, "conversations/settings.html", {"form": form, "saved": saved})


@require_POST
@staff_required
def add_note(request, pk: int):
    conversation = _answerable(request, pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    services.add_internal_note(
        conversation=conversation, text=form.cleaned_data["text"], author=request.user
    )
    return _after_change(request, conversation, _("Notiz gespeichert."))


@require_POST
@staff_required
def reply(request, pk: int):
    conversation = _answerable(request, pk)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _reply_error(request, [e for errors in form.errors.values() for e in errors])
    then = form.cleaned_data["then"]
    try:
        services.queue_reply(
            conversation=conversation,
            text=form.cleaned_data["text"],
            subject=form.cleaned_data["subject"],
            cc=form.cleaned_data["cc"],
            bcc=form.cleaned_data["bcc"],
            files=form.cleaned_data["files"],
            then_status=then,
            author=request.user,
        )
    except ValidationError as exc:
        return _reply_error(request, exc.messages)
    notice = _("Antwort an den Versand übergeben.")
    if then:
        conversation.status = then
        notice += " " + _("Status: %(status)s") % {"status": conversation.get_status_display()}
    return _after_change(request, conversation, notice)


def _reply_error(request, errors):
    """The reply form's errors above its button (422, swapped like the dialog's), the
    text the agent wrote stays in the form."""
    if not request.htmx:
        return HttpResponseBadRequest(" ".join(str(e) for e in errors))
    response = render(
        request,
        "conversations/inbox.html#dialog-errors",
        {"errors": [str(e) for e in errors]},
        status=422,
    )
    return retarget(reswap(response, "innerHTML"), "#reply-errors")


@require_POST
@staff_required
def whatsapp_reply(request, pk: int):
    """A WhatsApp answer: free text inside the 24-hour window, else an approved template."""
    conversation = _answerable(request, pk)
    form = WhatsAppReplyForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    try:
        whatsapp.queue_whatsapp_reply(
            conversation=conversation,
            author=request.user,
            text=form.cleaned_data["text"],
            template_key=form.cleaned_data["template"],
        )
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages))
    return _after_change(request, conversation, _("Antwort an den Versand übergeben."))


@require_POST
@staff_required
def sms_reply(request, pk: int):
    """An SMS answer, refused above the brand's segment limit (the composer counts live)."""
    conversation = _answerable(request, pk)
    form = SmsReplyForm(request.POST)
    if not form.is_valid():
        return _reply_error(request, [e for errors in form.errors.values() for e in errors])
    try:
        sms_inbox.queue_sms_reply(
            conversation=conversation, author=request.user, text=form.cleaned_data["text"]
        )
    except ValidationError as exc:
        return _reply_error(request, exc.messages)
    return _after_change(request, conversation, _("Antwort an den Versand übergeben."))


@require_GET
@staff_required
def reply_templates(request, pk: int):
    """The template picker of the reply form, rendered for this conversation's customer."""
    conversation = access_conversation(request.user, pk)
    context = {
        "conversation": conversation,
        "reply_templates": services.reply_templates(conversation),
        "reply_warnings": services.reply_warnings(conversation),
    }
    return render(request, "conversations/inbox.html#reply-templates", context)


@require_POST
@staff_required
def snooze(request, pk: int):
    """Wiedervorlage: out of the open list until the chosen time (or back now)."""
    conversation = access_conversation(request.user, pk, write=True)
    form = SnoozeForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    choice = form.cleaned_data["wann"]
    one = Conversation.objects.filter(pk=conversation.pk)
    if choice == "ende":
        workflow.unsnooze(conversations=one, actor=request.user)
        return _after_change(request, conversation, _("Wiedervorlage beendet."))
    until = form.cleaned_data.get("until") or workflow.SNOOZE_CHOICES[choice](timezone.now())
    try:
        workflow.snooze(conversations=one, until=until, actor=request.user)
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages))
    notice = _("Wiedervorlage am %(when)s.") % {
        "when": date_format(timezone.localtime(until), "d.m.Y H:i")
    }
    if not request.htmx:
        return redirect("inbox")
    # the conversation leaves the open list: its row goes, the pane shows the next step
    response = render(request, "conversations/inbox.html#notice", {"notice": notice})
    return trigger_client_event(response, "inbox:snoozed", {"id": conversation.pk}, after="settle")


BULK_ERRORS = "#bulk-errors"
BULK_NOTICES = {
    "archive": ngettext_lazy(
        "%(count)d Konversation archiviert.", "%(count)d Konversationen archiviert.", "count"
    ),
    "read": ngettext_lazy(
        "%(count)d Konversation als gelesen markiert.",
        "%(count)d Konversationen als gelesen markiert.",
        "count",
    ),
    "unread": ngettext_lazy(
        "%(count)d Konversation als ungelesen markiert.",
        "%(count)d Konversationen als ungelesen markiert.",
        "count",
    ),
    "status": ngettext_lazy(
        "%(count)d Konversation: Status geändert.",
        "%(count)d Konversationen: Status geändert.",
        "count",
    ),
    "priority": ngettext_lazy(
        "%(count)d Konversation: Priorität geändert.",
        "%(count)d Konversationen: Priorität geändert.",
        "count",
    ),
    "assign": ngettext_lazy(
        "%(count)d Konversation zugewiesen.", "%(count)d Konversationen zugewiesen.", "count"
    ),
}


@require_POST
@staff_required
def bulk_action(request):
    """Archive, mark read/unread, set status or priority, assign: the selection or every
    match of the filter, with the count previewed (classify_count) and an undo."""
    if not request.user.has_perm("conversations.change_conversation"):
        raise PermissionDenied
    form = BulkActionForm(request.POST, user=request.user)
    if not form.is_valid():
        return _classify_error(
            request, form.errors.get("__all__") or form.errors.as_text(), BULK_ERRORS
        )
    data = form.cleaned_data
    conversations = form.conversations()
    action = data["action"]
    try:
        if action == "archive":
            batch = workflow.set_status_many(
                conversations=conversations, status=Status.ARCHIVED, actor=request.user
            )
        elif action == "status":
            batch = workflow.set_status_many(
                conversations=conversations, status=data["status"], actor=request.user
            )
        elif action in ("read", "unread"):
            batch = workflow.set_unread_many(
                conversations=conversations, unread=action == "unread", actor=request.user
            )
        elif action == "priority":
            batch = workflow.set_priority_many(
                conversations=conversations, priority=data["priority"], actor=request.user
            )
        else:
            batch = workflow.assign_many(
                conversations=conversations, assignee=data["assignee_obj"], actor=request.user
            )
    except PermissionDenied as exc:
        return _classify_error(request, [str(exc) or _("Keine Berechtigung.")], BULK_ERRORS)
    except ValidationError as exc:
        return _classify_error(request, exc.messages, BULK_ERRORS)
    notice = BULK_NOTICES[action] % {"count": batch.changed}
    if not request.htmx:
        return redirect("inbox")
    context = {
        "notice": notice,
        "undo_url": reverse("change_undo", args=[batch.id]) if batch.changed else "",
    }
    response = render(request, "conversations/inbox.html#notice", context)
    return trigger_client_event(response, "inbox:bulk-done", {}, after="settle")


def _undone(request, notice: str):
    """After an undo: the notice, and the list reloaded (HTMX); else back to the inbox."""
    if not request.htmx:
        return redirect("inbox")
    response = render(request, "conversations/inbox.html#notice", {"notice": notice})
    return trigger_client_event(response, "inbox:reload", after="settle")


@require_POST
@staff_required
def undo_change(request, batch: uuid.UUID):
    """Undo a bulk (or single) change of status, priority, assignee, read state or snooze."""
    if not request.user.has_perm("conversations.change_conversation"):
        raise PermissionDenied
    restored = workflow.undo_change_batch(
        batch=batch, actor=request.user, brands=BusinessEntity.objects.for_user(request.user)
    )
    if not restored:
        raise Http404
    notice = ngettext(
        "%(count)d Änderung rückgängig gemacht.",
        "%(count)d Änderungen rückgängig gemacht.",
        restored,
    ) % {"count": restored}
    return _undone(request, notice)


@require_POST
@staff_required
def classify(request):
    if not request.user.has_perm("conversations.classify_conversation"):
        raise PermissionDenied
    form = ClassifyForm(request.POST, user=request.user)
    if not form.is_valid():
        return _classify_error(request, form.errors.get("__all__") or form.errors.as_text())
    conversations = form.conversations()
    customer = form.cleaned_data["customer_obj"]
    created = False
    try:
        if form.cleaned_data["new_customer"] and form.cleaned_data["classification"] in (
            services.CLASSIFICATIONS_WITH_CUSTOMER
        ):
            new = NewCustomerForm(request.POST, prefix="neu")
            if not new.is_valid():
                return _classify_error(request, form_errors(new))
            batch, customer = services.classify_as_new_customer(
                conversations=conversations,
                classification=form.cleaned_data["classification"],
                details=new.details(),
                actor=request.user,
                remember_sender=form.cleaned_data["remember_sender"] or None,
            )
            created = True
        else:
            batch = services.record_classification(
                conversations=conversations,
                classification=form.cleaned_data["classification"],
                customer=customer,
                actor=request.user,
                remember_sender=form.cleaned_data["remember_sender"] or None,
            )
    except PermissionDenied as exc:
        return _classify_error(request, [str(exc)], status=403)
    except ValidationError as exc:
        return _classify_error(request, exc.messages, duplicate=getattr(exc, "existing", None))
    notice = _classified_notice(batch, customer, created=created)
    if batch.rules_created:
        notice += " " + ngettext(
            "%(count)d Absenderregel gespeichert.",
            "%(count)d Absenderregeln gespeichert.",
            batch.rules_created,
        ) % {"count": batch.rules_created}
    if not request.htmx:
        return redirect("inbox")
    counts, brands = view_counts(request.user)
    shown = form.cleaned_data["ids"][:200] if form.cleaned_data["scope"] == "auswahl" else []
    rows = list(
        Conversation.objects.for_user(request.user)
        .filter(pk__in=shown)
        .select_related("customer", "brand", "assignee")
    )
    context = {
        "notice": notice,
        "batch": batch,
        "rows": rows,
        "oob": True,
        "counts": counts,
        "brands": brands,
        "active": {},
        "query": request.POST.get("query", ""),
    }
    response = render(request, "conversations/_classified.html", context)
    return trigger_client_event(
        response,
        "inbox:classified",
        {"ids": [r.pk for r in rows], "reload": form.cleaned_data["scope"] != "auswahl"},
        after="settle",
    )


def _classified_notice(batch, customer, *, created: bool = False) -> str:
    """The toast: how many became what, and whom a Kunde or Lieferant names
    ("Als Kunde klassifiziert: Anna Huber (K-10083)")."""
    label = Classification(batch.classification).label
    if customer is None:
        return ngettext(
            "%(count)d Konversation als %(label)s klassifiziert.",
            "%(count)d Konversationen als %(label)s klassifiziert.",
            batch.changed,
        ) % {"count": batch.changed, "label": label}
    values = {"count": batch.changed, "label": label, "customer": name_with_number(customer)}
    if batch.changed == 1:
        if created:
            return _("Neu angelegt und als %(label)s klassifiziert: %(customer)s.") % values
        return _("Als %(label)s klassifiziert: %(customer)s.") % values
    return (
        ngettext(
            "%(count)d Konversation als %(label)s klassifiziert: %(customer)s.",
            "%(count)d Konversationen als %(label)s klassifiziert: %(customer)s.",
            batch.changed,
        )
        % values
    )


def _classify_error(
    request, errors, target: str = "#classify-errors", *, status=422, duplicate=None
):
    messages = [str(e) for e in errors] if isinstance(errors, list) else [str(errors)]
    response = render(
        request,
        "conversations/inbox.html#dialog-errors",
        {"errors": messages, "duplicate": duplicate},
        status=status,
    )
    response["HX-Retarget"] = target
    response["HX-Reswap"] = "innerHTML"
    return response


@require_GET
@staff_required
def classify_count(request):
    """How many conversations a bulk classification would touch (shown in the dialog)."""
    form = ClassifyForm(
        {**request.GET.dict(), "classification": Classification.NEWSLETTER}, user=request.user
    )
    if not form.is_valid():
        return HttpResponse("0")
    return HttpResponse(str(form.conversations().count()))


@require_POST
@staff_required
def undo_classification(request, batch: uuid.UUID):
    if not request.user.has_perm("conversations.classify_conversation"):
        raise PermissionDenied
    restored = services.undo_classification_batch(
        batch=batch, actor=request.user, brands=BusinessEntity.objects.for_user(request.user)
    )
    if not restored:
        raise Http404
    notice = ngettext(
        "%(count)d Klassifizierung wiederhergestellt.",
        "%(count)d Klassifizierungen wiederhergestellt.",
        restored,
    ) % {"count": restored}
    return _undone(request, notice)


@require_GET
@staff_required
def message_status(request, pk: int):
    """One message of the thread again, polled while a reply waits for the dispatch worker."""
    message = access_message(request.user, pk)
    prefetch_related_objects([message], "author", "attachments", "status_changes", "outbound")
    return render(request, "conversations/inbox.html#message", {"m": message})


# --- message content ------------------------------------------------------------------

_CID = re.compile(r'src="cid:([^"]+)"', re.IGNORECASE)


def _inline_url(request, attachment_id: int) -> str:
    token = signing.TimestampSigner(salt="inline-attachment").sign(str(attachment_id))
    return request.build_absolute_uri(reverse("attachment_inline", args=[token]))


@require_GET
@staff_required
@xframe_options_sameorigin
def message_html(request, pk: int):
    """The sanitised HTML of one message, for an ``<iframe sandbox>``, under a strict CSP.

    ``cid:`` images point at signed links to the message's own attachments (the
    sandboxed frame has an opaque origin and sends no session cookie); remote
    images stay disarmed unless ``?bilder=1``.
    """
    message = access_message(request.user, pk)
    # again here: HTML stored before protocol-relative //host images were disarmed
    html = disarm_remote_images(message.html)
    show_images = request.GET.get("bilder") == "1"
    if show_images:
        html = with_remote_images(html)
    by_cid = {a.content_id.strip("<>"): a.pk for a in message.attachments.exclude(content_id="")}

    def replace(match):
        pk = by_cid.get(match.group(1).strip("<>"))
        return f'src="{_inline_url(request, pk)}"' if pk else 'src=""'

    html = _CID.sub(replace, html)
    inline_prefix = request.build_absolute_uri(reverse("attachment_inline", args=["x"]))[:-2]
    # "Bilder anzeigen" arms http:, https: and //host alike (with_remote_images)
    img_src = f"data: {inline_prefix}" + (" http: https:" if show_images else "")
    document = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<base target="_blank">'
        "<style>body{font-family:system-ui,sans-serif;font-size:14px;color:#1d2733;"
        "margin:0;padding:8px;word-wrap:break-word}img{max-width:100%;height:auto}</style>"
        f"</head><body>{html}</body></html>"
    )
    response = HttpResponse(document, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = (
        f"default-src 'none'; img-src {img_src}; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'"
    )
    response["Referrer-Policy"] = "no-referrer"
    return response


def _file_response(attachment, *, inline: bool):
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not inline,
        filename=attachment.filename,
        content_type=attachment.content_type or "application/octet-stream",
    )
    # whatever the sender claimed the type to be, nothing in it runs on our origin
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@require_GET
@staff_required
def attachment_download(request, pk: int):
    return _file_response(access_attachment(request.user, pk), inline=False)


@require_GET
def attachment_inline(request, token: str):
    """An inline image of a message the user was shown; the signed link is the permission."""
    try:
        pk = signing.TimestampSigner(salt="inline-attachment").unsign(
            token, max_age=INLINE_LINK_MAX_AGE
        )
    except signing.BadSignature:
        raise Http404 from None
    if not pk.isdigit() or len(pk) > 18:  # signed, but not an id: a 404 all the same
        raise Http404
    attachment = Attachment.objects.filter(pk=pk, content_type__startswith="image/").first()
    if attachment is None:
        raise Http404
    return _file_response(attachment, inline=True)
