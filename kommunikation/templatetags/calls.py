"""Filters of the Aufgaben page."""

from __future__ import annotations

from django import template

from kommunikation.contact import format_phone

register = template.Library()


@register.filter
def is_overdue(task, now) -> bool:
    """An open task whose due time has passed."""
    return task.is_overdue(now)


@register.filter
def phone(value: str) -> str:
    """+4915112345678 -> +49 1511 2345678 (the tel: link keeps E.164)."""
    return format_phone(value) if value else ""
