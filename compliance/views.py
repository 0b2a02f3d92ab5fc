"""Public pages reached from a signed link in a message: no login, a clear 400 for bad links."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from compliance import services
from compliance.forms import PreferenceForm
from compliance.models import Consent
from config.security import client_ip

PREFERENCE_WORDING = _(
    "Ich möchte Nachrichten der angekreuzten Arten über die angekreuzten Kanäle erhalten. "
    "Ich kann das jederzeit über diese Seite oder den Abmeldelink ändern."
)


def _bad_link(request, reason: str):
    return render(request, "compliance/bad_link.html", {"reason": reason}, status=400)


def _reason(exc: signing.BadSignature) -> str:
    if isinstance(exc, signing.SignatureExpired):
        return _("Dieser Link ist abgelaufen.")
    return _("Dieser Link ist ungültig oder unvollständig.")


@require_http_methods(["GET", "POST"])
def preferences(request, token: str):
    try:
        customer = services.customer_for_preference_token(token)
    except signing.SignatureExpired:
        reason = _("Dieser Link zu Ihren Einstellungen ist abgelaufen: er gilt %(days)d Tage.")
        return _bad_link(request, reason % {"days": settings.COMPLIANCE_LINK_DAYS})
    except signing.BadSignature as exc:
        return _bad_link(request, _reason(exc))
    form = PreferenceForm(request.POST or None, matrix=services.preference_matrix(customer))
    saved = False
    if request.method == "POST" and form.is_valid():
        services.update_preferences(
            customer=customer,
            wanted=form.wanted(),
            actor=services.Actor(label=services.CUSTOMER_SELF),
            source=Consent.Source.PREFERENCE_PAGE,
            wording=PREFERENCE_WORDING,
            ip_address=client_ip(request),
        )
        form = PreferenceForm(matrix=services.preference_matrix(customer))
        saved = True
    return render(
        request,
        "compliance/preferences.html",
        {
            "customer": customer,
            "brand": customer.brand,
            "form": form,
            "saved": saved,
            "wording": PREFERENCE_WORDING,
        },
    )


# RFC 8058: mailbox providers POST without cookies or a CSRF token, so only this
# endpoint is exempt. A GET (link scanners prefetch links) only shows a button.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    try:
        target = services.unsubscribe_target(token)
    except signing.BadSignature as exc:
        return _bad_link(request, _reason(exc))
    done = False
    if request.method == "POST":
        services.unsubscribe(target, actor=services.Actor(label=services.CUSTOMER_SELF))
        done = True
    return render(
        request,
        "compliance/unsubscribe.html",
        {
            "target": target,
            "brand": target.customer.brand,
            "done": done,
            "preference_url": services.preference_url(target.customer),
        },
    )


@require_http_methods(["GET", "POST"])
def confirm(request, token: str):
    try:
        pending = services.consent_for_confirmation(token)
    except signing.BadSignature as exc:
        return _bad_link(request, _reason(exc))
    done = False
    if request.method == "POST":
        services.confirm_double_opt_in(pending=pending, ip_address=client_ip(request))
        done = True
    return render(
        request,
        "compliance/confirm.html",
        {"consent": pending, "brand": pending.customer.brand, "done": done},
    )
