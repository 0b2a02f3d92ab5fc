"""A real SMTP server (aiosmtpd) on 127.0.0.1 that collects what it receives."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from compliance.models import Consent
from compliance.services import Actor, record_consent
from tests.factories import CustomerFactory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    """Collects envelopes; answers 550 for the addresses in `refuse`."""

    def __init__(self):
        self.envelopes: list[tuple[str, list[str], bytes]] = []
        self.refuse: set[str] = set()
        self.connections = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Ok: queued"

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(content, policy=policy.default)
            for _from, _to, content in self.envelopes
        ]


@pytest.fixture
def smtp_sink(settings):
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_TIMEOUT = 5
    sink.controller = controller
    yield sink
    controller.stop()


@pytest.fixture
def smtp_down(settings):
    """Nothing listens on the port: connection refused."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_TIMEOUT = 2


@pytest.fixture
def customer(brand_a):
    brand_a.noreply_email = "noreply@laderthuis.nl"
    brand_a.save()
    return CustomerFactory(brand=brand_a, first_name="Anna", email="anna@kunde.example")


def grant(customer, purpose="marketing", channel="email"):
    return record_consent(
        customer=customer, purpose=purpose, channel=channel, state=Consent.State.GRANTED,
        source=Consent.Source.IMPORT, actor=Actor(label="Test"),
    )  # fmt: skip


# the fake sevDesk API on pytest-httpserver and a connection to it (tests of the sevDesk sync)
from tests.kommunikation.sevdesk_fake import connection, fake, sleeps  # noqa: E402, F401
