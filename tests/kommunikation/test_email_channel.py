"""What an email looks like at a real SMTP server: headers, Message-ID, unsubscribe, MIME parts."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from compliance.models import Consent
from kommunikation.dispatch import dispatch_batch
from kommunikation.outbox import enqueue_outbound
from tests.kommunikation.conftest import grant


def enqueue(customer, **kwargs):
    defaults = {
        "brand": customer.brand, "customer": customer, "channels": "email", "category": "transactional",
        "idempotency_key": "k1", "source": "rule", "subject": "Ihre Rechnung RE-1001 – fällig",
        "text": "Guten Tag Frau Müller,\nanbei Ihre Rechnung.",
        "html": '<html><body><p>Guten Tag, <a href="https://shop.example/rechnung?id=1&amp;x=2">Rechnung</a></p></body></html>',
    }  # fmt: skip
    defaults.update(kwargs)
    return enqueue_outbound(**defaults)


def sent_mail(smtp_sink):
    assert len(smtp_sink.messages) == 1
    return smtp_sink.messages[0]


def test_a_transactional_email_has_our_headers_and_both_parts(smtp_sink, customer):
    row = enqueue(customer)
    dispatch_batch()
    message = sent_mail(smtp_sink)
    assert message["Message-ID"] == row.header_message_id
    assert row.header_message_id.endswith("@laderthuis.nl>")
    assert message["From"] == "LaderThuis <support@laderthuis.nl>"
    assert message["To"] == "anna@kunde.example"
    assert message["Subject"] == "Ihre Rechnung RE-1001 – fällig"
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert "Frau Müller" in message.get_body(("plain",)).get_content()
    # invoices carry no unsubscribe and are never tracked
    assert message["List-Unsubscribe"] is None
    html = message.get_body(("html",)).get_content()
    assert "https://shop.example/rechnung?id=1&amp;x=2" in html
    assert "/t/o/" not in html


def test_noreply_mail_answers_to_support(smtp_sink, customer):
    enqueue(customer, purpose="noreply")
    dispatch_batch()
    message = sent_mail(smtp_sink)
    assert message["From"] == "LaderThuis <noreply@laderthuis.nl>"
    assert message["Reply-To"] == "support@laderthuis.nl"


def test_a_marketing_email_carries_one_click_unsubscribe_that_works(smtp_sink, customer):
    grant(customer)
    enqueue(customer, category="marketing", idempotency_key="news:1", template_key="")
    dispatch_batch()
    message = sent_mail(smtp_sink)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https_link, mailto = [v.strip().strip("<>") for v in message["List-Unsubscribe"].split(",")]
    assert https_link.startswith("http") and "/abbestellen/" in https_link
    assert mailto.startswith("mailto:noreply@laderthuis.nl?subject=abbestellen%20")
    text = message.get_body(("plain",)).get_content()
    assert https_link in text  # the visible link does the same
    # the mailbox provider's POST, without cookies or CSRF token
    response = Client(enforce_csrf_checks=True).post(
        urlsplit(https_link).path, {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    current = Consent.objects.current(customer=customer, purpose="marketing", channel="email")
    assert current.state == Consent.State.WITHDRAWN


def test_marketing_html_over_smtp_gets_pixel_and_tracked_links(smtp_sink, customer):
    grant(customer)
    enqueue(customer, category="marketing", idempotency_key="news:1")
    dispatch_batch()
    html = sent_mail(smtp_sink).get_body(("html",)).get_content()
    assert "/t/o/" in html
    assert "/t/c/" in html
    assert "https://shop.example/rechnung" not in html
    assert "/abbestellen/" in html  # our own link is not redirected


def test_attachments_are_sent_as_mime_parts(smtp_sink, customer):
    path = default_storage.save("outbox/RE-1001.pdf", ContentFile(b"%PDF-1.4 test"))
    enqueue(customer, attachments=[{"path": path, "filename": "Rechnung RE-1001.pdf",
                                    "content_type": "application/pdf"}])  # fmt: skip
    dispatch_batch()
    message = sent_mail(smtp_sink)
    assert message.get_content_type() == "multipart/mixed"
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == "Rechnung RE-1001.pdf"
    assert attachment.get_content() == b"%PDF-1.4 test"


def test_anymail_gets_tags_and_metadata_with_the_outbound_id(settings, customer):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    row = enqueue(customer, template_key="")
    dispatch_batch()
    params = mail.outbox[0].anymail_test_params
    assert params["metadata"] == {"outbound_id": str(row.pk), "brand": "laderthuis"}
    assert params["tags"] == ["transactional"]
    row.refresh_from_db()
    assert row.provider_id  # anymail_status.message_id is stored for tracking


def test_the_mailto_unsubscribe_works_with_the_subject_it_names(smtp_sink, customer):
    from urllib.parse import parse_qs, unquote

    from compliance.services import unsubscribe_by_mail

    grant(customer)
    enqueue(customer, category="marketing", idempotency_key="news:1")
    dispatch_batch()
    mailto = sent_mail(smtp_sink)["List-Unsubscribe"].split(",")[1].strip().strip("<>")
    subject = unquote(parse_qs(urlsplit(mailto).query)["subject"][0])
    assert unsubscribe_by_mail("Re: kaputt") is False
    assert unsubscribe_by_mail(subject) is True
    current = Consent.objects.current(customer=customer, purpose="marketing", channel="email")
    assert current.state == Consent.State.WITHDRAWN


@pytest.mark.parametrize(
    ("subject", "text", "html", "name"),
    [
        ("Ihre Rechnung RE-1001 – fällig", "Grüße\nvon uns", "<p>Grüße</p>", "Läder & Co"),
        ("Plain ASCII", "Hello", "", "Shop"),
        ("x" * 200 + " Überlang " + "y" * 120, "a" * 1200 + "ä\n.Punkt am Anfang", "<p>ä</p>", ""),
        ("Zeilen\nim Betreff", "", "<html><body>nur HTML</body></html>", "Shop"),
    ],
)
def test_the_direct_smtp_bytes_read_like_djangos_message(subject, text, html, name):
    """The fast path writes the message itself; a mail reader sees what Django would send."""
    from email import message_from_bytes
    from email import policy as email_policy

    from django.core.mail import EmailMultiAlternatives

    from kommunikation.channels.email import mime_bytes

    headers = {
        "Message-ID": "<1@shop.example>",
        "List-Unsubscribe": "<https://shop.example/" + "u" * 90 + ">",
    }
    ours = mime_bytes(
        subject=subject, from_name=name, from_email="s@shop.example", to="k@kunde.example",
        reply_to="r@shop.example", headers=headers, text=text, html=html,
    )  # fmt: skip
    django = EmailMultiAlternatives(
        subject=" ".join(subject.split()), body=text,
        from_email=f"{name} <s@shop.example>" if name else "s@shop.example",
        to=["k@kunde.example"], reply_to=["r@shop.example"], headers=headers,
    )  # fmt: skip
    if html:
        django.attach_alternative(html, "text/html")
    expected = message_from_bytes(
        django.message().as_bytes(linesep="\r\n"), policy=email_policy.default
    )
    got = message_from_bytes(ours, policy=email_policy.default)
    assert all(len(line) <= 998 for line in ours.split(b"\r\n"))
    for header in ("Subject", "From", "To", "Reply-To", "Message-ID", "List-Unsubscribe"):
        # compared as a reader shows them (Django's folding adds a leading space)
        assert " ".join(got[header].split()) == " ".join(expected[header].split()), header
    assert got.get_content_type() == expected.get_content_type()
    assert [p.get_content_type() for p in got.walk()] == [
        p.get_content_type() for p in expected.walk()
    ]
    for kind in ("plain", "html"):
        mine, theirs = got.get_body((kind,)), expected.get_body((kind,))
        assert (mine and mine.get_content()) == (theirs and theirs.get_content()), kind
