"""`manage.py ingest_email` reads regular files only: FIFOs, sockets, devices, broken
symlinks, symlink loops and unreadable files are skipped and named in the summary, and
everything else is stored. A FIFO used to block the command forever: every test here runs
under an alarm, so a regression fails instead of hanging the suite."""

from __future__ import annotations

import mailbox
import os
import shutil
import signal
import socket
from io import StringIO

import pytest
from django.core.management import call_command

from conversations.models import Message, RawEmail
from conversations.sources import iter_raw_emails
from tests.conftest import DATA

pytestmark = pytest.mark.django_db

EMAILS = DATA / "emails"
GUARD_SECONDS = 20


class Hung(Exception):
    """Not an OSError (as TimeoutError is), so no ``except OSError`` can swallow it."""


@pytest.fixture(autouse=True)
def hang_guard():
    """SIGALRM interrupts a blocking open() or read() with an exception (PEP 475)."""

    def expired(signum, frame):
        signal.alarm(1)  # again, should the first one be caught somewhere
        raise Hung(f"ingest_email blockiert länger als {GUARD_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(GUARD_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def run(*paths) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("ingest_email", *map(str, paths), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def copy(name: str, target) -> None:
    shutil.copy(EMAILS / name, target)


@pytest.fixture
def messy_folder(tmp_path):
    """Two good mails among everything that is not a regular file."""
    folder = tmp_path / "import"
    folder.mkdir()
    copy("01_plain_utf8_umlauts.eml", folder / "a_gut.eml")
    os.mkfifo(folder / "b_pipe.eml")
    os.mkfifo(folder / "b_pipe")  # no suffix: would be sniffed as a possible mbox
    os.mkfifo(folder / "b_pipe.mbox")
    os.symlink("c_loop", folder / "c_loop")  # points at itself
    os.symlink(folder / "fehlt.eml", folder / "d_broken.eml")
    os.symlink("/dev/null", folder / "e_device.eml")
    os.symlink(folder, folder / "f_parent")  # a directory loop
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(folder / "g_socket"))
    copy("04_wrong_charset_cp1252.eml", folder / "z_gut.eml")
    yield folder
    server.close()


def test_it_skips_what_is_not_a_regular_file_and_stores_the_rest(brand_a, messy_folder):
    out, err = run(messy_folder)

    assert RawEmail.objects.count() == 2
    assert Message.objects.count() == 2
    assert "2 neu" in out and "(2 gelesen)" in out
    assert "8 übersprungen" in out
    for name, reason in [
        ("b_pipe.eml", "FIFO"),
        ("b_pipe.mbox", "FIFO"),
        ("c_loop", "Symlink-Schleife"),
        ("d_broken.eml", "Symlink ins Leere"),
        ("e_device.eml", "Gerätedatei"),
        ("f_parent", "Verzeichnis schon gelesen"),
        ("g_socket", "Socket"),
    ]:
        assert f"{messy_folder / name}: {reason}" in err
    assert f"{messy_folder / 'b_pipe'}: FIFO" in err


def test_a_fifo_or_a_loop_given_by_name_is_skipped_too(brand_a, tmp_path):
    os.mkfifo(tmp_path / "pipe.eml")
    os.symlink("loop.eml", tmp_path / "loop.eml")
    copy("01_plain_utf8_umlauts.eml", tmp_path / "gut.eml")

    out, err = run(tmp_path / "pipe.eml", tmp_path / "loop.eml", tmp_path / "gut.eml")

    assert RawEmail.objects.count() == 1
    assert "1 neu" in out
    assert "2 übersprungen (keine lesbaren Dateien)" in out
    assert str(tmp_path / "pipe.eml") in out and str(tmp_path / "loop.eml") in out


def test_a_fifo_inside_a_maildir_is_skipped(brand_a, tmp_path):
    box = mailbox.Maildir(tmp_path / "Maildir")
    box.add((EMAILS / "13_thread_refs_1.eml").read_bytes())
    box.add((EMAILS / "13_thread_refs_2.eml").read_bytes())
    os.mkfifo(tmp_path / "Maildir" / "new" / "1732270000.M1P1.host")
    os.symlink("/nirgends", tmp_path / "Maildir" / "cur" / "1732270001.M1P1.host:2,S")

    out, err = run(tmp_path / "Maildir")

    assert RawEmail.objects.count() == 2
    assert "2 übersprungen" in out
    assert "1732270000.M1P1.host: FIFO" in err
    assert "Symlink ins Leere" in err


def test_a_symlink_to_a_mail_is_read(brand_a, tmp_path):
    copy("01_plain_utf8_umlauts.eml", tmp_path / "original.eml")
    os.symlink(tmp_path / "original.eml", tmp_path / "link.eml")

    out, _err = run(tmp_path / "link.eml")

    assert RawEmail.objects.get().source == str(tmp_path / "link.eml")
    assert "übersprungen" not in out


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_skipped(brand_a, tmp_path):
    copy("01_plain_utf8_umlauts.eml", tmp_path / "geheim.eml")
    (tmp_path / "geheim.eml").chmod(0)
    copy("04_wrong_charset_cp1252.eml", tmp_path / "offen.eml")

    out, err = run(tmp_path)

    assert RawEmail.objects.count() == 1
    assert "geheim.eml: keine Leseberechtigung" in err


def test_the_reader_reports_what_it_skipped(messy_folder):
    skipped = []

    sources = [source for source, _raw in iter_raw_emails(messy_folder, skipped)]

    assert sources == [str(messy_folder / "a_gut.eml"), str(messy_folder / "z_gut.eml")]
    assert len(skipped) == 8
