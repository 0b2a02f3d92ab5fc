from __future__ import annotations

import pytest

from templates_app.models import MessageTemplate, TemplateVariant, create_version


def make_template(
    *,
    key="order_confirmation",
    channel="email",
    language="de",
    brand=None,
    event_type="order.created",
    category="transactional",
    variants=None,
    **content,
):
    """A template with variants {name: (weight, content)}; by default one variant A with content."""
    template = MessageTemplate.objects.create(
        key=key,
        channel=channel,
        language=language,
        brand=brand,
        event_type=event_type,
        category=category,
    )
    for name, (weight, variant_content) in (variants or {"A": (100, content)}).items():
        variant = TemplateVariant.objects.create(template=template, name=name, weight=weight)
        create_version(variant=variant, content=variant_content)
    return template


@pytest.fixture
def template_factory(db):
    return make_template
