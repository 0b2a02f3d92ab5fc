"""`manage.py ingest_email`: .eml, mbox, Maildir and directories, idempotent."""

from __future__ import annotations

import mailbox
import shutil

import pytest
from django.core.management import CommandError, call_command

from conversations.models import Conversation, Message, RawEmail
from kommunikation.models import BusinessEntity
from tests.conftest import DATA, NOW

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW)]

EMAILS = DATA / "emails"


def run(*args) -> tuple[str, str]:
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command("ingest_email", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_reads_a_directory_and_a_second_run_creates_nothing(brand_a):
    out, err = run(EMAILS)

    assert out.strip() == (
        "LaderThuis: 12 neu, 0 doppelt, 6 in bestehende Konversationen, 1 markiert (19 gelesen); "
        "1 ohne passende Marke → LaderThuis"
    )
    assert "10_malformed_headers.eml" in err and "kein gültiger Absender" in err
    counts = (RawEmail.objects.count(), Message.objects.count(), Conversation.objects.count())
    assert counts == (19, 19, 13)

    out, _err = run(EMAILS)

    assert "0 neu, 19 doppelt, 0 in bestehende Konversationen, 0 markiert" in out
    assert (RawEmail.objects.count(), Message.objects.count(), Conversation.objects.count()) == (
        counts
    )


def test_without_a_brand_it_creates_one():
    out, _err = run(EMAILS / "01_plain_utf8_umlauts.eml")

    brand = BusinessEntity.objects.get()
    assert Conversation.objects.get().brand == brand
    assert out.startswith(f"{brand.name}: 1 neu")


def test_brand_option(brand_a, brand_b):
    run("--brand", "zaptecshop", EMAILS / "01_plain_utf8_umlauts.eml")

    assert Conversation.objects.get().brand == brand_b


def test_an_unknown_brand_is_an_error(brand_a):
    with pytest.raises(CommandError, match="gibtsnicht"):
        run("--brand", "gibtsnicht", EMAILS)

    assert RawEmail.objects.count() == 0


def test_a_missing_path_is_an_error(brand_a, tmp_path):
    with pytest.raises(CommandError, match="Nicht gefunden"):
        run(tmp_path / "fehlt.eml")


def test_mbox_maildir_and_nested_directories(brand_a, tmp_path):
    (tmp_path / "archiv").mkdir()
    box = mailbox.mbox(tmp_path / "archiv" / "2026.mbox")
    for name in ("12_thread_subject_1.eml", "12_thread_subject_2.eml", "12_thread_subject_3.eml"):
        box.add((EMAILS / name).read_bytes())
    box.flush()
    (tmp_path / "archiv" / "tief").mkdir()
    maildir = mailbox.Maildir(tmp_path / "archiv" / "tief" / "Maildir")
    for name in ("13_thread_refs_1.eml", "13_thread_refs_2.eml"):
        maildir.add((EMAILS / name).read_bytes())
    (tmp_path / "archiv" / "tief" / "noch-tiefer").mkdir()
    shutil.copy(EMAILS / "06_attachments_umlaut_filenames.eml", tmp_path / "archiv" / "tief"
                / "noch-tiefer" / "anhang.eml")  # fmt: skip

    out, _err = run(tmp_path / "archiv")
    again, _err = run(tmp_path / "archiv")

    assert "3 neu, 0 doppelt, 3 in bestehende Konversationen, 0 markiert (6 gelesen)" in out
    assert "0 neu, 6 doppelt" in again
    assert Conversation.objects.count() == 3
    sources = set(RawEmail.objects.values_list("source", flat=True))
    assert any(s.endswith("2026.mbox#0") for s in sources)
    assert any("Maildir#" in s for s in sources)
    # an mbox message is stored without its "From " separator line
    first = RawEmail.objects.get(message_id="<termin-1@vogel-bau.de>")
    assert bytes(first.data) == (EMAILS / "12_thread_subject_1.eml").read_bytes()


def test_the_same_message_in_an_eml_and_an_mbox_is_one(brand_a, tmp_path):
    box = mailbox.mbox(tmp_path / "kopie.mbox")
    box.add((EMAILS / "01_plain_utf8_umlauts.eml").read_bytes())
    box.flush()

    out, _err = run(EMAILS / "01_plain_utf8_umlauts.eml", tmp_path / "kopie.mbox")

    assert "1 neu, 1 doppelt" in out
    assert Message.objects.count() == 1


def test_maildir_messages_are_read_in_delivery_order(tmp_path):
    from conversations.sources import iter_raw_emails

    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    # the same second, microseconds not zero-padded: a string sort would put 100000 first
    (maildir / "new" / "1732270000.M99999P1Q1.host").write_bytes(b"Subject: eins\n\nx\n")
    (maildir / "new" / "1732270000.M100000P1Q2.host").write_bytes(b"Subject: zwei\n\nx\n")

    subjects = [raw.split(b"\n", 1)[0] for _source, raw in iter_raw_emails(maildir)]

    assert subjects == [b"Subject: eins", b"Subject: zwei"]
