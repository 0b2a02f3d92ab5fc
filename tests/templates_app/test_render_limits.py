"""Templates cannot hurt a worker: bounded rendering, bounded filters, values only.

Each attack is refused when the template is saved (model validation and the admin form,
with its line), stopped when a template that got into the database anyway is rendered
(with a clear German error), and a dispatch of such a message fails with the reason on its
outbox row instead of being sent or retried.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from kommunikation.dispatch import dispatch_batch
from kommunikation.models import OutboundMessage, OutboundStatus
from kommunikation.outbox import enqueue_outbound
from templates_app.events import EVENT_TYPES, MissingVariable, build_context, plain
from templates_app.models import MessageTemplate, TemplateVariant, TemplateVersion
from templates_app.rendering import compile_source, render_message, render_source
from templates_app.sandbox import ForbiddenLookup, RenderLimitExceeded, SandboxError
from tests.factories import CustomerFactory, UserFactory
from tests.templates_app.test_admin import form_data

pytestmark = pytest.mark.django_db

LONG = '"' + "x" * 200 + '"'
# three nested loops over string literals: 8 million iterations (5.8 s a request before)
NESTED_LOOPS = (
    "Hallo\n"
    f"{{% for a in {LONG} %}}{{% for b in {LONG} %}}{{% for c in {LONG} %}}"
    "x{% endfor %}{% endfor %}{% endfor %}"
)
ORDER = EVENT_TYPES["order.created"]


def refused(**content) -> dict[str, list[str]]:
    """The errors of saving a template version with this content (order.created, email)."""
    from tests.templates_app.conftest import make_template

    content.setdefault("subject", "Ihre Bestellung")
    versions = TemplateVersion.objects.count()
    with pytest.raises(ValidationError) as exc:
        make_template(key=f"refused-{MessageTemplate.objects.count()}", **content)
    assert TemplateVersion.objects.count() == versions
    return exc.value.message_dict


def render(source: str, variables: dict | None = None, *, html: bool = False) -> str:
    data = plain(variables if variables is not None else ORDER.variables)
    return render_source(compile_source(source, html=html), data, autoescape=html)


def saved_without_checks(*, key: str, event_type: str = "order.created", **content):
    """A version that got into the database without validation (as saved before these
    checks existed): TemplateVersion.save() itself does not validate."""
    template = MessageTemplate.objects.create(
        key=key, channel="email", language="de", event_type=event_type, category="transactional"
    )
    variant = TemplateVariant.objects.create(template=template, name="A")
    TemplateVersion(variant=variant, number=1, subject="Betreff", **content).save()
    return template


# --- bounded rendering ------------------------------------------------------------------


def test_nested_loops_over_literals_are_refused_at_save_with_the_line():
    errors = refused(text=NESTED_LOOPS)
    assert errors["text"] == [
        "Zeile 2: Diese Schleifen ergäben etwa 8000000 Durchläufe; erlaubt sind höchstens "
        "100000 Schritte je Nachricht."
    ]


def test_nested_loops_stop_at_the_step_budget_when_rendered():
    start = time.perf_counter()
    with pytest.raises(RenderLimitExceeded) as exc:
        render(NESTED_LOOPS)
    assert time.perf_counter() - start < 2  # not 5.8 s, let alone 8 million iterations
    assert str(exc.value) == (
        "Zeile 2: Darstellung abgebrochen: Die Vorlage braucht mehr als 100000 Schritte "
        "(zu große oder zu tief verschachtelte Schleifen)."
    )


def test_loops_over_data_that_exceed_the_budget_are_refused_with_the_example_values(settings):
    # loops over the brand's imprint and the customer's name: about 10,000 iterations,
    # fine statically, but with four nodes each too many steps for the example values
    settings.TEMPLATE_RENDER_MAX_STEPS = 20_000
    source = (
        "Hallo\n{% for a in brand.imprint %}{% for b in customer.name %}{% for c in "
        "customer.name %}{{ a }}{{ b }}{{ c }}{% endfor %}{% endfor %}{% endfor %}"
    )
    errors = refused(text=source)
    assert errors["text"] == [
        "Zeile 2: Mit den Beispielwerten nicht darstellbar: Darstellung abgebrochen: Die "
        "Vorlage braucht mehr als 20000 Schritte (zu große oder zu tief verschachtelte Schleifen)."
    ]


def test_loops_may_be_nested_only_so_deep():
    loop = "{% for a in items %}"
    errors = refused(text="Hallo\n" + loop * 4 + "x" + "{% endfor %}" * 4)
    assert errors["text"] == ["Zeile 2: Schleifen dürfen höchstens 3-fach verschachtelt sein."]


def test_rendering_stops_at_the_time_limit(settings):
    settings.TEMPLATE_RENDER_MAX_STEPS = 10**12
    settings.TEMPLATE_RENDER_TIMEOUT_MS = 50
    start = time.perf_counter()
    with pytest.raises(RenderLimitExceeded, match="länger als 50 ms"):
        render(NESTED_LOOPS)
    assert time.perf_counter() - start < 2


def test_output_beyond_the_limit_stops_rendering(settings):
    settings.TEMPLATE_RENDER_MAX_OUTPUT = 10_000
    articles = [{"title": "T" * 100, "summary": "", "link": ""}] * 1000  # 100,000 characters
    variables = {**EVENT_TYPES["newsletter"].variables, "articles": articles}
    with pytest.raises(RenderLimitExceeded) as exc:
        render("{% for a in articles %}{{ a.title }}{% endfor %}", variables)
    assert str(exc.value) == (
        "Zeile 1: Darstellung abgebrochen: Die Ausgabe wäre länger als 10000 Zeichen."
    )
    # within the limit the same loop renders as before
    assert render("{% for a in articles %}{{ a.title }}{% endfor %}", {
        **variables, "articles": articles[:99]
    }) == "T" * 9900  # fmt: skip


# --- filter arguments -------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        '"x"|ljust:"50000000"',
        '"x"|rjust:"50000000"',
        '"x"|center:"50000000"',
        'customer_name|truncatechars:"99999999"',
        'customer_name|truncatewords:"99999999"',
        'customer_name|truncatewords_html:"99999999"',
        'customer_name|wordwrap:"99999999"',
        'order_total|floatformat:"-50000000"',
        'order_number|stringformat:"050000000s"',
        'order_link|urlizetrunc:"99999999"',
    ],
)
def test_absurd_filter_arguments_are_refused_at_save_and_when_rendered(expression):
    name = expression.split("|")[1].split(":")[0]
    errors = refused(text="Hallo\n{{ " + expression + " }}")
    assert len(errors["text"]) == 1
    assert errors["text"][0].startswith(f"Zeile 2: Filter „{name}“: ")
    assert errors["text"][0].endswith(" ist zu groß (höchstens 1000).")

    with pytest.raises(RenderLimitExceeded, match=f"Zeile 2: Filter „{name}“"):
        render("Hallo\n{{ " + expression + " }}")


def test_a_width_from_a_variable_is_checked_when_rendered():
    variables = {**ORDER.variables, "order_status_friendly": "50000000"}
    with pytest.raises(RenderLimitExceeded, match="„ljust“: 50000000 ist zu groß"):
        render("{{ customer_name|ljust:order_status_friendly }}", variables)


def test_string_multiplication_through_make_list_and_join_is_bounded(settings):
    settings.TEMPLATE_RENDER_MAX_OUTPUT = 10_000
    separator = "y" * 500
    source = "Hallo\n{{ brand.imprint|make_list|join:'" + separator + "' }}"
    assert refused(text=source)["text"] == [
        "Zeile 2: Mit den Beispielwerten nicht darstellbar: Darstellung abgebrochen: Die "
        "Ausgabe wäre länger als 10000 Zeichen."
    ]
    with pytest.raises(RenderLimitExceeded, match="Ausgabe wäre länger als 10000 Zeichen"):
        render(source)
    long_separator = "Hallo {{ items|join:'" + "y" * 1001 + "' }}"
    assert refused(text=long_separator)["text"] == [
        "Zeile 1: Filter „join“: Das Trennzeichen ist länger als 1000 Zeichen."
    ]


def test_a_limit_hit_inside_an_if_condition_is_not_swallowed():
    # Django's {% if a == b %} swallows every exception of its operands
    with pytest.raises(RenderLimitExceeded, match="„ljust“"):
        render("{% if customer_name|ljust:'50000000' == 'x' %}ja{% endif %}")


# --- templates that can never render ----------------------------------------------------


def test_unpacking_items_that_are_no_pairs_is_refused_with_the_line():
    errors = refused(text="Hallo\n\n{% for name, price in items %}{{ name }}{% endfor %}")
    assert errors["text"] == [
        "Zeile 3: Die Schleife über „items“ verteilt jedes Element auf 2 Variablen "
        "(name, price); das geht nur, wenn jedes Element eine Liste mit 2 Werten ist."
    ]
    with pytest.raises(SandboxError, match="Zeile 1: Die Schleife über „items“"):
        render("{% for name, price in items %}{{ name }}{% endfor %}")


def test_a_template_that_fails_with_the_example_values_is_refused_with_line_and_reason():
    errors = refused(text="Hallo\n{% for digit in order_total %}{{ digit }}{% endfor %}")
    assert errors["text"] == [
        "Zeile 2: Mit den Beispielwerten nicht darstellbar: TypeError: "
        "'decimal.Decimal' object is not iterable"
    ]


def test_every_field_and_whatsapp_parameter_is_rendered_with_the_example_values():
    errors = refused(
        subject="{% for a, b in customer.name %}{% endfor %}",
        html="<p>{% for x in order_date %}{{ x }}{% endfor %}</p>",
        text="ok",
    )
    assert errors["subject"][0].startswith("Zeile 1: Die Schleife über „customer.name“")
    assert errors["html"] == [
        "Zeile 1: Mit den Beispielwerten nicht darstellbar: TypeError: "
        "'datetime.date' object is not iterable"
    ]


# --- values only: nothing is called -----------------------------------------------------

METHOD_CALLS = [
    ("{{ items.pop }}", "items.pop"),
    ("{% for i in items %}{% for j in items %}{{ forloop.parentloop.clear }}"
     "{% endfor %}{% endfor %}", "forloop.parentloop.clear"),
    ("{% for i in items %}{{ forloop.clear }}{% endfor %}", "forloop.clear"),
    ("{{ customer_name.upper }}", "customer_name.upper"),
    ("{{ customer.items }}", "customer.items"),
    ("{% for key, value in customer.items %}{{ key }}{% endfor %}", "customer.items"),
    ("{% with name=customer.name %}{{ name.upper }}{% endwith %}", "name.upper"),
    ('{% with text="abc" %}{{ text.upper }}{% endwith %}', "text.upper"),
    ("{% if items.pop %}x{% endif %}", "items.pop"),
    ("{{ customer_name|default:items.pop }}", "items.pop"),
    ("{{ order_date.year }}", "order_date.year"),
]  # fmt: skip


@pytest.mark.parametrize(("source", "name"), METHOD_CALLS)
def test_methods_are_refused_at_save_with_the_line(source, name):
    errors = refused(text="Hallo\n" + source)
    assert errors["text"] == [
        f"Zeile 2: „{name}“: Vorlagen können keine Methoden aufrufen und keine Attribute "
        "lesen, nur Werte (Schlüssel und Listenpositionen)."
    ]


@pytest.mark.parametrize(("source", "name"), METHOD_CALLS)
def test_methods_are_never_called_when_rendering(source, name):
    data = plain(ORDER.variables)
    items = data["items"]
    before = [dict(item) for item in items]
    with pytest.raises(ForbiddenLookup) as exc:
        render_source(compile_source(source, html=False), data, autoescape=False)
    assert exc.value.name == name
    assert "Vorlagen können keine Methoden aufrufen" in str(exc.value)
    assert [dict(item) for item in items] == before  # nothing popped


def test_a_method_in_an_if_operand_is_not_called_either():
    # the operator swallows the refusal; what matters is that pop() never ran
    data = plain(ORDER.variables)
    out = render_source(
        compile_source("{% if items.pop == 1 %}ja{% else %}nein{% endif %}", html=False),
        data,
        autoescape=False,
    )
    assert out == "nein"
    assert len(data["items"]) == 2


def test_forloop_counters_and_parentloop_still_work():
    source = (
        "{% for a in items %}{% for b in items %}{{ forloop.parentloop.counter }}."
        "{{ forloop.counter }}{% if not forloop.last %},{% endif %}{% endfor %};{% endfor %}"
    )
    from tests.templates_app.conftest import make_template

    make_template(subject="x", text=source)  # valid
    assert render(source) == "1.1,1.2;2.1,2.2;"
    with pytest.raises(MissingVariable, match="forloop.parentloop.counter"):
        render("{% for a in items %}{{ forloop.parentloop.counter }}{% endfor %}")
    assert refused(text="{% for a in items %}{{ forloop.parentloop.counter }}{% endfor %}") == {
        "text": ["Zeile 1: Unbekannte Variable „forloop.parentloop.counter“."]
    }


# --- a template that got into the database anyway ---------------------------------------


def test_render_message_stops_a_stored_template_beyond_the_limits():
    saved_without_checks(key="bomb", text=NESTED_LOOPS)
    with pytest.raises(RenderLimitExceeded, match="Zeile 2: Darstellung abgebrochen"):
        render_message(
            key="bomb", channel="email", customer=None, brand=None, language="de",
            context=build_context("order.created", ORDER.example),
        )  # fmt: skip


@pytest.fixture
def email_customer(brand_a, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return CustomerFactory(brand=brand_a, first_name="Anna", email="anna@kunde.example")


def queue(customer, key: str, context: dict) -> OutboundMessage:
    return enqueue_outbound(
        brand=customer.brand, customer=customer, channels="email", category="transactional",
        idempotency_key=f"{key}:1", source="rule", template_key=key, context=context,
    )  # fmt: skip


def test_dispatch_fails_a_row_whose_template_exceeds_the_limits_with_the_reason(email_customer):
    saved_without_checks(key="bomb", event_type="conversation", text=NESTED_LOOPS)
    row = queue(email_customer, "bomb", {"phone": ""})

    start = time.perf_counter()
    result = dispatch_batch()
    assert time.perf_counter() - start < 5

    row.refresh_from_db()
    assert (result.failed, row.status) == (1, OutboundStatus.FAILED)
    assert row.last_error == (
        "Vorlage bomb nicht darstellbar: RenderLimitExceeded: Zeile 2: Darstellung "
        "abgebrochen: Die Vorlage braucht mehr als 100000 Schritte (zu große oder zu tief "
        "verschachtelte Schleifen)."
    )
    assert mail.outbox == []
    # failed for good: not claimed again, however much later
    assert dispatch_batch(now=timezone.now() + dt.timedelta(days=2)).claimed == 0


def test_dispatch_fails_a_valid_template_whose_data_makes_it_too_large(email_customer, settings):
    settings.TEMPLATE_RENDER_MAX_OUTPUT = 50_000
    from tests.templates_app.conftest import make_template

    make_template(
        key="news", event_type="newsletter", subject="{{ headline }}",
        text="{% for a in articles %}{{ a.title }}\n{% endfor %}",
    )  # fmt: skip
    articles = [{"title": "T" * 100, "summary": "", "link": ""}] * 1000
    row = queue(email_customer, "news", {"headline": "Juni", "intro": "", "articles": articles})

    dispatch_batch()

    row.refresh_from_db()
    assert row.status == OutboundStatus.FAILED
    assert row.last_error.endswith(
        "Darstellung abgebrochen: Die Ausgabe wäre länger als 50000 Zeichen."
    )
    assert mail.outbox == []


# --- the admin --------------------------------------------------------------------------


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada.admin", is_superuser=True)


def test_the_admin_form_shows_the_limit_with_its_line_and_saves_nothing(client, admin_user):
    from tests.templates_app.conftest import make_template

    template = make_template(subject="alt", text="alt")
    client.force_login(admin_user)
    url = reverse("admin:templates_app_messagetemplate_change", args=[template.pk])

    response = client.post(url, form_data(template, text=NESTED_LOOPS))
    assert response.status_code == 200
    assert "Zeile 2: Diese Schleifen ergäben etwa 8000000 Durchläufe" in response.content.decode()

    response = client.post(url, form_data(template, text="a\n{{ items.pop }}"))
    assert response.status_code == 200
    assert "Zeile 2: „items.pop“: Vorlagen können keine Methoden aufrufen" in (
        response.content.decode()
    )
    assert TemplateVersion.objects.filter(variant__template=template).count() == 1


def test_the_preview_shows_the_limit_instead_of_rendering(client, admin_user, settings):
    from tests.templates_app.conftest import make_template

    settings.TEMPLATE_RENDER_MAX_OUTPUT = 10_000
    template = make_template(subject="alt", text="alt")
    client.force_login(admin_user)
    text = "Hallo\n{{ brand.imprint|make_list|join:'" + "y" * 500 + "' }}"
    response = client.post(
        reverse("admin:templates_app_preview"),
        form_data(template, object_id=str(template.pk), text=text),
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Zeile 2: Mit den Beispielwerten nicht darstellbar: Darstellung abgebrochen" in body
    assert "y" * 500 not in body


def test_the_reply_picker_leaves_out_a_stored_template_beyond_the_limits(brand_a):
    from conversations.services import reply_templates
    from tests.factories import ConversationFactory

    saved_without_checks(key="bomb", event_type="conversation", text=NESTED_LOOPS)
    saved_without_checks(key="thanks", event_type="conversation", text="Vielen Dank!")
    conversation = ConversationFactory(brand=brand_a, customer=None)

    assert [(key, text) for key, _label, text in reply_templates(conversation)] == [
        ("thanks", "Vielen Dank!")
    ]
