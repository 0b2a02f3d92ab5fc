"""Fallback driven by delivery (issue 11 §7): not delivered within the wait, or failed after
sending, the next channel of the chain; each step through the gate for its own channel; the
whole chain in the thread. Meta's WhatsApp on pytest-httpserver, email into aiosmtpd."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from compliance.models import ChannelPreference
from conversations.models import Conversation, Message
from kommunikation.dispatch import dispatch_batch
from kommunikation.fallback import failed_after_send, fallback_undelivered, wait_label
from kommunikation.models import OutboundMessage, WhatsAppNumber
from kommunikation.outbox import enqueue_outbound
from tests.conftest import NOW
from tests.factories import ContactPointFactory, CustomerFactory
from tests.kommunikation.conftest import grant
from tests.whatsapp_payloads import CUSTOMER_WA, PHONE_NUMBER_ID, SECRET, body, envelope, sign
from tests.whatsapp_payloads import sent as wa_sent
from tests.whatsapp_payloads import status as wa_status

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)
WEBHOOK = "/webhooks/whatsapp/laderthuis/"
MESSAGES = f"/v23.0/{PHONE_NUMBER_ID}/messages"
WAMID = "wamid.CHAIN1"


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def number(brand_a, settings, httpserver):
    settings.WHATSAPP_GRAPH_URL = httpserver.url_for("").rstrip("/")
    settings.WHATSAPP_API_VERSION = "v23.0"
    settings.WHATSAPP_TIMEOUT = 1
    settings.LETTER_MODE = "selfprint"
    brand_a.whatsapp_number = "+31612345679"
    brand_a.street, brand_a.postal_code, brand_a.city = "Am Hafen 1", "20457", "Hamburg"
    brand_a.save()
    httpserver.expect_request(MESSAGES, method="POST").respond_with_json(wa_sent(WAMID))
    return WhatsAppNumber.objects.create(
        brand=brand_a, display_number="+31612345679", phone_number_id=PHONE_NUMBER_ID,
        access_token="EAAG-token", app_secret=SECRET, verify_token="v",
    )  # fmt: skip


@pytest.fixture
def customer(brand_a):
    customer = CustomerFactory(
        brand=brand_a, first_name="Sheena", last_name="Nelson", email="sheena@kunde.example",
        street="Hauptstraße 12", postal_code="10115", city="Berlin",
    )  # fmt: skip
    ContactPointFactory(customer=customer, channel="phone", value="+" + CUSTOMER_WA, type="mobile")
    return customer


@pytest.fixture
def post(client, number, django_capture_on_commit_callbacks):
    """A status webhook from Meta, signed, processed after its commit as in production."""

    def post(state: str, **kwargs):
        data = body(envelope(wa_status(WAMID, state, **kwargs)))
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                WEBHOOK, data=data, content_type="application/json",
                headers={"X-Hub-Signature-256": sign(data)},
            )  # fmt: skip
        assert response.status_code == 200
        return response

    return post


def chain(customer, channels, *, category="service", wait=HOUR, key="chain-1"):
    return enqueue_outbound(
        brand=customer.brand, customer=customer, channels=channels, category=category,
        idempotency_key=key, source="system", subject="Ihre Wallbox",
        text="Ihre Wallbox ist unterwegs.", fallback_after=wait, trigger=False,
    )  # fmt: skip


def thread(conversation: Conversation) -> list[tuple[str, str]]:
    """The conversation as the inbox lists it: (channel, text) of every entry, oldest first."""
    return [
        (m.channel, m.text)
        for m in Message.objects.filter(conversation=conversation).order_by("created_at", "id")
    ]


def test_whatsapp_not_delivered_within_an_hour_goes_on_by_sms_refused_then_by_letter(
    clock, number, customer
):
    # marketing needs consent per channel: WhatsApp and letter yes, SMS no
    grant(customer, "marketing", "whatsapp")
    grant(customer, "marketing", "letter")
    row = chain(customer, ["whatsapp", "sms", "letter"], category="marketing")

    assert dispatch_batch().sent == 1
    row.refresh_from_db()
    assert (row.status, row.channel, row.provider_id) == ("sent", "whatsapp", WAMID)
    assert row.fallback_due_at == NOW + HOUR

    clock.shift(dt.timedelta(minutes=59))
    assert fallback_undelivered().moved_on == 0  # still within the wait
    assert not row.fallbacks.exists()

    clock.shift(dt.timedelta(minutes=2))
    result = fallback_undelivered()

    assert (result.checked, result.moved_on) == (1, 1)
    row.refresh_from_db()
    assert row.fallback_due_at is None
    assert row.status == "sent"  # what went out stays as it went
    sms = row.fallbacks.get()
    assert (sms.channel, sms.channel_index, sms.status) == ("sms", 1, "queued")
    assert sms.conversation == row.conversation
    assert sms.idempotency_key == f"fallback:{row.pk}:1"
    assert sms.fallback_after == HOUR

    # the gate for SMS refuses (no consent for marketing by SMS); the same row goes on
    dispatch_batch()
    sms.refresh_from_db()
    assert (sms.channel, sms.status) == ("letter", "queued")
    assert "Keine Einwilligung für marketing über sms" in sms.last_error
    assert dispatch_batch().sent == 1
    sms.refresh_from_db()
    assert (sms.status, sms.channel) == ("sent", "letter")
    assert sms.fallback_due_at is None  # the last channel: nothing after it

    conversation = row.conversation
    assert thread(conversation) == [
        ("whatsapp", "Ihre Wallbox ist unterwegs."),
        ("note", "WhatsApp nicht zugestellt nach 1 Std. – weiter per SMS."),
        (
            "note",
            "SMS nicht gesendet: Keine Einwilligung für marketing über sms – weiter per Brief.",
        ),
        ("letter", "Ihre Wallbox ist unterwegs."),
    ]
    assert sms.message.conversation == conversation
    assert sms.message.attachments.get().filename == f"brief-{sms.pk}.pdf"


def test_delivered_within_the_wait_ends_the_chain(clock, number, customer, post):
    row = chain(customer, ["whatsapp", "sms"])
    dispatch_batch()

    clock.shift(dt.timedelta(minutes=10))
    post("delivered")

    row.refresh_from_db()
    assert row.message.status == "delivered"
    assert row.fallback_due_at is None
    clock.shift(dt.timedelta(hours=3))
    assert fallback_undelivered().checked == 0
    assert not OutboundMessage.objects.filter(fallback_of=row).exists()
    assert [m for m, _t in thread(row.conversation)] == ["whatsapp"]


def test_read_counts_as_delivered(clock, number, customer, post):
    row = chain(customer, ["whatsapp", "sms"])
    dispatch_batch()

    post("read")

    row.refresh_from_db()
    assert row.fallback_due_at is None


def test_a_failure_reported_after_sending_tries_the_next_channel_at_once_into_smtp(
    clock, number, customer, post, smtp_sink
):
    # no wait at all: a failure after the send moves the chain on by itself
    row = chain(customer, ["whatsapp", "email"], wait=None)
    dispatch_batch()
    row.refresh_from_db()
    assert row.fallback_due_at is None

    clock.shift(dt.timedelta(minutes=3))
    post("failed", errors=[{"code": 131026, "title": "Message Undeliverable",
                            "message": "Message Undeliverable"}])  # fmt: skip

    row.refresh_from_db()
    assert (row.status, row.message.status) == ("failed", "failed")
    email = row.fallbacks.get()
    # the webhook's commit started the dispatch: the email went out into the SMTP server
    email.refresh_from_db()
    assert (email.channel, email.status) == ("email", "sent")
    [mail] = smtp_sink.messages
    assert mail["To"] == "sheena@kunde.example"
    assert mail["Subject"] == "Ihre Wallbox"
    assert "Ihre Wallbox ist unterwegs." in mail.get_body(("plain",)).get_content()
    steps = thread(row.conversation)
    assert [channel for channel, _text in steps] == ["whatsapp", "note", "email"]
    assert steps[1][1].startswith("WhatsApp fehlgeschlagen (")
    assert steps[1][1].endswith(") – weiter per E-Mail.")
    assert "nicht zustellbar" in steps[1][1]


def test_a_late_delivery_is_recorded_and_takes_back_nothing_that_went_out(
    clock, number, customer, post, smtp_sink
):
    row = chain(customer, ["whatsapp", "email"])
    dispatch_batch()
    clock.shift(HOUR + dt.timedelta(minutes=1))
    fallback_undelivered()
    assert dispatch_batch().sent == 1
    email = row.fallbacks.get()

    post("delivered")  # two hours late

    row.refresh_from_db()
    email.refresh_from_db()
    assert row.message.status == "delivered"
    assert "delivered" in row.message.status_changes.values_list("status", flat=True)
    assert email.status == "sent"
    assert len(smtp_sink.messages) == 1
    assert [c for c, _t in thread(row.conversation)] == ["whatsapp", "note", "email"]


def test_a_late_delivery_cancels_a_next_attempt_still_waiting_for_quiet_hours(
    clock, number, customer, post
):
    clock.move_to(NOW.replace(hour=19, minute=30), tick=False)
    row = chain(customer, ["whatsapp", "sms"])
    dispatch_batch()
    clock.shift(HOUR + dt.timedelta(minutes=1))  # 20:31: SMS only from 08:00
    fallback_undelivered()
    dispatch_batch()
    sms = row.fallbacks.get()
    sms.refresh_from_db()
    assert (sms.status, sms.decision) == ("queued", "defer")

    post("delivered")

    sms.refresh_from_db()
    row.refresh_from_db()
    assert sms.status == "cancelled"
    assert sms.last_error == "WhatsApp doch noch zugestellt – SMS nicht mehr nötig."
    assert thread(row.conversation)[-1] == (
        "note", "WhatsApp doch noch zugestellt – SMS nicht mehr nötig."
    )  # fmt: skip


def test_checking_twice_and_a_repeated_failure_start_nothing_twice(clock, number, customer, post):
    row = chain(customer, ["whatsapp", "sms", "letter"])
    dispatch_batch()
    clock.shift(2 * HOUR)

    assert fallback_undelivered().moved_on == 1
    assert fallback_undelivered().checked == 0
    # the failure arriving after the chain moved on, twice, and once more by hand
    post("failed", errors=[{"code": 131026, "message": "Message Undeliverable"}])
    post("failed", errors=[{"code": 131026, "message": "Message Undeliverable"}])
    row.refresh_from_db()
    assert failed_after_send(row.message, status="failed") == []

    assert OutboundMessage.objects.filter(fallback_of=row).count() == 1
    assert OutboundMessage.objects.count() == 2
    notes = [t for c, t in thread(row.conversation) if c == "note"]
    # the wait is the rule's, however late the check ran
    assert notes == ["WhatsApp nicht zugestellt nach 1 Std. – weiter per SMS."]


def test_a_wait_applies_only_to_channels_that_report_delivery(clock, customer, settings, brand_a):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    smtp = chain(customer, ["email", "letter"], key="plain-smtp")
    dispatch_batch()
    smtp.refresh_from_db()
    assert smtp.status == "sent"
    assert smtp.fallback_due_at is None  # plain SMTP never says "delivered"

    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    esp = chain(customer, ["email", "letter"], key="through-an-esp")
    dispatch_batch()
    esp.refresh_from_db()
    assert esp.fallback_due_at == NOW + HOUR


def test_the_command_moves_on_what_is_due(clock, number, customer):
    row = chain(customer, ["whatsapp", "sms"], wait=dt.timedelta(minutes=30))
    dispatch_batch()
    clock.shift(dt.timedelta(minutes=31))
    out = io.StringIO()

    call_command("fallback_undelivered", stdout=out)

    row.refresh_from_db()
    assert out.getvalue().strip() == ("1 geprüft, 1 weiter mit dem nächsten Kanal, 0 zugestellt.")
    assert row.fallbacks.get().channel == "sms"
    note = Message.objects.get(conversation=row.conversation, channel="note")
    assert note.text == "WhatsApp nicht zugestellt nach 30 Min. – weiter per SMS."
    assert note.is_internal_note


def test_it_is_scheduled_every_minute():
    from config.schedules import SCHEDULES

    table = {name: (func, cron) for name, func, cron, _why in SCHEDULES}
    assert table["fallback-undelivered"] == (
        "kommunikation.tasks.fallback_undelivered",
        "* * * * *",
    )


def test_the_waits_read_as_the_thread_says_them():
    assert wait_label(dt.timedelta(hours=1)) == "1 Std."
    assert wait_label(dt.timedelta(minutes=90)) == "1 Std. 30 Min."
    assert wait_label(dt.timedelta(days=2)) == "2 Tagen"
    assert wait_label(dt.timedelta(days=1)) == "1 Tag"


def test_a_customer_who_wants_no_sms_of_this_kind_is_passed_over_on_the_way(
    clock, number, customer, smtp_sink
):
    ChannelPreference.objects.create(
        customer=customer, channel="sms", category="service", allowed=False
    )
    row = chain(customer, ["whatsapp", "sms", "email"])
    dispatch_batch()
    clock.shift(HOUR)
    fallback_undelivered()

    dispatch_batch()  # SMS refused by the customer's preference: the same row goes on
    assert dispatch_batch().sent == 1

    row.refresh_from_db()
    attempt = row.fallbacks.get()
    assert (attempt.channel, attempt.status) == ("email", "sent")
    assert len(smtp_sink.messages) == 1
    assert [c for c, _t in thread(row.conversation)] == ["whatsapp", "note", "note", "email"]
    notes = [t for c, t in thread(row.conversation) if c == "note"]
    assert notes[1] == (
        "SMS nicht gesendet: Der Kunde möchte über SMS keine Nachrichten dieser Art"
        " – weiter per E-Mail."
    )
