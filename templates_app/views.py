"""Admin views around templates: live preview, version diff and restore (mounted by admin.py)."""

from __future__ import annotations

import base64
import difflib
import json

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kommunikation.admin_scoping import may_change_global_rows
from kommunikation.events.catalogue import EVENT_TYPES
from kommunikation.models import BusinessEntity, Customer
from templates_app.models import CONTENT_FIELDS, MessageTemplate, TemplateVersion, restore_version
from templates_app.plain import MissingVariable, TemplateRenderError, brand_data, customer_data
from templates_app.rendering import (
    FIELD_LABELS,
    common_context,
    render_error_message,
    render_version,
    validate_content,
)
from templates_app.signals import test_send_requested


def access_template(user, pk, *, write: bool = False) -> MessageTemplate:
    """The template if the user may see it (default templates, or one of their brands):
    404 outside them, 403 on ``write`` without the right to save this template (a default
    template, used by every brand, only a superuser or the staff of every brand may save)."""
    if not user.has_perm("templates_app.view_messagetemplate"):
        raise PermissionDenied
    qs = MessageTemplate.objects.all()
    if not user.is_superuser:
        qs = qs.filter(Q(brand__isnull=True) | Q(brand__in=BusinessEntity.objects.for_user(user)))
    try:
        template = qs.get(pk=int(pk))
    except (MessageTemplate.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if write and not (
        user.has_perm("templates_app.change_messagetemplate")
        and (template.brand_id is not None or may_change_global_rows(user))
    ):
        raise PermissionDenied
    return template


def sample_customers(user, brand_id: int | None):
    brands = BusinessEntity.objects.for_user(user)
    if brand_id:
        brands = brands.filter(pk=brand_id)
    return Customer.objects.customers().for_brands(brands).order_by("last_name", "id")[:25]


def change_form_context(request: HttpRequest, object_id) -> dict:
    """Extra context for the change form: variants, sibling languages, version history."""
    context = {"preview_url": reverse("admin:templates_app_preview")}
    if object_id is None:
        context["sample_customers"] = sample_customers(request.user, None)
        return context
    try:
        template = access_template(request.user, object_id)
    except Http404:
        return context
    variants = list(template.variants.all())
    current = next((v for v in variants if v.name == request.GET.get("variant")), None)
    current = current or (variants[0] if variants else None)
    siblings = MessageTemplate.objects.filter(
        key=template.key, channel=template.channel, brand=template.brand
    ).order_by("language")
    context.update(
        template_obj=template,
        variants=variants,
        current_variant=current,
        siblings=siblings,
        versions=current.versions.select_related("author").order_by("-number") if current else [],
        sample_customers=sample_customers(request.user, template.brand_id),
        variables=EVENT_TYPES[template.event_type].variables
        if template.event_type in EVENT_TYPES
        else {},
    )
    return context


def _posted_content(post) -> tuple[dict, dict[str, list[str]]]:
    content = {field: post.get(field, "") for field in CONTENT_FIELDS}
    errors: dict[str, list[str]] = {}
    raw = (post.get("whatsapp_params") or "").strip()
    try:
        content["whatsapp_params"] = json.loads(raw) if raw else []
    except ValueError:
        content["whatsapp_params"] = []
        errors["whatsapp_params"] = [_("Keine gültige JSON-Liste.")]
    return content, errors


@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    """Render the posted (unsaved) form content with example values for a sample customer.

    The door is the template's: viewing it allows a preview, a test send (it queues mail)
    needs the right to save it; without a template (the add form) the right to add one.
    """
    template_id = request.POST.get("object_id")
    test_send = request.POST.get("test_send") == "1"
    if template_id:
        access_template(request.user, template_id, write=test_send)
    elif not request.user.has_perm("templates_app.add_messagetemplate"):
        raise PermissionDenied
    event_type = request.POST.get("event_type", "")
    channel = request.POST.get("channel", "email")
    language = request.POST.get("language", "de")
    content, errors = _posted_content(request.POST)
    if event_type not in EVENT_TYPES:
        return render(
            request,
            "templates_app/_preview.html",
            {"errors": {"event_type": [_("Bitte einen Ereignistyp wählen.")]}},
        )
    for field, messages in validate_content(
        content, event_type=event_type, channel=channel
    ).items():
        errors.setdefault(field, []).extend(messages)

    brands = BusinessEntity.objects.for_user(request.user)
    brand = brands.filter(pk=request.POST.get("brand") or 0).first()
    customer = None
    if request.POST.get("preview_customer"):
        customer_obj = (
            Customer.objects.for_brands(brands).filter(pk=request.POST["preview_customer"]).first()
        )
        if customer_obj is not None:
            customer = customer_data(customer_obj)
            brand = brand or customer_obj.brand
    brand_plain = brand_data(brand)
    result = None
    if not errors:
        version = TemplateVersion(**content)  # unsaved: compiled fresh, never cached
        context = {
            **common_context(
                customer=customer,
                brand=brand_plain,
                language=language,
                links={"unsubscribe": "#abmelden", "preferences": "#einstellungen"},
            ),
            **EVENT_TYPES[event_type].builder(EVENT_TYPES[event_type].example),
        }
        try:
            result = render_version(
                version, channel=channel, language=language, context=context, brand=brand_plain
            )
        except MissingVariable as exc:
            errors["text"] = [_("Variable fehlt: %(name)s") % {"name": exc.name}]
        except TemplateRenderError as exc:  # e.g. the render limits, with the sample customer
            errors["text"] = [render_error_message(exc)]
    if result and result["letter_pdf"]:
        result["letter_pdf_b64"] = base64.b64encode(result["letter_pdf"]).decode()
    queued = False
    if test_send and result and channel == "email" and request.user.email:
        responses = test_send_requested.send(
            sender=MessageTemplate,
            user=request.user,
            brand=brand,
            subject=result["subject"],
            text=result["text"],
            html=result["html"],
        )
        queued = any(response for _receiver, response in responses)
    return render(
        request,
        "templates_app/_preview.html",
        {
            "errors": {FIELD_LABELS.get(k, k): v for k, v in errors.items()},
            "result": result,
            "channel": channel,
            "test_send": test_send,
            "test_send_queued": queued,
            "recipient": request.user.email,
        },
    )


def _diff_table(old: str, new: str) -> str:
    # HtmlDiff escapes &, < and > in the compared lines, so template HTML shows as text.
    return difflib.HtmlDiff(wrapcolumn=70).make_table(
        (old or "").splitlines(), (new or "").splitlines(), _("vorher"), _("nachher"), context=True
    )


def version_diff(request: HttpRequest, template_id: int, version_id: int) -> HttpResponse:
    """What changed from the previous version of the same variant to this one."""
    template = access_template(request.user, template_id)
    version = TemplateVersion.objects.filter(variant__template=template, pk=version_id).first()
    if version is None:
        raise Http404
    previous = (
        version.variant.versions.filter(number__lt=version.number).order_by("-number").first()
    )
    changes = []
    for field in CONTENT_FIELDS:
        old = getattr(previous, field) if previous else ""
        new = getattr(version, field)
        if field == "whatsapp_params":
            old, new = (
                json.dumps(old or [], ensure_ascii=False),
                json.dumps(new or [], ensure_ascii=False),
            )
        if old != new:
            changes.append((FIELD_LABELS.get(field, field), mark_safe(_diff_table(old, new))))
    return render(
        request,
        "templates_app/version_diff.html",
        {
            "template_obj": template,
            "version": version,
            "previous": previous,
            "changes": changes,
            "title": _("Änderungen in Version %(n)s") % {"n": version.number},
            "opts": MessageTemplate._meta,
            "has_view_permission": True,
        },
    )


@require_POST
def version_restore(request: HttpRequest, template_id: int, version_id: int) -> HttpResponse:
    """Make an old version active again (as a new version; history stays complete)."""
    template = access_template(request.user, template_id, write=True)
    version = TemplateVersion.objects.filter(variant__template=template, pk=version_id).first()
    if version is None:
        raise Http404
    restore_version(version=version, author=request.user)
    url = reverse("admin:templates_app_messagetemplate_change", args=[template.pk])
    return redirect(f"{url}?variant={version.variant.name}")
