"""Strict rendering of message templates, and their validation when they are saved.

Templates are Django template language on a dedicated Engine: no loaders (no include or
extends), a short list of allowed tags, and as its only builtins templates_app.sandbox's
bounded copies of Django's filters and ours. What makes it strict:

- when saving, every variable a template reads is checked against its event type's
  declared variables (walking the compiled nodelist), as are methods, filter arguments and
  loops, and then the template is rendered with the event type's example values; any
  problem is refused with its line;
- when rendering, the context raises MissingVariable for any missing key (Django swallows
  only exceptions marked ``silent_variable_failure``), so nothing is sent with a blank;
  variables are values only (nothing is ever called) and every message renders within a
  budget of steps, output and time (templates_app.sandbox).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from html import escape as html_escape
from html import unescape
from typing import Any

import css_inline
from django.conf import settings
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import (
    FilterExpression,
    Variable,
    VariableNode,
    render_value_in_context,
)
from django.template.defaulttags import (
    AutoEscapeControlNode,
    CycleNode,
    FilterNode,
    FirstOfNode,
    ForNode,
    IfChangedNode,
    IfNode,
    SpacelessNode,
    WithNode,
)
from django.template.loader import get_template
from django.utils.html import escape, linebreaks, urlize
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kommunikation.events.catalogue import EVENT_TYPES
from templates_app.plain import (
    _EXACT_SCALARS,
    BrandData,
    CustomerData,
    MissingVariable,
    StrictDict,
    TemplateRenderError,
    brand_data,
    plain,
)
from templates_app.sandbox import (
    ALLOWED_NODES,
    SandboxError,
    error_line,
    filter_argument_problem,
    forbidden_lookup_message,
    forbidden_tag_message,
    render_budget,
    secure,
    unpack_message,
)
from templates_app.sms import SmsInfo, sms_info, sms_limit_error


class _SandboxEngine(Engine):
    # Not Django's default tags and filters: only templates_app.sandbox's bounded copies.
    default_builtins: list[str] = []


_ENGINE_OPTIONS = {
    "dirs": [],
    "app_dirs": False,
    "libraries": {},
    "builtins": ["templates_app.sandbox"],
    "string_if_invalid": "",
    # debug: errors raised while rendering name the node (and so the line) they came from
    "debug": True,
}
HTML_ENGINE = _SandboxEngine(autoescape=True, **_ENGINE_OPTIONS)
TEXT_ENGINE = _SandboxEngine(autoescape=False, **_ENGINE_OPTIONS)
# For validation: syntax errors carry their line.
CHECK_ENGINE = HTML_ENGINE

TEMPLATE_FIELDS = ("subject", "text", "html", "sms_text", "letter_body")
FIELD_LABELS = {
    "subject": gettext_lazy("Betreff"),
    "text": gettext_lazy("Text"),
    "html": gettext_lazy("HTML"),
    "sms_text": gettext_lazy("SMS-Text"),
    "letter_body": gettext_lazy("Brieftext"),
    "whatsapp_params": gettext_lazy("WhatsApp-Parameter"),
    "whatsapp_name": gettext_lazy("WhatsApp-Vorlagenname"),
    "whatsapp_language": gettext_lazy("WhatsApp-Sprachcode"),
}
REQUIRED_BY_CHANNEL = {
    "email": ("subject",),
    "sms": ("sms_text",),
    "whatsapp": ("whatsapp_name",),
    "letter": ("letter_body",),
    "push": ("text",),
    "call": ("text",),
}


class TemplateNotFound(LookupError):
    """No template (or no active variant with a version) for this key and channel."""


# --- compiling --------------------------------------------------------------------------

_COMPILED: dict[tuple[str, str], Template] = {}


def compile_source(source: str, *, html: bool) -> Template:
    """Compile once; the template remembers which context names it reads (``required``).

    The only way message templates are compiled: sandbox.secure() makes every variable
    strict (values only, nothing called), bounds loops and refuses tags that are not allowed.
    """
    template = Template(source, engine=HTML_ENGINE if html else TEXT_ENGINE)
    secure(template)
    checker = _Checker({})
    checker.nodelist(template.nodelist, {})
    template.required = frozenset(checker.top_level)
    for node in template.nodelist.get_nodes_by_type(VariableNode):
        _FastVariableNode.adopt(node)
    return template


_FAST_VALUE_TYPES = _EXACT_SCALARS | {StrictDict, list}


class _FastVariableNode(VariableNode):
    """``{{ name.key|filter:"arg" }}`` rendered with the work done once at compile time.

    Same output and errors as Django's VariableNode (it falls back to it for anything
    unusual): lookups through StrictContext/StrictDicts, the filters' flags and literal
    arguments prepared once, and text and whole numbers converted without the
    localisation machinery (which leaves them unchanged).
    """

    lookups: tuple[str, ...] | None
    filters: list[tuple]

    @classmethod
    def adopt(cls, node: VariableNode) -> None:
        fe = node.filter_expression
        var = fe.var
        plain_var = fe.is_var and not var.translate and var.lookups is not None
        filters = []
        for func, args in fe.filters:
            prepared = []
            for lookup, arg in args:
                if lookup:
                    prepared.append((True, arg))
                elif type(arg) in (str, SafeString, int, float):
                    prepared.append((False, mark_safe(arg)))  # what resolve() does each time
                else:
                    plain_var = False  # e.g. a lazy translation: keep Django's path
            filters.append(
                (
                    func,
                    prepared,
                    getattr(func, "expects_localtime", False),
                    getattr(func, "needs_autoescape", False),
                    getattr(func, "is_safe", False),
                )
            )
        node.__class__ = cls
        node.lookups = tuple(var.lookups) if plain_var else None
        node.filters = filters

    def _resolve(self, context):
        lookups = self.lookups
        if lookups is None or type(context) is not StrictContext:
            return self.filter_expression.resolve(context)
        try:
            value = context[lookups[0]]
            for bit in lookups[1:]:
                if type(value) is not StrictDict:
                    return self.filter_expression.resolve(context)
                value = value[bit]
        except MissingVariable:
            return self.filter_expression.resolve(context)  # raises it the usual way
        if type(value) not in _FAST_VALUE_TYPES:
            return self.filter_expression.resolve(context)
        for func, args, localtime, needs_autoescape, is_safe in self.filters:
            arg_vals = [arg.resolve(context) if lookup else arg for lookup, arg in args]
            if localtime:
                value = template_localtime(value, context.use_tz)
            if needs_autoescape:
                new_value = func(value, *arg_vals, autoescape=context.autoescape)
            else:
                new_value = func(value, *arg_vals)
            value = mark_safe(new_value) if is_safe and isinstance(value, SafeData) else new_value
        return value

    def render(self, context):
        try:
            value = self._resolve(context)
        except UnicodeDecodeError:
            return ""
        cls = type(value)
        if cls is str:
            return SafeString(html_escape(value)) if context.autoescape else value
        if cls is SafeString:
            return value
        if cls is int and context.use_l10n is None and not settings.USE_THOUSAND_SEPARATOR:
            return str(value)
        return render_value_in_context(value, context)


def is_html_field(field: str, source: str) -> bool:
    """The HTML body is HTML; a letter body is HTML when it has tags, else paragraphs of text."""
    return field == "html" or (field == "letter_body" and "<" in source)


def compiled(version, field: str) -> Template:
    """The compiled template of one field of a version; cached (versions never change)."""
    html = is_html_field(field, getattr(version, field))
    if version.pk is None:
        return compile_source(getattr(version, field), html=html)
    # Keyed by content hash, not pk: ids can repeat (rolled-back transactions), content cannot.
    key = (version.content_hash, field)
    template = _COMPILED.get(key)
    if template is None:
        template = _COMPILED[key] = compile_source(getattr(version, field), html=html)
    return template


class StrictContext(Context):
    """A Context whose missing names raise MissingVariable instead of KeyError."""

    def __getitem__(self, key):
        for d in reversed(self.dicts):
            if key in d:
                return d[key]
        raise MissingVariable(key)


def render_source(template: Template, context: dict[str, Any], *, autoescape: bool) -> str:
    # Checked up front too: Django's {% if a == b %} swallows every exception of its operands.
    for name in template.required:
        if name not in context:
            raise MissingVariable(name)
    return template.render(StrictContext(context, autoescape=autoescape))


# --- validation -------------------------------------------------------------------------

_ANY = object()  # a value the checker cannot know (e.g. unpacked loop variables)
_HANDLEBARS_WITH_SPACES = re.compile(r"\{\{\s*([A-Za-z_]\w*(?:[ \-]+\w+)+)\s*\}\}")
# What a template may read from ``forloop`` (plus ``parentloop``: the enclosing loop's).
FORLOOP = {
    "counter": 1,
    "counter0": 0,
    "revcounter": 1,
    "revcounter0": 0,
    "first": True,
    "last": True,
}


class _Unknown(Exception):
    def __init__(self, name: str, *, method: bool = False):
        self.name = name
        self.method = method  # the name is a method or attribute of the value, not a key


def _lookup(scope: dict[str, Any], lookups: tuple[str, ...]) -> Any:
    value = scope.get(lookups[0], KeyError)
    if value is KeyError:
        raise _Unknown(lookups[0])
    for i, bit in enumerate(lookups[1:], start=2):
        if value is _ANY:
            return _ANY
        if isinstance(value, dict) and bit in value:
            value = value[bit]
        elif isinstance(value, list) and bit.isdigit():
            value = value[int(bit)] if int(bit) < len(value) else _ANY
        else:
            raise _Unknown(".".join(lookups[:i]), method=hasattr(type(value), bit))
    return value


class _Checker:
    def __init__(self, variables: dict[str, Any]):
        self.variables = variables
        self.errors: list[str] = []
        self.top_level: set[str] = set()  # names read from the context (not loop/with locals)
        self.loop_depth = 0
        self.iterations = 1  # estimated iterations of the loops around the current node

    def error(self, node, message: str) -> None:
        token = getattr(node, "token", None)
        line = getattr(token, "lineno", None)
        self.errors.append(
            _("Zeile %(line)s: %(message)s") % {"line": line, "message": message}
            if line
            else message
        )

    def variable(self, node, var, scope) -> Any:
        if isinstance(var, Variable) and var.lookups:
            name = var.lookups[0]
            if name not in scope or scope[name] is self.variables.get(name, _Unknown):
                self.top_level.add(name)
            try:
                return _lookup(scope, var.lookups)
            except _Unknown as exc:
                if exc.method:
                    message = forbidden_lookup_message(exc.name)
                else:
                    message = _("Unbekannte Variable „%(name)s“.") % {"name": exc.name}
                self.error(node, message)
                return _ANY
        if isinstance(var, str | int | float):
            return var  # a literal
        return _ANY

    def expression(self, node, fe: FilterExpression, scope) -> Any:
        value = self.variable(node, fe.var, scope)
        for func, args in fe.filters:
            name = getattr(func, "kk_filter_name", "")
            for lookup, arg in args:
                if lookup:
                    self.variable(node, arg, scope)
                else:
                    problem = filter_argument_problem(name, arg)
                    if problem:
                        self.error(node, problem)
        return value

    def condition(self, node, cond, scope) -> None:
        if cond is None:
            return
        value = getattr(cond, "value", None)
        if isinstance(value, FilterExpression):
            self.expression(node, value, scope)
            return
        for part in (getattr(cond, "first", None), getattr(cond, "second", None)):
            if part is not None:
                self.condition(node, part, scope)

    def nodelist(self, nodelist, scope: dict[str, Any]) -> None:
        for node in nodelist:
            self.node(node, scope)

    def loop(self, node: ForNode, scope: dict[str, Any]) -> None:
        sequence = self.expression(node, node.sequence, scope)
        max_depth = settings.TEMPLATE_MAX_LOOP_DEPTH
        if self.loop_depth == max_depth:
            self.error(
                node,
                _("Schleifen dürfen höchstens %(max)s-fach verschachtelt sein.")
                % {"max": max_depth},
            )
        outer = self.iterations
        size = len(sequence) if isinstance(sequence, str | list) else 1
        self.iterations = outer * max(size, 1)
        max_steps = settings.TEMPLATE_RENDER_MAX_STEPS
        if self.iterations > max_steps >= outer:
            self.error(
                node,
                _(
                    "Diese Schleifen ergäben etwa %(n)s Durchläufe; erlaubt sind höchstens "
                    "%(max)s Schritte je Nachricht."
                )
                % {"n": self.iterations, "max": max_steps},
            )
        element = sequence[0] if isinstance(sequence, list) and sequence else _ANY
        if isinstance(sequence, str) and sequence:
            element = sequence[0]
        inner = {**scope, "forloop": {**FORLOOP, "parentloop": scope.get("forloop", {})}}
        if len(node.loopvars) == 1:
            inner[node.loopvars[0]] = element
        else:
            if element is not _ANY and not (
                isinstance(element, list) and len(element) == len(node.loopvars)
            ):
                self.error(node, unpack_message(node))
            inner.update(dict.fromkeys(node.loopvars, _ANY))
        self.loop_depth += 1
        self.nodelist(node.nodelist_loop, inner)
        self.loop_depth -= 1
        self.iterations = outer
        self.nodelist(node.nodelist_empty, scope)

    def node(self, node, scope: dict[str, Any]) -> None:
        if not isinstance(node, ALLOWED_NODES):
            self.error(node, forbidden_tag_message(node))
            return
        if isinstance(node, VariableNode):
            self.expression(node, node.filter_expression, scope)
        elif isinstance(node, IfNode):
            for cond, nodelist in node.conditions_nodelists:
                self.condition(node, cond, scope)
                self.nodelist(nodelist, scope)
        elif isinstance(node, ForNode):
            self.loop(node, scope)
        elif isinstance(node, WithNode):
            inner = dict(scope)
            for name, fe in node.extra_context.items():
                inner[name] = self.expression(node, fe, scope)
            self.nodelist(node.nodelist, inner)
        elif isinstance(node, FirstOfNode):
            for fe in node.vars:
                self.expression(node, fe, scope)
        elif isinstance(node, CycleNode):
            for fe in node.cyclevars:
                self.expression(node, fe, scope)
        elif isinstance(node, FilterNode):
            self.expression(node, node.filter_expr, {**scope, "var": _ANY})
            self.nodelist(node.nodelist, scope)
        elif isinstance(node, IfChangedNode):
            for fe in node._varlist:
                self.expression(node, fe, scope)
            self.nodelist(node.nodelist_true, scope)
            self.nodelist(node.nodelist_false, scope)
        elif isinstance(node, SpacelessNode | AutoEscapeControlNode):
            self.nodelist(node.nodelist, scope)


def check_source(source: str, variables: dict[str, Any]) -> list[str]:
    """Problems of one template source: syntax, forbidden tags, unknown variables, methods,
    absurd filter arguments and loops (with lines)."""
    errors = []
    for match in _HANDLEBARS_WITH_SPACES.finditer(source):
        line = source.count("\n", 0, match.start()) + 1
        suggestion = re.sub(r"[ \-]+", "_", match.group(1))
        errors.append(
            _(
                "Zeile %(line)s: Platzhalter „%(placeholder)s“ darf keine Leerzeichen oder "
                "Bindestriche enthalten – bitte %(suggestion)s schreiben."
            )
            % {"line": line, "placeholder": match.group(0), "suggestion": f"{{{{{suggestion}}}}}"}
        )
    if errors:
        return errors
    try:
        template = Template(source, engine=CHECK_ENGINE)
    except TemplateSyntaxError as exc:
        info = getattr(exc, "template_debug", None)
        if info:
            return [
                _("Zeile %(line)s: Syntaxfehler: %(error)s") % {"line": info["line"], "error": exc}
            ]
        return [_("Syntaxfehler: %(error)s") % {"error": exc}]
    checker = _Checker(variables)
    checker.nodelist(template.nodelist, dict(variables))
    return checker.errors


def render_error_message(exc: BaseException, *, prefix: str = "") -> str:
    """A render failure as the admin shows it: the line and what went wrong (German)."""
    if isinstance(exc, SandboxError):
        message = exc.message
    elif isinstance(exc, TemplateRenderError):
        message = str(exc)
    else:
        message = f"{type(exc).__name__}: {exc}"
    if prefix:
        message = f"{prefix}: {message}"
    line = error_line(exc)
    return (
        _("Zeile %(line)s: %(message)s") % {"line": line, "message": message} if line else message
    )


def sample_render(source: str, sample: StrictDict, *, html: bool) -> tuple[str, list[str]]:
    """Render one source with the event type's example values: (output, problems)."""
    try:
        return render_source(compile_source(source, html=html), sample, autoescape=html), []
    except Exception as exc:  # whatever fails here would fail every dispatch
        return "", [render_error_message(exc, prefix=_("Mit den Beispielwerten nicht darstellbar"))]


def validate_content(content: dict, *, event_type: str, channel: str) -> dict[str, list[str]]:
    """Errors per field for a version's content; empty when it may be saved.

    Each field is checked statically (syntax, tags, variables, filter arguments, loops) and
    then rendered with the event type's example values, so that a template that cannot
    render (or exceeds the render limits) is refused here rather than failing every dispatch.
    """
    event = EVENT_TYPES.get(event_type)
    if event is None:
        return {"subject": [_("Unbekannter Ereignistyp „%(key)s“.") % {"key": event_type}]}
    variables = event.variables
    sample = plain(variables)
    errors: dict[str, list[str]] = {}
    samples: dict[str, str] = {}
    for field in TEMPLATE_FIELDS:
        source = content.get(field) or ""
        if source:
            problems = check_source(source, variables)
            if not problems:
                samples[field], problems = sample_render(
                    source, sample, html=is_html_field(field, source)
                )
            if problems:
                errors[field] = problems
    params = content.get("whatsapp_params") or []
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        errors["whatsapp_params"] = [_("Bitte eine Liste von Texten angeben.")]
    else:
        for i, param in enumerate(params, start=1):
            problems = check_source(param, variables)
            if not problems:
                _output, problems = sample_render(param, sample, html=False)
            for problem in problems:
                errors.setdefault("whatsapp_params", []).append(f"{{{{{i}}}}}: {problem}")
    code = content.get("whatsapp_language") or ""
    if code and not _WHATSAPP_LANGUAGE.fullmatch(code):
        errors["whatsapp_language"] = [
            _("Kein Sprachcode von Meta (z. B. de, en_US, pt_BR): %(code)s") % {"code": code}
        ]
    if channel == "whatsapp" and "whatsapp_params" not in errors and "text" not in errors:
        problem = whatsapp_params_problem(content.get("text") or "", params)
        if problem:
            errors["whatsapp_params"] = [problem]
    for field in REQUIRED_BY_CHANNEL.get(channel, ()):
        if not (content.get(field) or "").strip():
            errors.setdefault(field, []).append(
                _("%(field)s ist für diesen Kanal erforderlich.") % {"field": FIELD_LABELS[field]}
            )
    if channel == "email" and not (content.get("text") or content.get("html")):
        errors.setdefault("text", []).append(_("Bitte Text oder HTML angeben."))
    if channel == "sms" and "sms_text" not in errors and content.get("sms_text"):
        problem = sms_limit_error(samples["sms_text"].strip())
        if problem:
            errors["sms_text"] = [_("%(problem)s (mit den Beispielwerten)") % {"problem": problem}]
    return errors


_PLACEHOLDER = re.compile(r"{{\s*(.*?)\s*}}", re.S)
# Meta's template language codes: a language, optionally its region (de, en_US, zh_HK)
_WHATSAPP_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")


def whatsapp_params_problem(text: str, params: list[str]) -> str:
    """Why a WhatsApp template's parameters do not fit its text ("" when they do).

    The text is the approved template as the thread shows it; each of its distinct
    placeholders, in the order they first appear, is one of Meta's {{1}}, {{2}} ..., and
    the parameters must name the same placeholders in the same order. A template without
    text is not compared."""
    if not text.strip():
        return ""
    found = list(dict.fromkeys(" ".join(m.group(1).split()) for m in _PLACEHOLDER.finditer(text)))
    given = []
    for param in params:
        match = _PLACEHOLDER.fullmatch(param.strip())
        given.append(" ".join((match.group(1) if match else param).split()))
    if len(found) != len(given):
        return _(
            "Der Text hat %(found)d Platzhalter, die Vorlage %(given)d Parameter; die Zahl "
            "muss übereinstimmen (je Platzhalter ein Parameter, in der Reihenfolge {{1}}, {{2}} …)."
        ) % {"found": len(found), "given": len(given)}
    for index, (want, have) in enumerate(zip(found, given, strict=True), start=1):
        if want != have:
            return _(
                "Parameter {{%(n)d}} ist „%(have)s“, an dieser Stelle steht im Text „%(want)s“."
            ) % {"n": index, "have": have, "want": want}
    return ""


# --- rendering --------------------------------------------------------------------------


@dataclass
class RenderedMessage:
    template: Any
    version: Any
    variant: Any
    subject: str
    text: str
    html: str
    sms_text: str
    sms_segments: SmsInfo | None
    whatsapp: tuple[str, str, list[str]] | None
    letter_pdf: bytes | None
    # an email's text without the layout around it (what the reply composer offers)
    body_text: str = ""


_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
_BLOCK_END = re.compile(r"</(p|div|h[1-6]|li|tr|table|ul|ol)>|<br\s*/?>", re.I)


_LINK = re.compile(r'<a\s[^>]*href="([^"]+)"[^>]*>(.*?)</a>', re.I | re.S)
_TAG = re.compile(r"<[^>]*>")
# Runs of blanks become one space; a lone space is left alone (matching it is most of the cost).
_SPACES = re.compile(r"(?: [ \t\r\f\v]|[\t\r\f\v])[ \t\r\f\v]*")
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """A readable text alternative for an HTML body (links as "text (url)").

    The result is plain text (never shown as HTML), so stripping tags is enough here.
    """
    text = _TAG.sub("", _BLOCK_END.sub("\n", _LINK.sub(r"\2 (\1)", html)))
    text = _SPACES.sub(" ", unescape(text))
    lines = [line.strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def text_to_html(text: str) -> str:
    """Paragraphs and links from plain text (escaped)."""
    return linebreaks(urlize(text, autoescape=True), autoescape=False)


def common_context(
    *,
    customer: CustomerData | None,
    brand: BrandData,
    language: str,
    links: dict[str, str] | None = None,
    today=None,
) -> dict[str, Any]:
    from django.utils import timezone

    from templates_app.plain import SAMPLE_CUSTOMER

    customer = customer or SAMPLE_CUSTOMER
    links = links or {}
    sender = {
        "de": f"Ihr Team von {brand['name']}",
        "en": f"Your {brand['name']} team",
        "nl": f"Het team van {brand['name']}",
    }.get(language, brand["name"])
    context = {
        "customer": customer,
        "customer_name": customer["name"],
        "brand": brand,
        "business_entity_name": brand["name"],
        "sender_name": sender,
        "unsubscribe_link": links.get("unsubscribe", ""),
        "preferences_link": links.get("preferences", ""),
        "language": language,
        "today": today or timezone.localdate(),
    }
    # the messenger invite: the sender's tracked link, else (previews) the address itself;
    # a brand without WhatsApp number has none (a template using it stops: Variable fehlt)
    whatsapp = links.get("whatsapp") or _whatsapp_link(brand, language, customer)
    if whatsapp:
        context["whatsapp_link"] = whatsapp
    return context


def _whatsapp_link(brand: BrandData, language: str, customer: CustomerData) -> str:
    from templates_app.invites import click_to_chat_url, invite_text

    text = invite_text(
        language=language, brand_name=brand["name"], reference=customer.get("number") or ""
    )
    return click_to_chat_url(brand.get("whatsapp") or "", text)


def render_version(
    version,
    *,
    channel: str,
    language: str,
    context: dict[str, Any],
    brand: BrandData,
    with_pdf: bool = True,
) -> dict[str, Any]:
    """Render every field the channel needs from one version with a plain, strict context.

    All fields share one render budget (templates_app.sandbox): a message that takes too
    many steps, too long or too much output raises RenderLimitExceeded.
    """
    with render_budget():
        return _render_version(
            version, channel=channel, language=language, context=context, brand=brand,
            with_pdf=with_pdf,
        )  # fmt: skip


def _render_version(version, *, channel, language, context, brand, with_pdf) -> dict[str, Any]:
    ctx = plain(context)
    if not isinstance(ctx, StrictDict):
        raise TypeError("context must be a dict")
    out: dict[str, Any] = {
        "subject": "",
        "text": "",
        "html": "",
        "sms_text": "",
        "sms_segments": None,
        "whatsapp": None,
        "letter_pdf": None,
        "body_text": "",
    }
    if version.subject:
        out["subject"] = " ".join(
            render_source(compiled(version, "subject"), ctx, autoescape=False).split()
        )
    if version.text:
        out["text"] = render_source(compiled(version, "text"), ctx, autoescape=False).strip()
    if channel == "email":
        if version.html:
            body = render_source(compiled(version, "html"), ctx, autoescape=True)
        else:
            body = text_to_html(out["text"])
        if not out["text"]:
            out["text"] = html_to_text(body)
        out["body_text"] = out["text"]
        out["text"], out["html"] = email_layout(
            body_html=body,
            body_text=out["text"],
            subject=out["subject"],
            brand=brand,
            language=language,
            unsubscribe_url=ctx["unsubscribe_link"],
            preference_url=ctx["preferences_link"],
        )
    elif channel == "sms":
        sms = " ".join(
            line.strip()
            for line in render_source(
                compiled(version, "sms_text"), ctx, autoescape=False
            ).splitlines()
            if line.strip()
        )
        out["sms_text"] = sms
        out["sms_segments"] = sms_info(sms)
    elif channel == "whatsapp":
        params = [
            " ".join(render_source(compile_source(p, html=False), ctx, autoescape=False).split())
            for p in version.whatsapp_params
        ]
        # the approved translation's code, else our template's language
        out["whatsapp"] = (version.whatsapp_name, version.whatsapp_language or language, params)
    elif channel == "letter":
        if is_html_field("letter_body", version.letter_body):
            body = render_source(compiled(version, "letter_body"), ctx, autoescape=True)
        else:
            body = text_to_html(
                render_source(compiled(version, "letter_body"), ctx, autoescape=False).strip()
            )
        if not out["text"]:
            out["text"] = html_to_text(body)
        if with_pdf:
            from templates_app.letters import Letter, render_letter

            out["letter_pdf"] = render_letter(
                Letter(
                    brand=brand,
                    customer=ctx["customer"],
                    subject=out["subject"],
                    body_html=body,
                    date=ctx["today"],
                    language=language,
                    reference=_letter_reference(ctx),
                )
            )
    return out


def _letter_reference(ctx) -> list[tuple[str, str]]:
    labels = {
        "invoice_number": "Rechnungsnr.",
        "order_number": "Auftragsnr.",
        "quote_number": "Angebotsnr.",
        "ticket_number": "Vorgang",
    }
    return [(label, str(dict.get(ctx, key))) for key, label in labels.items() if dict.get(ctx, key)]


# Styles for the message body; inlined into the body fragment on its own (css-inline's
# inline_fragment) so the brand layout around it is rendered and inlined once per brand.
BODY_CSS = """
p { margin: 0 0 14px; }
h1 { font-size: 22px; margin: 0 0 14px; }
h2 { font-size: 18px; margin: 18px 0 8px; }
a { color: %(color)s; }
table { border-collapse: collapse; width: 100%%; }
td, th { padding: 4px 6px; border-bottom: 1px solid #e3e5e8; text-align: left; }
.button { display: inline-block; background: %(color)s; color: #ffffff; padding: 10px 18px;
          border-radius: 4px; text-decoration: none; }
"""
_TOKENS = {
    "body": "KKBODYb7e1",
    "subject": "KKSUBJECTb7e1",
    "unsubscribe_url": "KKUNSUBb7e1",
    "preference_url": "KKPREFSb7e1",
}
_LAYOUTS: dict[tuple, tuple[str, str]] = {}
_DOCUMENT_BODY = re.compile(r"<body\b[^>]*>(.*)</body>", re.IGNORECASE | re.DOTALL)


def _layout(
    brand: BrandData, language: str, unsubscribe: bool, preferences: bool
) -> tuple[str, str]:
    """The brand layout, HTML (CSS inlined) and text, with tokens where the message
    parts go (cached per brand, language and which links there are)."""
    key = (tuple(sorted(brand.items())), language, unsubscribe, preferences)
    layout = _LAYOUTS.get(key)
    if layout is None:
        context = {
            "body": mark_safe(_TOKENS["body"]),
            "subject": _TOKENS["subject"],
            "brand": brand,
            "language": language,
            "unsubscribe_url": _TOKENS["unsubscribe_url"] if unsubscribe else "",
            "preference_url": _TOKENS["preference_url"] if preferences else "",
        }
        html = get_template("templates_app/email_layout.html").render(context)
        text = get_template("templates_app/email_layout.txt").render(context)
        if len(_LAYOUTS) > 256:
            _LAYOUTS.clear()
        layout = _LAYOUTS[key] = (_INLINER.inline(html), text)
    return layout


def email_layout(
    *,
    body_html: str,
    body_text: str,
    subject: str,
    brand: BrandData,
    language: str,
    unsubscribe_url: str = "",
    preference_url: str = "",
) -> tuple[str, str]:
    """(text, html) of an email: the body inside the brand layout, the one owner of the
    footer (imprint, unsubscribe and preference links, in the message's language) for
    every email, from a template or written by staff. CSS is inlined for mail clients;
    the text ends with one signature separator ("-- ", RFC 3676) and the same footer."""
    html_layout, text_layout = _layout(brand, language, bool(unsubscribe_url), bool(preference_url))
    document = _DOCUMENT_BODY.search(body_html)
    if document is not None:  # a whole document written elsewhere: its body goes in
        body_html = document.group(1)
    body = _INLINER.inline_fragment(body_html, BODY_CSS % {"color": brand["color"]})
    html = (
        html_layout.replace(_TOKENS["subject"], escape(subject))
        .replace(_TOKENS["unsubscribe_url"], escape(unsubscribe_url))
        .replace(_TOKENS["preference_url"], escape(preference_url))
        .replace(_TOKENS["body"], body)
    )
    text = (
        text_layout.replace(_TOKENS["unsubscribe_url"], unsubscribe_url)
        .replace(_TOKENS["preference_url"], preference_url)
        .replace(_TOKENS["body"], body_text.strip())
    )
    return text, html


# --- resolution and A/B variants ---------------------------------------------------------


def resolve_template(*, key: str, channel: str, brand, language: str):
    """The template to use, in this order: brand + language, default + language,
    brand + the brand's default language, default + German."""
    from templates_app.models import MessageTemplate

    brand_language = brand.default_language if brand is not None else "de"
    order = [(brand, language), (None, language), (brand, brand_language), (None, "de")]
    candidates = {
        (t.brand_id, t.language): t
        for t in MessageTemplate.objects.for_key(key, channel)
        .filter(language__in={language, brand_language, "de"})
        .prefetch_related("variants")
    }
    for candidate_brand, candidate_language in order:
        brand_id = candidate_brand.pk if candidate_brand is not None else None
        template = candidates.get((brand_id, candidate_language))
        if template is not None and template.active_variants():
            return template
    raise TemplateNotFound(
        f"Keine Vorlage „{key}“ für Kanal {channel} (Sprache {language}, Marke {brand})."
    )


def choose_variant(variants: list, *, template_id: int, seed: str):
    """A stable choice: the same (template, customer) always lands on the same variant.

    The hash maps the seed into [0, total weight) and the cumulative weights pick the variant,
    so each variant gets its share of customers.
    """
    total = sum(v.weight for v in variants)
    digest = hashlib.sha256(f"{template_id}:{seed}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for variant in variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return variants[-1]


def render_message(
    *,
    key: str,
    channel: str,
    customer: CustomerData | None,
    brand,
    language: str,
    context: dict[str, Any],
    variant_seed: str | None = None,
    links: dict[str, str] | None = None,
) -> RenderedMessage:
    """Render the template for key/channel for one customer of a brand.

    ``context`` is the event's plain data (see kommunikation.events.catalogue.build_context); customer
    and brand variables are added here. Raises TemplateNotFound, or MissingVariable naming the
    variable a template needs and the context lacks: the caller marks the message failed.
    """
    template = resolve_template(key=key, channel=channel, brand=brand, language=language)
    variants = sorted(template.active_variants(), key=lambda v: v.name)
    seed = variant_seed or (str(customer["id"]) if customer and customer.get("id") else "")
    variant = choose_variant(variants, template_id=template.pk, seed=seed)
    version = variant.active_version
    if version is None:
        raise TemplateNotFound(f"Variante {variant} hat keine Version.")
    brand_plain = brand_data(brand)
    full = {
        **common_context(
            customer=customer, brand=brand_plain, language=template.language, links=links
        ),
        **context,
    }
    out = render_version(
        version, channel=channel, language=template.language, context=full, brand=brand_plain
    )
    return RenderedMessage(template=template, version=version, variant=variant, **out)
