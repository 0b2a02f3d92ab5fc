"""Normalising email addresses and phone numbers, so that lookups are exact matches."""

from __future__ import annotations

from email.utils import parseaddr

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

DEFAULT_REGION = "DE"


def normalize_email(value: str) -> str:
    """Lower-case, strip display name and angle brackets; refuse what is not an address."""
    _name, address = parseaddr(value.strip())
    address = address.strip().strip("<>").lower()
    try:
        validate_email(address)
    except ValidationError:
        raise ValueError(
            _("»%(value)s« ist keine gültige E-Mail-Adresse.") % {"value": value}
        ) from None
    return address


def email_domain(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(">").lower()


def normalize_phone(value: str, region: str = DEFAULT_REGION) -> str:
    """E.164 (+4930123456); numbers without country code are read as German."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueError(
            _("»%(value)s« ist keine gültige Telefonnummer.") % {"value": value}
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(_("»%(value)s« ist keine gültige Telefonnummer.") % {"value": value})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """For display: +49 30 123456."""
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return e164
