"""Filters for message templates: money, datum, salutation (German first, en and nl too).

They are builtins of the template engine in templates_app.rendering, so templates need no
{% load %}. Each takes an optional language argument ("de", "en", "nl").
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()

LANGUAGES = ("de", "en", "nl")

MONTHS = {
    "de": [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "nl": [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ],
}
WEEKDAYS = {
    "de": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "nl": ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"],
}


def _options(arg) -> tuple[str, str]:
    """Split an argument like "en", "short", "en short" or "kurz,nl" into (language, style)."""
    language, style = "de", "long"
    for token in str(arg or "").replace(",", " ").split():
        token = token.lower()
        if token in LANGUAGES:
            language = token
        elif token in ("short", "kurz"):
            style = "short"
        elif token in ("weekday", "wochentag"):
            style = "weekday"
        elif token in ("long", "lang"):
            style = "long"
    return language, style


def _group(digits: str, sep: str) -> str:
    parts = []
    while len(digits) > 3:
        parts.insert(0, digits[-3:])
        digits = digits[:-3]
    parts.insert(0, digits)
    return sep.join(parts)


@register.filter(is_safe=False)
def money(value, arg="de") -> str:
    """1234.5 -> "1.234,50 €" (de), "€1,234.50" (en), "€ 1.234,50" (nl). Decimal-exact."""
    if value in (None, ""):
        return ""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return str(value)
    language, _style = _options(arg)
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount):.2f}".split(".")
    if language == "en":
        return f"{sign}€{_group(whole, ',')}.{cents}"
    if language == "nl":
        return f"€ {sign}{_group(whole, '.')},{cents}"
    return f"{sign}{_group(whole, '.')},{cents}\u00a0€"


@register.filter(is_safe=False)
def datum(value, arg="") -> str:
    """A date as "13. Juni 2025" (long, default), "13.06.2025" (short) or with weekday.

    The argument picks language and style: "en", "short", "nl weekday" ...
    """
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        value = value.date()
    language, style = _options(arg)
    if style == "short":
        if language == "en":
            return value.strftime("%d/%m/%Y")
        if language == "nl":
            return value.strftime("%d-%m-%Y")
        return value.strftime("%d.%m.%Y")
    month = MONTHS[language][value.month - 1]
    if language == "en" or language == "nl":
        text = f"{value.day} {month} {value.year}"
    else:
        text = f"{value.day}. {month} {value.year}"
    if style == "weekday":
        weekday = WEEKDAYS[language][value.weekday()]
        text = f"{weekday}, {text}" if language != "nl" else f"{weekday} {text}"
    return text


def salutation_for(customer, language: str = "de") -> str:
    """The opening words for a customer (without the comma).

    Formal by default, informal (first name) when the customer prefers it; neutral with the
    full name when the gender is unknown; a generic greeting when there is no name at all.
    """
    get = customer.get if hasattr(customer, "get") else (lambda key, default="": default)
    first = (get("first_name", "") or "").strip()
    last = (get("last_name", "") or "").strip()
    title = (get("title", "") or "").strip()
    gender = get("gender", "") or ""
    language = language if language in LANGUAGES else "de"
    if get("informal", False) and first:
        return {"de": f"Hallo {first}", "en": f"Hi {first}", "nl": f"Hoi {first}"}[language]
    surname = " ".join(p for p in (title, last) if p)
    if last and gender == "f":
        return {
            "de": f"Sehr geehrte Frau {surname}",
            "en": f"Dear Ms {surname}",
            "nl": f"Geachte mevrouw {surname}",
        }[language]
    if last and gender == "m":
        return {
            "de": f"Sehr geehrter Herr {surname}",
            "en": f"Dear Mr {surname}",
            "nl": f"Geachte heer {surname}",
        }[language]
    full = " ".join(p for p in (title, first, last) if p)
    if full:
        return {"de": f"Guten Tag {full}", "en": f"Dear {full}", "nl": f"Beste {full}"}[language]
    return {
        "de": "Sehr geehrte Damen und Herren",
        "en": "Dear Sir or Madam",
        "nl": "Geachte heer/mevrouw",
    }[language]


@register.filter(is_safe=False)
def salutation(customer, arg="") -> str:
    """{{ customer|salutation }} or {{ customer|salutation:"en" }} -> "Sehr geehrte Frau Müller"."""
    language, _style = _options(
        arg or (customer.get("language", "de") if hasattr(customer, "get") else "de")
    )
    return salutation_for(customer, language)
