"""The compiled templates render exactly like Django's own nodes, only faster."""

from __future__ import annotations

import pytest
import yaml
from django.template import Template
from django.test import override_settings

from templates_app.events import EVENT_TYPES, MissingVariable, plain
from templates_app.loading import LIBRARY_DIR
from templates_app.rendering import (
    HTML_ENGINE,
    TEXT_ENGINE,
    StrictContext,
    _FastVariableNode,
    compile_source,
)

EDGE_CASES = [
    "{{ order_total }} {{ items.0.price }} {{ order_date }} {{ today }} {{ customer.is_company }}",
    "{% for item in items %}{{ forloop.counter }}. {{ item.name }} x{{ item.quantity }}{% endfor %}",
    "{{ customer_name|upper }} {{ customer_name|default:'x' }} {{ order_total|floatformat:2 }}",
    "{{ customer_name|safe }} {{ customer_name|escape }} {{ customer_name|add:sender_name }}",
    "{% filter upper %}{{ customer_name }}{% endfilter %} {{ 'lit<' }} {{ 42 }} {{ _('Hallo') }}",
    "{{ customer.name }} {{ items }} {{ customer }} {{ order_date|date:'Y' }}",
    '{{ customer|salutation:"en" }} {{ order_total|money:customer.language }} {{ brand.color }}',
    "{% autoescape off %}{{ customer_name }}{% endautoescape %} {{ customer_name|linebreaksbr }}",
]


def library_sources():
    for path in sorted(LIBRARY_DIR.glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["templates"]:
            for language, content in entry["content"].items():
                for field, source in content.items():
                    sources = source if isinstance(source, list) else [source]
                    for i, text in enumerate(sources):
                        if isinstance(text, str) and "{" in text:
                            yield f"{entry['key']}/{language}/{field}/{i}", entry["event"], text


def both(source: str, variables: dict, *, html: bool):
    fast = compile_source(source, html=html)
    django = Template(source, engine=HTML_ENGINE if html else TEXT_ENGINE)
    assert not any(isinstance(n, _FastVariableNode) for n in django.nodelist)
    results = []
    for template in (fast, django):
        try:
            results.append(template.render(StrictContext(plain(variables), autoescape=html)))
        except MissingVariable as exc:
            results.append(("missing", exc.name))
    return results


@pytest.mark.parametrize("html", [True, False])
def test_library_templates_render_as_with_djangos_nodes(html):
    checked = 0
    for name, event, source in library_sources():
        variables = {
            **EVENT_TYPES[event].variables,
            "customer_name": "<Tom & Jerry>",
            "sender_name": 'Ihr "Team"',
        }
        fast, django = both(source, variables, html=html)
        assert fast == django, name
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("source", EDGE_CASES)
@pytest.mark.parametrize("html", [True, False])
def test_edge_cases_render_as_with_djangos_nodes(source, html):
    variables = {**EVENT_TYPES["order.created"].variables, "customer_name": "<b>Tom</b>\nX"}
    fast, django = both(source, variables, html=html)
    assert fast == django


def test_whole_numbers_follow_the_thousand_separator_setting():
    assert both("{{ n }}", {"n": 12345}, html=True) == ["12345", "12345"]
    with override_settings(USE_THOUSAND_SEPARATOR=True):
        assert both("{{ n }}", {"n": 12345}, html=True) == ["12.345", "12.345"]


def test_missing_variables_raise_the_same_error():
    variables = EVENT_TYPES["order.created"].variables
    for source in ("{{ nope }}", "{{ customer.nope }}", "{{ order_total|money:nope }}"):
        fast, django = both(source, variables, html=True)
        assert fast == django and fast[0] == "missing"


def test_the_text_alternative_collapses_blanks_and_blank_lines():
    from templates_app.rendering import html_to_text

    html = (
        "<p>Hallo \t Anna,</p>\n\n\n<p>a b\r\nc&nbsp;d &amp; e</p><br><br><br>"
        '<p><a class="button" href="https://x.example/o/1">Bestellung  ansehen</a></p>'
    )
    assert html_to_text(html) == (
        "Hallo Anna,\n\na b\nc\xa0d & e\n\nBestellung ansehen (https://x.example/o/1)"
    )
