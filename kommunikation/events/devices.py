"""Push devices of a brand's customer app, registered through the signed API.

``POST /api/v1/devices`` registers (or refreshes) the FCM registration token of one app
install for a customer: the app's backend calls it at login and whenever the token
changes, signed as every event source's request (Standard Webhooks, ``X-Event-Source``).
``POST /api/v1/devices/retire`` retires a token (logout, uninstall seen by the app).
A token is a ContactPoint of channel "push"; the push channel retires it on its own when
FCM answers UNREGISTERED (kommunikation.channels.push).

Answers: 201 a new device, 200 a known one (its last_seen_at moves; a retired token that
comes back is active again), 400 field errors, 422 ``customer_not_found`` (a device needs
its customer: unlike an event, nothing is kept for a customer we do not know), and the
event API's 401 / 410 / 413 / 415.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kommunikation.events.api import (
    CUSTOMER_FIELDS,
    ApiResponse,
    _errors,
    _text,
    authenticate,
    find_customer,
)
from kommunikation.models import ContactChannel, ContactPoint, ContactType, Customer

# FCM registration tokens: letters, digits and - _ : . (about 160 today, no fixed length)
DEVICE_TOKEN = re.compile(r"^[A-Za-z0-9_\-:.]{16,512}$")
REGISTER_FIELDS = {"customer", "token"}
RETIRE_FIELDS = {"token"}


def register_device(
    *, customer: Customer, token: str, at: dt.datetime
) -> tuple[ContactPoint, bool]:
    """The customer's device with this token, seen now; (point, created).

    A token belongs to one app install: registered for another customer of the brand
    before (someone else logged in on that phone), it moves to this one.
    """
    with transaction.atomic():
        ContactPoint.objects.filter(
            channel=ContactChannel.PUSH, value=token, customer__brand_id=customer.brand_id
        ).exclude(customer=customer).delete()
        try:
            with transaction.atomic():
                point, created = ContactPoint.objects.get_or_create(
                    customer=customer,
                    channel=ContactChannel.PUSH,
                    value=token,
                    defaults={"type": ContactType.OTHER, "last_seen_at": at, "verified": True},
                )
        except IntegrityError:  # the same token registered twice at the same moment
            point, created = (
                ContactPoint.objects.get(
                    customer=customer, channel=ContactChannel.PUSH, value=token
                ),
                False,
            )
        if not created:
            ContactPoint.objects.filter(pk=point.pk).update(last_seen_at=at, bouncing=False)
            point.last_seen_at, point.bouncing = at, False
    return point, created


def retire_devices(*, brand, token: str) -> int:
    """Retire a token of the brand's customers (it is never sent to again); how many."""
    return ContactPoint.objects.filter(
        channel=ContactChannel.PUSH, value=token, customer__brand=brand, bouncing=False
    ).update(bouncing=True)


def _token(item: dict, errors: dict[str, list[str]]) -> str:
    token = _text(item.get("token"), "token", errors).strip()
    if not token and "token" not in errors:
        errors["token"] = [_("Pflichtfeld.")]
    elif token and not DEVICE_TOKEN.match(token):
        errors.setdefault("token", []).append(
            _("Kein Gerätetoken (16 bis 512 Zeichen: Buchstaben, Ziffern, - _ : .).")
        )
    return token


def _unknown(item: dict, allowed: set[str]) -> dict[str, list[str]]:
    return {name: [_("Unbekanntes Feld.")] for name in sorted(set(item) - allowed)}


def device_json(point: ContactPoint) -> dict[str, Any]:
    return {
        "id": point.pk,
        "customer": {"id": point.customer_id, "number": point.customer.number},
        "registered_at": point.created_at.astimezone(dt.UTC).isoformat(),
        "last_seen_at": point.last_seen_at.astimezone(dt.UTC).isoformat()
        if point.last_seen_at
        else None,
        "active": not point.bouncing,
    }


def receive_registration(*, body: bytes, headers) -> ApiResponse:
    source, item, refused = authenticate(body=body, headers=headers)
    if refused is not None:
        return refused
    if not isinstance(item, dict):
        return ApiResponse(400, _errors(body=[_("Ein JSON-Objekt erwartet.")]))
    errors = _unknown(item, REGISTER_FIELDS)
    token = _token(item, errors)
    ref_in = item.get("customer")
    ref: dict[str, str] = {}
    if not isinstance(ref_in, dict):
        errors.setdefault("customer", []).append(_("Ein JSON-Objekt erwartet."))
    else:
        for name in sorted(set(ref_in) - set(CUSTOMER_FIELDS)):
            errors.setdefault(f"customer.{name}", []).append(_("Unbekanntes Feld."))
        ref = {
            name: _text(ref_in.get(name), f"customer.{name}", errors)
            for name in CUSTOMER_FIELDS
            if ref_in.get(name) not in (None, "")
        }
        if not ref and "customer" not in errors:
            errors["customer"] = [_("external_id, number, email oder phone angeben.")]
    if errors:
        return ApiResponse(400, _errors(**errors))
    customer, customer_errors = find_customer(source.brand, ref)
    if customer_errors:
        return ApiResponse(400, _errors(**customer_errors))
    if customer is None:
        return ApiResponse(422, {"error": "customer_not_found"})
    point, created = register_device(customer=customer, token=token, at=timezone.now())
    point.customer = customer
    return ApiResponse(201 if created else 200, {"device": device_json(point)})


def receive_retirement(*, body: bytes, headers) -> ApiResponse:
    source, item, refused = authenticate(body=body, headers=headers)
    if refused is not None:
        return refused
    if not isinstance(item, dict):
        return ApiResponse(400, _errors(body=[_("Ein JSON-Objekt erwartet.")]))
    errors = _unknown(item, RETIRE_FIELDS)
    token = _token(item, errors)
    if errors:
        return ApiResponse(400, _errors(**errors))
    return ApiResponse(200, {"retired": retire_devices(brand=source.brand, token=token)})
