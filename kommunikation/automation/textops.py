"""Text comparisons of rule conditions, case-insensitive (subject keywords and the like).

- ``contains_any``: the text contains one of the words; the value is a list of words or
  one string with the words separated by ``|`` ("Rechnung|Mahnung").
- ``matches``: a regular expression (Python syntax) found anywhere in the text.

Both are checked at save time (``value_errors``), so a broken pattern never reaches the
engine; a pattern is compiled once per process.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext as _

TEXT_OPS = ("contains_any", "matches")
MAX_PATTERN = 500


def words(value: Any) -> list[str]:
    if isinstance(value, str):
        parts = value.split("|")
    elif isinstance(value, list | tuple):
        parts = [str(v) for v in value]
    else:
        return []
    return [p.strip().casefold() for p in parts if p.strip()]


@lru_cache(maxsize=256)
def _pattern(source: str) -> re.Pattern:
    return re.compile(source, re.IGNORECASE)


def text_matches(op: str, actual: Any, expected: Any) -> bool:
    text = "" if actual is None else str(actual)
    if op == "contains_any":
        folded = text.casefold()
        return any(word in folded for word in words(expected))
    if op == "matches":
        try:
            return _pattern(str(expected)).search(text) is not None
        except re.error:
            return False
    raise ValueError(op)


def value_errors(op: str, value: Any) -> str | None:
    """Why `value` cannot serve `op` (None when it can)."""
    if op == "contains_any":
        if not words(value):
            return _("contains_any braucht Wörter (eine Liste oder „Rechnung|Mahnung“).")
        return None
    if not isinstance(value, str) or not value:
        return _("matches braucht einen regulären Ausdruck als Text.")
    if len(value) > MAX_PATTERN:
        return _("Der reguläre Ausdruck ist zu lang (höchstens %(n)s Zeichen).") % {
            "n": MAX_PATTERN
        }
    try:
        re.compile(value)
    except re.error as exc:
        return _("Ungültiger regulärer Ausdruck: %(error)s") % {"error": exc}
    return None
