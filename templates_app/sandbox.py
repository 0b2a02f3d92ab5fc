"""What a message template may do while it renders, and how much.

Templates are written in the admin by staff, so rendering treats them as untrusted code:

- **Values only.** Variables are resolved by ``StrictVariable``: dict keys and list
  positions, nothing else. No attribute lookup, and nothing is ever called — not
  ``items.pop``, not ``customer_name.upper``, not ``forloop.parentloop.clear``, not
  ``customer.items`` (a dict's items cannot be iterated as pairs: loop over lists).
- **A budget per message** (``render_budget``): every loop charges its iterations times the
  nodes of its body up front, every filter call one step; rendering stops past
  ``TEMPLATE_RENDER_MAX_STEPS`` steps, ``TEMPLATE_RENDER_MAX_OUTPUT`` characters of output
  or ``TEMPLATE_RENDER_TIMEOUT_MS`` milliseconds, with RenderLimitExceeded.
- **Filters with bounds.** Every filter is wrapped: numeric arguments that size the result
  (``ljust:"50000000"``, ``stringformat:"09999999d"``, ``floatformat:"-100000"`` ...) above
  ``TEMPLATE_MAX_FILTER_ARGUMENT`` are refused before the filter runs, ``join`` refuses a
  result beyond the output limit before joining, and no filter result may exceed the
  output limit (so ``|force_escape|force_escape|...`` cannot grow without bound).

``secure()`` applies this to a compiled template (templates_app.rendering.compile_source is
the only way message templates are compiled); the engine there has ``register`` below as its
only builtin library. The same argument checks run at save time on literal arguments.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, NoReturn

from django.conf import settings
from django.template import Library, Template, defaultfilters, defaulttags, loader_tags
from django.template.base import (
    FilterExpression,
    Node,
    NodeList,
    TextNode,
    Variable,
    VariableDoesNotExist,
    VariableNode,
)
from django.template.defaulttags import (
    AutoEscapeControlNode,
    CommentNode,
    CycleNode,
    FilterNode,
    FirstOfNode,
    ForNode,
    IfChangedNode,
    IfNode,
    NowNode,
    SpacelessNode,
    TemplateTagNode,
    VerbatimNode,
    WithNode,
)
from django.template.smartif import TokenBase
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from templates_app.events import MissingVariable, StrictDict, TemplateRenderError
from templates_app.templatetags import kk

ALLOWED_NODES = (
    TextNode,
    VariableNode,
    IfNode,
    ForNode,
    WithNode,
    FirstOfNode,
    CycleNode,
    SpacelessNode,
    AutoEscapeControlNode,
    CommentNode,
    FilterNode,
    IfChangedNode,
    VerbatimNode,
    TemplateTagNode,
    NowNode,
)


class SandboxError(TemplateRenderError):
    """A template did something it may not; the message says what (German), with its line."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        if self.lineno:
            return _("Zeile %(line)s: %(message)s") % {"line": self.lineno, "message": self.message}
        return self.message


class RenderLimitExceeded(SandboxError):
    """Rendering took too many steps, too long or too much output, or a filter argument
    is absurd. Permanent: the same template and data fail the same way every time."""


class ForbiddenLookup(SandboxError):
    """A template tried to reach a method or attribute instead of a value."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(forbidden_lookup_message(name))


def forbidden_lookup_message(name: str) -> str:
    return _(
        "„%(name)s“: Vorlagen können keine Methoden aufrufen und keine Attribute lesen, "
        "nur Werte (Schlüssel und Listenpositionen)."
    ) % {"name": name}


def forbidden_tag_message(node) -> str:
    name = getattr(getattr(node, "token", None), "contents", "") or type(node).__name__
    return _("„%(tag)s“ ist in Vorlagen nicht erlaubt.") % {"tag": f"{{% {name.split()[0]} %}}"}


def unpack_message(node: ForNode) -> str:
    return _(
        "Die Schleife über „%(sequence)s“ verteilt jedes Element auf %(n)s Variablen "
        "(%(names)s); das geht nur, wenn jedes Element eine Liste mit %(n)s Werten ist."
    ) % {
        "sequence": node.sequence.token,
        "n": len(node.loopvars),
        "names": ", ".join(node.loopvars),
    }


# --- the budget -------------------------------------------------------------------------


class Budget:
    """Steps, output characters and time left for one message (all its fields)."""

    __slots__ = ("deadline", "error", "max_output", "max_steps", "output", "steps", "timeout")

    def __init__(self) -> None:
        self.steps = 0
        self.output = 0
        self.max_steps = settings.TEMPLATE_RENDER_MAX_STEPS
        self.max_output = settings.TEMPLATE_RENDER_MAX_OUTPUT
        self.timeout = settings.TEMPLATE_RENDER_TIMEOUT_MS
        self.deadline = time.perf_counter() + self.timeout / 1000 if self.timeout > 0 else math.inf
        self.error: RenderLimitExceeded | None = None

    def step(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > self.max_steps:
            self.fail(
                _(
                    "Darstellung abgebrochen: Die Vorlage braucht mehr als %(max)s Schritte "
                    "(zu große oder zu tief verschachtelte Schleifen)."
                )
                % {"max": self.max_steps}
            )
        if time.perf_counter() > self.deadline:
            self.fail(
                _("Darstellung abgebrochen: Die Vorlage braucht länger als %(ms)s ms.")
                % {"ms": self.timeout}
            )

    def produced(self, n: int) -> None:
        self.output += n
        self.check_output(self.output)

    def check_output(self, n: int) -> None:
        if n > self.max_output:
            self.fail(
                _("Darstellung abgebrochen: Die Ausgabe wäre länger als %(max)s Zeichen.")
                % {"max": self.max_output}
            )

    def fail(self, message: str) -> NoReturn:
        # Sticky: Django's {% if a == b %} swallows its operands' exceptions, so the
        # first error is kept and raised again when the template has finished.
        if self.error is None:
            self.error = RenderLimitExceeded(message)
        raise self.error

    def check(self) -> None:
        self.step(0)
        self.check_output(self.output)


_BUDGET: ContextVar[Budget | None] = ContextVar("kk_template_budget", default=None)


class render_budget:  # noqa: N801 (used like a function: with render_budget() as budget)
    """The budget of the render in progress, or a new one for this render."""

    __slots__ = ("budget", "token")

    def __enter__(self) -> Budget:
        budget = _BUDGET.get()
        if budget is None:
            budget = Budget()
            self.token = _BUDGET.set(budget)
        else:
            self.token = None
        return budget

    def __exit__(self, *exc_info) -> None:
        if self.token is not None:
            _BUDGET.reset(self.token)


def error_line(exc: BaseException) -> int | None:
    """The template line an exception was raised on (the engines run with debug=True, so
    Django records the innermost node that raised)."""
    if getattr(exc, "lineno", None):
        return exc.lineno
    token = getattr(getattr(exc, "_culprit_node", None), "token", None)
    return getattr(token, "lineno", None)


class SandboxTemplate(Template):
    """A compiled message template: renders within the budget, output size checked."""

    def render(self, context):
        budget = _BUDGET.get()
        if budget is None:
            with render_budget():
                return self.render(context)
        start = budget.output
        try:
            out = super().render(context)
            if budget.error is not None:
                raise budget.error
            budget.output = start + len(out)
            budget.check_output(budget.output)
        except SandboxError as exc:
            exc.lineno = error_line(exc)
            raise
        return out


# --- values only ------------------------------------------------------------------------


class StrictVariable(Variable):
    """``a.b.0`` resolved through dict keys and list positions only; never calls anything."""

    __slots__ = ()

    def _resolve_lookup(self, context):
        lookups = self.lookups
        try:
            current = context[lookups[0]]
        except KeyError:  # a plain Context; StrictContext raises MissingVariable itself
            raise VariableDoesNotExist(
                "Failed lookup for key [%s] in %r", (lookups[0], context)
            ) from None
        for i in range(1, len(lookups)):
            bit = lookups[i]
            if isinstance(current, dict):
                try:
                    current = dict.__getitem__(current, bit)
                except KeyError:
                    name = ".".join(lookups[: i + 1])
                    if hasattr(dict, bit):  # .items, .clear, .pop ...: a method, no key
                        raise ForbiddenLookup(name) from None
                    raise MissingVariable(name) from None
            elif isinstance(current, list | tuple) and bit.isdigit():
                try:
                    current = current[int(bit)]
                except IndexError:
                    raise MissingVariable(".".join(lookups[: i + 1])) from None
            else:
                raise ForbiddenLookup(".".join(lookups[: i + 1]))
        if callable(current):
            raise ForbiddenLookup(".".join(lookups))
        return current


_NO_PARENTLOOP = StrictDict(path="forloop.parentloop")  # never written to


class BoundedForNode(ForNode):
    """Django's ForNode (5.2) with the budget: iterations x body nodes charged up front,
    output counted per iteration; unpacking only of lists of the right length."""

    weight = 1  # nodes rendered per iteration (set by secure())

    def render(self, context):
        budget = _BUDGET.get()
        if budget is None:
            with render_budget():
                return self.render(context)
        parentloop = context.get("forloop", _NO_PARENTLOOP)
        with context.push():
            values = self.sequence.resolve(context, ignore_failures=True)
            if values is None:
                values = []
            if not hasattr(values, "__len__"):
                values = list(values)
            len_values = len(values)
            if len_values < 1:
                return self.nodelist_empty.render(context)
            budget.step(len_values * self.weight)
            nodelist = []
            if self.is_reversed:
                values = reversed(values)
            num_loopvars = len(self.loopvars)
            unpack = num_loopvars > 1
            loop_dict = context["forloop"] = StrictDict({"parentloop": parentloop}, "forloop")
            start, produced = budget.output, 0
            for i, item in enumerate(values):
                loop_dict["counter0"] = i
                loop_dict["counter"] = i + 1
                loop_dict["revcounter"] = len_values - i
                loop_dict["revcounter0"] = len_values - i - 1
                loop_dict["first"] = i == 0
                loop_dict["last"] = i == len_values - 1

                pop_context = False
                if unpack:
                    if not isinstance(item, list | tuple) or len(item) != num_loopvars:
                        raise SandboxError(unpack_message(self))
                    pop_context = True
                    context.update(dict(zip(self.loopvars, item, strict=True)))
                else:
                    context[self.loopvars[0]] = item

                for node in self.nodelist_loop:
                    piece = node.render_annotated(context)
                    produced += len(piece)
                    nodelist.append(piece)
                # the loop's output so far replaces what its filters and inner loops counted
                budget.output = start + produced
                budget.check_output(budget.output)

                if pop_context:
                    context.pop()
        return mark_safe("".join(nodelist))


def _weight(nodelist) -> int:
    """Nodes rendered once per iteration (inner loops charge their own iterations)."""
    total = 0
    for node in nodelist:
        total += 1
        if not isinstance(node, ForNode):
            for attr in node.child_nodelists:
                total += _weight(getattr(node, attr, None) or ())
    return total


def _strict(obj: Any) -> None:
    if isinstance(obj, Variable):
        if obj.lookups is not None:
            obj.__class__ = StrictVariable
    elif isinstance(obj, FilterExpression):
        _strict(obj.var)
        for _func, args in obj.filters:
            for lookup, arg in args:
                if lookup:
                    _strict(arg)
    elif isinstance(obj, NodeList | Node):
        return  # nodes are walked by secure() through child_nodelists
    elif isinstance(obj, list | tuple):
        for item in obj:
            _strict(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            _strict(item)
    elif isinstance(obj, TokenBase):  # {% if %} conditions: literals and operators
        for item in vars(obj).values():
            _strict(item)


def _secure_nodelist(nodelist) -> None:
    for node in nodelist:
        if not isinstance(node, ALLOWED_NODES):
            raise SandboxError(forbidden_tag_message(node))
        for key, value in vars(node).items():
            if key not in ("token", "origin") and key not in node.child_nodelists:
                _strict(value)
        if type(node) is ForNode:
            node.__class__ = BoundedForNode
            node.weight = 1 + _weight(node.nodelist_loop)
        for attr in node.child_nodelists:
            _secure_nodelist(getattr(node, attr, None) or ())


def secure(template: Template) -> None:
    """Make a compiled template a SandboxTemplate: allowed tags only (else SandboxError),
    strict variables everywhere (values, conditions, loop sequences, filter arguments),
    bounded loops."""
    _secure_nodelist(template.nodelist)
    template.__class__ = SandboxTemplate


# --- filters ----------------------------------------------------------------------------

# Filters whose numeric argument sizes their result (a width, a length, decimal places).
_SIZED_BY_ARGUMENT = frozenset(
    {
        "center",
        "floatformat",
        "ljust",
        "rjust",
        "stringformat",
        "truncatechars",
        "truncatechars_html",
        "truncatewords",
        "truncatewords_html",
        "urlizetrunc",
        "wordwrap",
    }
)
_DIGITS = re.compile(r"\d+")


def filter_argument_problem(name: str, arg: Any) -> str | None:
    """Why a filter argument is refused (at save time and when rendering), or None."""
    limit = settings.TEMPLATE_MAX_FILTER_ARGUMENT
    if name in _SIZED_BY_ARGUMENT:
        for digits in _DIGITS.findall(str(arg)):
            if len(digits) > 9 or int(digits) > limit:
                return _("Filter „%(filter)s“: %(value)s ist zu groß (höchstens %(max)s).") % {
                    "filter": name,
                    "value": digits if len(digits) <= 12 else digits[:12] + "…",
                    "max": limit,
                }
    elif name == "join" and len(str(arg)) > limit:
        return _("Filter „join“: Das Trennzeichen ist länger als %(max)s Zeichen.") % {"max": limit}
    return None


def _bounded(name: str, func: Callable) -> Callable:
    checks_argument = name in _SIZED_BY_ARGUMENT or name == "join"

    @functools.wraps(func)
    def bounded(value, *args, **kwargs):
        budget = _BUDGET.get()
        if checks_argument and args:
            problem = filter_argument_problem(name, args[0])
            if problem is not None:
                if budget is not None:
                    budget.fail(problem)
                raise RenderLimitExceeded(problem)
            if name == "join" and budget is not None and isinstance(value, list | tuple):
                budget.check_output(budget.output + len(value) * len(str(args[0])))
        result = func(value, *args, **kwargs)
        if budget is not None:  # inline: this runs for every filter call
            budget.steps += 1
            if isinstance(result, str):
                budget.output += len(result)
                size = budget.output
            else:
                size = budget.output + len(result) if isinstance(result, list | tuple) else 0
            if (
                budget.steps > budget.max_steps
                or size > budget.max_output
                or time.perf_counter() > budget.deadline
            ):
                budget.check()
                budget.check_output(size)
        return result

    bounded.kk_filter_name = name
    return bounded


# The only builtin library of the message template engines: Django's tags (the checker and
# secure() refuse all but ALLOWED_NODES, with a clear message) and every filter, bounded.
register = Library()
register.tags.update(defaulttags.register.tags)
register.tags.update(loader_tags.register.tags)
for _name, _func in {**defaultfilters.register.filters, **kk.register.filters}.items():
    register.filters[_name] = _bounded(_name, _func)
