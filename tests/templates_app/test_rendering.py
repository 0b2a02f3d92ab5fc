from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from templates_app.events import EVENT_TYPES, MissingVariable, NotPlainData, build_context
from templates_app.rendering import TemplateNotFound, render_message
from tests.factories import BrandFactory, CustomerFactory

pytestmark = pytest.mark.django_db

ORDER = build_context("order.created", EVENT_TYPES["order.created"].example)
CUSTOMER = {
    "id": 7,
    "number": "K-7",
    "name": "Anna Müller",
    "first_name": "Anna",
    "last_name": "Müller",
    "title": "",
    "gender": "f",
    "company": "",
    "is_company": False,
    "informal": False,
    "language": "de",
    "street": "Hauptstraße 1",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
    "birthday": None,
    "customer_since": None,
}


def render(**kwargs):
    args = {
        "key": "order_confirmation",
        "channel": "email",
        "customer": CUSTOMER,
        "brand": None,
        "language": "de",
        "context": ORDER,
    }
    return render_message(**{**args, **kwargs})


def test_an_email_is_rendered_in_the_brand_layout_with_inlined_css(template_factory):
    brand = BrandFactory(
        name="LaderThuis", primary_color="#ff6600", imprint="LaderThuis B.V. · Amsterdam"
    )
    template_factory(
        subject="Bestellung {{ order_number }}",
        html='<p>{{ customer|salutation }},</p><p>Summe: {{ order_total|money }}</p><a class="button" href="{{ order_link }}">Ansehen</a>',
    )
    msg = render(
        brand=brand,
        links={"unsubscribe": "https://x.example/u/1", "preferences": "https://x.example/p/1"},
    )

    assert msg.subject == "Bestellung CC-2025-00123"
    assert "Sehr geehrte Frau Müller" in msg.html
    assert "1.234,56" in msg.html
    assert "<style" not in msg.html  # inlined
    assert 'style="' in msg.html and "#ff6600" in msg.html
    assert "https://x.example/u/1" in msg.html and "Abmelden" in msg.html
    assert "LaderThuis B.V. · Amsterdam" in msg.html
    assert msg.text.startswith("Sehr geehrte Frau Müller,")
    assert "Ansehen (https://example.org/auftrag/CC-2025-00123)" in msg.text
    assert "Abmelden: https://x.example/u/1" in msg.text


def test_html_is_escaped_in_values_but_text_is_not(template_factory):
    template_factory(subject="{{ customer_name }}", text="Hallo {{ customer_name }}")
    msg = render(customer={**CUSTOMER, "name": "<b>Tom & Jerry</b>"})
    assert msg.subject == "<b>Tom & Jerry</b>"
    assert "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;" in msg.html
    assert "Hallo <b>Tom & Jerry</b>" in msg.text


def test_handlebars_placeholders_from_seed_002_work_as_written(template_factory):
    template_factory(
        subject="Order {{order_number}}", text="Beste {{customer_name}},\n{{business_entity_name}}"
    )
    msg = render()
    assert msg.subject == "Order CC-2025-00123"
    assert msg.text.startswith("Beste Anna Müller,\nMusterfirma")


def test_resolution_order(template_factory):
    brand = BrandFactory(default_language="nl")
    template_factory(language="de", text="default de", subject="s")
    template_factory(language="nl", brand=brand, text="brand nl", subject="s")
    assert render(brand=brand, language="en").text.startswith("brand nl")
    template_factory(language="en", text="default en", subject="s")
    assert render(brand=brand, language="en").text.startswith("default en")
    template_factory(language="en", brand=brand, text="brand en", subject="s")
    msg = render(brand=brand, language="en")
    assert msg.text.startswith("brand en")
    assert (msg.template.brand, msg.template.language, msg.version.number, msg.variant.name) == (
        brand,
        "en",
        1,
        "A",
    )
    assert render(brand=BrandFactory(), language="fr").text.startswith("default de")


def test_a_missing_template_is_a_clear_error():
    with pytest.raises(TemplateNotFound, match="order_confirmation"):
        render()


def test_an_unknown_variable_is_refused_at_save_with_its_line(template_factory):
    with pytest.raises(ValidationError) as exc:
        template_factory(subject="x", text="Hallo\n{{ customer_name }}\n{{ ordr_number }}")
    assert "Zeile 3: Unbekannte Variable „ordr_number“." in exc.value.message_dict["text"]


def test_unknown_nested_variables_loops_and_tags_are_refused(template_factory):
    with pytest.raises(ValidationError) as exc:
        template_factory(
            subject="{{ customer.delete }}",
            html="{% for item in items %}{{ item.name }}{{ item.colour }}{% endfor %}{% include 'x.html' %}",
        )
    errors = exc.value.message_dict
    assert errors["subject"] == ["Zeile 1: Unbekannte Variable „customer.delete“."]
    assert "Zeile 1: Unbekannte Variable „item.colour“." in errors["html"]
    assert "Zeile 1: „{% include %}“ ist in Vorlagen nicht erlaubt." in errors["html"]


def test_placeholders_with_spaces_or_hyphens_are_refused_clearly(template_factory):
    with pytest.raises(ValidationError) as exc:
        template_factory(subject="x", text="Beste {{customer name}} {{order-number}}")
    assert "bitte {{customer_name}} schreiben" in str(exc.value)
    assert "bitte {{order_number}} schreiben" in str(exc.value)


def test_a_variable_missing_at_render_time_raises_naming_it(template_factory):
    template_factory(
        subject="Bestellung {{ order_number }}", text="{% if order_total > 10 %}teuer{% endif %}"
    )
    with pytest.raises(MissingVariable) as exc:
        render(context={k: v for k, v in ORDER.items() if k != "order_number"})
    assert exc.value.name == "order_number"
    # Django's {% if a > b %} swallows errors of its operands; we check before rendering.
    with pytest.raises(MissingVariable, match="order_total"):
        render(context={k: v for k, v in ORDER.items() if k != "order_total"})


def test_a_missing_nested_key_raises_too(template_factory):
    template_factory(subject="x", text="{{ customer.first_name }}")
    customer = {k: v for k, v in CUSTOMER.items() if k != "first_name"}
    with pytest.raises(MissingVariable) as exc:
        render(customer=customer)
    assert exc.value.name == "customer.first_name"


def test_templates_cannot_call_methods_because_the_context_is_plain_data(template_factory):
    customer = CustomerFactory()
    template_factory(subject="x", text="{{ order_number }}")
    with pytest.raises(NotPlainData, match="Customer is not plain data"):
        render(context={**ORDER, "order_number": customer})
    # a dict's own methods are not reachable either: keys only
    from templates_app.events import plain
    from templates_app.rendering import compile_source, render_source
    from templates_app.sandbox import ForbiddenLookup

    with pytest.raises(ForbiddenLookup, match="customer.items"):
        render_source(
            compile_source("{{ customer.items }}", html=False),
            plain({"customer": {}}),
            autoescape=False,
        )


def test_plain_data_refuses_objects_at_any_depth_and_names_the_path():
    from templates_app.events import StrictDict, plain

    class Tricky(str):
        pass

    data = plain({"customer": {"name": "Anna", "since": dt.date(2020, 1, 1)}, "n": 3})
    assert isinstance(data, StrictDict) and isinstance(data["customer"], StrictDict)
    assert data["customer"]["since"] == dt.date(2020, 1, 1)
    with pytest.raises(MissingVariable, match="customer.email"):
        data["customer"]["email"]
    assert plain({"label": Tricky("x")})["label"] == "x"  # str subclasses are still text
    for bad, path in [
        ({"customer": {"name": "Anna", "save": print}}, "customer.save"),
        ({"items": [{"price": object()}]}, "items.0.price"),
        ({"flat": "x", "set": {1, 2}}, "set"),
    ]:
        with pytest.raises(NotPlainData, match=path):
            plain(bad)
    with pytest.raises(NotPlainData, match="keys must be strings"):
        plain({"customer": {1: "x"}})


def test_builders_refuse_a_payload_without_a_declared_field():
    payload = dict(EVENT_TYPES["invoice.overdue"].example)
    del payload["due_date"]
    with pytest.raises(MissingVariable, match="due_date"):
        build_context("invoice.overdue", payload)


def test_sms_whatsapp_and_letter_channels(template_factory):
    context = build_context("appointment.scheduled", EVENT_TYPES["appointment.scheduled"].example)
    kw = {"event_type": "appointment.scheduled", "key": "appointment_confirmation"}
    template_factory(
        channel="sms",
        sms_text="{{ business_entity_name }}: Termin {{ date|datum:'short' }} um {{ time }} – €",
        **kw,
    )
    template_factory(
        channel="whatsapp",
        whatsapp_name="termin",
        whatsapp_params=["{{ date|datum }}", "{{ time }}"],
        **kw,
    )
    template_factory(
        channel="letter",
        subject="Termin",
        letter_body="{{ customer|salutation }},\n\nIhr Termin.",
        **kw,
    )

    args = {
        "key": "appointment_confirmation",
        "customer": CUSTOMER,
        "brand": None,
        "language": "de",
        "context": context,
    }
    sms = render_message(channel="sms", **args)
    assert sms.sms_text == "Musterfirma: Termin 24.06.2025 um 09:30 – €"
    assert (sms.sms_segments.encoding, sms.sms_segments.segments) == (
        "UCS-2",
        1,
    )  # the dash is not GSM
    whatsapp = render_message(channel="whatsapp", **args)
    assert whatsapp.whatsapp == ("termin", "de", ["24. Juni 2025", "09:30"])
    letter = render_message(channel="letter", **args)
    assert letter.letter_pdf.startswith(b"%PDF")
    assert "Sehr geehrte Frau Müller," in letter.text


def test_each_language_renders_its_own_words(template_factory):
    for language, word in [
        ("de", "Sehr geehrte Frau"),
        ("en", "Dear Ms"),
        ("nl", "Geachte mevrouw"),
    ]:
        template_factory(
            language=language, subject="x", text="{{ customer|salutation:'" + language + "' }}"
        )
        assert render(language=language).text.startswith(word)


def test_a_customer_always_gets_the_same_variant_and_weights_hold(template_factory):
    template = template_factory(
        variants={
            "A": (70, {"subject": "A", "text": "a"}),
            "B": (20, {"subject": "B", "text": "b"}),
            "C": (10, {"subject": "C", "text": "c"}),
        }
    )
    first = [render(customer={**CUSTOMER, "id": i}).variant.name for i in range(20)]
    again = [render(customer={**CUSTOMER, "id": i}).variant.name for i in range(20)]
    assert first == again
    assert render(variant_seed="abc").variant == render(variant_seed="abc").variant

    from templates_app.rendering import choose_variant

    variants = sorted(template.active_variants(), key=lambda v: v.name)
    counts = Counter(
        choose_variant(variants, template_id=template.pk, seed=str(i)).name for i in range(10_000)
    )
    expected = {"A": 7000, "B": 2000, "C": 1000}
    chi2 = sum((counts[k] - e) ** 2 / e for k, e in expected.items())
    assert chi2 < 13.8  # chi-square, 2 degrees of freedom, p = 0.001


def test_inactive_variants_are_not_chosen(template_factory):
    template = template_factory(
        variants={
            "A": (50, {"subject": "A", "text": "a"}),
            "B": (50, {"subject": "B", "text": "b"}),
        }
    )
    template.variants.filter(name="A").update(is_active=False)
    assert {render(customer={**CUSTOMER, "id": i}).variant.name for i in range(30)} == {"B"}


def test_dates_render_from_iso_strings_in_payloads():
    payload = {**EVENT_TYPES["payment.received"].example, "payment_date": "2025-07-01"}
    assert build_context("payment.received", payload)["payment_date"] == dt.date(2025, 7, 1)
