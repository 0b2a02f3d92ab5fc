"""The footer of every email has one owner, the brand layout: pinned in full, text and
HTML, for a marketing mail and for a reply, in German, English and Dutch.

The expected mails are in tests/kommunikation/footer/ ({unsubscribe_url} and
{preference_url} stand for the customer's signed links)."""

from __future__ import annotations

from pathlib import Path

import pytest
import time_machine

from compliance.services import preference_url, unsubscribe_url
from conversations.services import queue_reply
from kommunikation.dispatch import dispatch_batch
from kommunikation.outbox import enqueue_outbound
from tests.conftest import NOW
from tests.factories import ConversationFactory, CustomerFactory
from tests.kommunikation.conftest import grant
from tests.templates_app.conftest import make_template

EXPECTED = Path(__file__).parent / "footer"
NEWSLETTER = {
    "de": ("Neu im Shop", "Hallo {{ customer.first_name }},\n\nunsere Herbstkollektion ist da."),
    "en": ("New in the shop", "Hello {{ customer.first_name }},\n\nour autumn collection is here."),
    "nl": ("Nieuw in de winkel", "Hallo {{ customer.first_name }},\n\nonze herfstcollectie is er."),
}
REPLY = {
    "de": "Guten Tag Frau Huber,\n\nIhr Paket ist unterwegs.\n\nViele Grüße\nJan",
    "en": "Dear Ms Huber,\n\nyour parcel is on its way.\n\nKind regards\nJan",
    "nl": "Beste mevrouw Huber,\n\nuw pakket is onderweg.\n\nMet vriendelijke groet\nJan",
}


@pytest.fixture
def brand(brand_a):
    brand_a.name = "LaderThuis"
    brand_a.legal_name = "LaderThuis B.V."
    brand_a.imprint = "LaderThuis B.V. · Keizersgracht 1 · 1015 CJ Amsterdam\nKvK 12345678"
    brand_a.primary_color = "#ff6600"
    brand_a.support_email = "support@laderthuis.nl"
    brand_a.noreply_email = "noreply@laderthuis.nl"
    brand_a.save()
    return brand_a


def customer_in(brand, language):
    return CustomerFactory(
        brand=brand, first_name="Anna", last_name="Huber", email="anna@kunde.example",
        language=language,
    )  # fmt: skip


def sent(smtp_sink):
    assert len(smtp_sink.messages) == 1
    message = smtp_sink.messages[0]
    # as the parts arrived, with the wire's CRLF line ends as newlines
    return tuple(
        message.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html")
    )


def expected(name: str, **links: str) -> tuple[str, str]:
    text = (EXPECTED / f"{name}.txt").read_text(encoding="utf-8")
    html = (EXPECTED / f"{name}.html").read_text(encoding="utf-8")
    for key, value in links.items():
        text = text.replace("{" + key + "}", value)
        html = html.replace("{" + key + "}", value.replace("&", "&amp;"))
    return text, html


@pytest.mark.parametrize("language", ["de", "en", "nl"])
@time_machine.travel(NOW, tick=False)
def test_a_marketing_mail_ends_with_the_layouts_footer_in_the_customers_language(
    smtp_sink, brand, language, settings
):
    settings.OUTBOX_TRACK_SMTP = False  # the pixel and redirects are pinned elsewhere
    customer = customer_in(brand, language)
    grant(customer)
    subject, text = NEWSLETTER[language]
    make_template(
        key="newsletter", language=language, category="marketing", subject=subject, text=text
    )
    enqueue_outbound(
        brand=brand, customer=customer, channels="email", category="marketing",
        idempotency_key=f"news:{language}", source="rule", template_key="newsletter",
    )  # fmt: skip

    dispatch_batch()

    links = {
        "unsubscribe_url": unsubscribe_url(
            customer=customer, channel="email", category="marketing", address="anna@kunde.example"
        ),
        "preference_url": preference_url(customer),
    }
    assert sent(smtp_sink) == expected(f"marketing_{language}", **links)


@pytest.mark.parametrize("language", ["de", "en", "nl"])
@time_machine.travel(NOW, tick=False)
def test_a_reply_carries_the_imprint_and_no_unsubscribe_link(smtp_sink, brand, language):
    customer = customer_in(brand, language)
    conversation = ConversationFactory(
        brand=brand, customer=customer, subject="Wo ist mein Paket?",
        counterpart="anna@kunde.example",
    )  # fmt: skip

    queue_reply(conversation=conversation, text=REPLY[language], author=None)
    dispatch_batch()

    assert sent(smtp_sink) == expected(f"reply_{language}")
