"""IMAP fetching against a real dovecot on 127.0.0.1 (started once per test session)."""

from __future__ import annotations

import itertools

import pytest
from django.core.management import call_command

from conversations.imap import fetch_mailbox
from conversations.models import Conversation, Mailbox, Message, RawEmail
from tests.conftest import NOW
from tests.conversations.imap_server import PASSWORD, USER, start_dovecot

pytestmark = pytest.mark.time_machine(NOW)  # the mails carry fixed 2026 dates

_folders = itertools.count(1)


@pytest.fixture(scope="session")
def imap_server():
    yield from start_dovecot()


@pytest.fixture
def folder():
    """Each test reads its own folder, so tests don't see each other's mail."""
    return f"Test{next(_folders)}"


def mail(n: int, subject: str = "Frage zur Wallbox") -> bytes:
    return (
        f"From: Jürgen Müller <kunde{n}@beispiel.de>\r\n"
        f"To: support@laderthuis.nl\r\n"
        f"Subject: {subject} {n}\r\n"
        f"Message-ID: <imap-{n}@beispiel.de>\r\n"
        f"Date: Fri, 20 Nov 2026 10:0{n % 10}:00 +0100\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"Guten Tag, Nachricht Nummer {n}. Grüße\r\n"
    ).encode()


@pytest.fixture
def mailbox(imap_server, folder, brand_a):
    return Mailbox.objects.create(
        brand=brand_a,
        name=f"Support {folder}",
        address="support@laderthuis.nl",
        imap_host=imap_server.host,
        imap_port=imap_server.port,
        imap_ssl=False,
        imap_user=USER,
        imap_password=PASSWORD,
        imap_folder=folder,
    )


@pytest.mark.django_db
def test_it_fetches_every_message_once_and_leaves_them_on_the_server(imap_server, mailbox, folder):
    raws = [mail(n) for n in (1, 2, 3)]
    for raw in raws:
        imap_server.append(raw, folder)

    first = fetch_mailbox(mailbox)
    second = fetch_mailbox(mailbox)

    assert (first.new, first.errors) == (3, [])
    assert second.total == 0
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 3
    assert mailbox.uidvalidity
    assert mailbox.last_error == ""
    assert mailbox.last_fetched_at is not None
    # byte for byte what the server holds
    assert sorted(bytes(r.data) for r in RawEmail.objects.filter(mailbox=mailbox)) == sorted(raws)
    assert Conversation.objects.filter(mailbox=mailbox).count() == 3
    assert Message.objects.get(message_id="<imap-2@beispiel.de>").sender_name == "Jürgen Müller"
    # nothing deleted, nothing marked as read
    assert imap_server.count(folder) == 3
    assert not any(b"\\Seen" in item for item in imap_server.flags(folder))


@pytest.mark.django_db
def test_it_fetches_only_what_is_new(imap_server, mailbox, folder):
    imap_server.append(mail(11), folder)
    fetch_mailbox(mailbox)
    imap_server.append(mail(12), folder)

    stats = fetch_mailbox(mailbox)

    assert stats.new == 1 and stats.total == 1
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 2
    assert list(
        RawEmail.objects.filter(mailbox=mailbox).order_by("pk").values_list("message_id", flat=True)
    ) == ["<imap-11@beispiel.de>", "<imap-12@beispiel.de>"]


@pytest.mark.django_db
def test_it_starts_over_when_uidvalidity_changes_without_doubling(imap_server, mailbox, folder):
    imap_server.append(mail(21), folder)
    fetch_mailbox(mailbox)
    mailbox.refresh_from_db()
    old_validity = mailbox.uidvalidity
    imap_server.recreate(folder)  # same messages, new UIDs
    imap_server.append(mail(21), folder)
    imap_server.append(mail(22), folder)

    stats = fetch_mailbox(mailbox)

    assert (stats.duplicate, stats.new) == (1, 1)
    mailbox.refresh_from_db()
    assert mailbox.uidvalidity != old_validity
    assert mailbox.last_uid == 2
    assert RawEmail.objects.filter(mailbox=mailbox).count() == 2


@pytest.mark.django_db
def test_an_unreachable_server_is_recorded(brand_a):
    mailbox = Mailbox.objects.create(
        brand=brand_a,
        name="Nirgendwo",
        imap_host="127.0.0.1",
        imap_port=1,  # nothing listens there
        imap_ssl=False,
        imap_user=USER,
        imap_password=PASSWORD,
    )

    stats = fetch_mailbox(mailbox)

    mailbox.refresh_from_db()
    assert stats.errors and "ConnectionRefusedError" in mailbox.last_error


@pytest.mark.django_db
def test_the_task_fetches_all_mailboxes(imap_server, mailbox, folder):
    from django_q.tasks import async_task, result

    imap_server.append(mail(41), folder)

    task_id = async_task("conversations.tasks.fetch_mail", sync=True)

    assert "1 neu" in result(task_id)
    assert RawEmail.objects.filter(mailbox=mailbox).count() == 1


# Last in this file on purpose: dovecot delays every login from an address after a failed
# one (its "auth penalty" for 127.0.0.1), which would slow the tests that come after.
@pytest.mark.django_db
def test_a_wrong_password_is_recorded_and_the_command_goes_on(
    imap_server, mailbox, folder, brand_a, capsys
):
    broken = Mailbox.objects.create(
        brand=brand_a,
        name="Kaputt",
        imap_host=imap_server.host,
        imap_port=imap_server.port,
        imap_ssl=False,
        imap_user=USER,
        imap_password="falsch",
        imap_folder=folder,
    )
    imap_server.append(mail(31), folder)

    call_command("fetch_mail")

    broken.refresh_from_db()
    mailbox.refresh_from_db()
    assert "Login" in broken.last_error or "AUTHENTICATIONFAILED" in broken.last_error
    assert broken.last_uid == 0
    assert mailbox.last_error == "" and mailbox.last_uid == 1
    assert RawEmail.objects.filter(mailbox=mailbox).count() == 1
    out, err = capsys.readouterr()
    assert f"{mailbox}: 1 neu" in out
    assert f"{broken}: Fehler" in err
