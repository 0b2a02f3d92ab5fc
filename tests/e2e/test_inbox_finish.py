"""Finishing work in the browser (issue 10 §4): send & done by keyboard, a Wiedervorlage
by keyboard and its return, a bulk archive with its count preview and undo, and the
composer with a copy and an attachment."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from conversations import workflow
from conversations.models import Conversation, ConversationChange
from tests.conftest import login
from tests.factories import ConversationFactory, MessageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def three(brand_a):
    now = timezone.now()
    convs = []
    for i in range(3):
        conv = ConversationFactory(
            brand=brand_a,
            subject=f"Anfrage {i + 1}",
            counterpart=f"kunde{i + 1}@example.de",
            counterpart_name=f"Kunde {i + 1}",
            last_message_at=now - dt.timedelta(minutes=i),
            last_inbound_at=now - dt.timedelta(minutes=i),
        )
        MessageFactory(conversation=conv, text=f"Frage {i + 1}")
        convs.append(conv)
    return convs


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_send_and_done_from_the_keyboard(page, agent_a, three):
    first = three[0]
    login(page, agent_a)
    page.goto("/")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#conv")).to_have_attribute("data-id", str(first.pk))

    page.keyboard.press("r")
    page.keyboard.type("Ist erledigt, danke.")
    page.keyboard.press("Control+Shift+Enter")

    expect(page.locator("#notice")).to_contain_text("Status: erledigt")
    expect(page.locator(".msg-out .delivery")).to_contain_text("gesendet")
    first.refresh_from_db()
    assert first.status == "closed"
    # the typed text, then the layout's footer (the imprint below "-- ")
    assert [m.body.split("\n-- \n")[0].strip() for m in mail.outbox] == ["Ist erledigt, danke."]


def test_send_and_wait_from_the_keyboard(page, agent_a, three):
    first = three[0]
    login(page, agent_a)
    page.goto(f"/konversationen/{first.pk}/")
    page.locator("body").click(position={"x": 5, "y": 60})

    page.keyboard.press("r")
    page.keyboard.type("Bitte senden Sie uns ein Foto.")
    page.keyboard.press("Control+Alt+Enter")

    expect(page.locator("#notice")).to_contain_text("Status: wartend")
    first.refresh_from_db()
    assert first.status == "pending"


def test_snooze_from_the_keyboard_and_its_return(page, agent_a, three):
    first, second, _third = three
    login(page, agent_a)
    page.goto("/")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#conv")).to_have_attribute("data-id", str(first.pk))

    page.keyboard.press("w")
    expect(page.get_by_role("button", name="Morgen 08:00")).to_be_visible()
    page.keyboard.press("Tab")  # from "Heute 17:00" to "Morgen 08:00"
    page.keyboard.press("Enter")

    expect(page.locator("#notice")).to_contain_text("Wiedervorlage am")
    expect(page.locator(f"#row-{first.pk}")).to_have_count(0)
    expect(page.locator("#conv")).to_have_attribute("data-id", str(second.pk))
    first.refresh_from_db()
    local = timezone.localtime(first.snoozed_until)
    assert (local.hour, local.minute) == (8, 0)
    assert local.date() == timezone.localdate() + dt.timedelta(days=1)

    page.goto("/?status=wiedervorlage")
    expect(page.locator("#rows .row")).to_have_count(1)
    expect(page.locator(f"#row-{first.pk}")).to_be_visible()

    # the morning comes: the schedule's wake function runs, the list has it back on top
    workflow.wake_snoozed(now=first.snoozed_until)
    page.goto("/")
    expect(page.locator("#rows .row").first).to_have_attribute("data-id", str(first.pk))
    expect(page.locator(f"#row-{first.pk}")).to_have_class("row is-unread")


def test_bulk_archive_with_preview_and_undo(page, agent_a, three):
    first, second, third = three
    login(page, agent_a)
    page.goto("/")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("x")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("x")
    expect(page.locator("#selection-count")).to_have_text("2 ausgewählt")

    page.locator("#bulkbar").get_by_role("button", name="Aktionen").click()
    dialog = page.locator("#bulk-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#bulk-count")).to_have_text("2 Konversationen werden geändert.")
    expect(page.locator("#bulk-action")).to_have_value("archive")  # the first action
    dialog.get_by_role("button", name="alle Treffer dieses Filters").click()
    expect(page.locator("#bulk-count")).to_have_text(
        "3 Konversationen mit diesem Filter (alle Seiten) werden geändert."
    )
    dialog.get_by_role("button", name="nur die Auswahl").click()
    expect(page.locator("#bulk-count")).to_have_text("2 Konversationen werden geändert.")
    page.locator("#bulk-action").focus()
    page.keyboard.press("Enter")

    expect(page.locator("#notice")).to_contain_text("2 Konversationen archiviert.")
    expect(dialog).to_be_hidden()
    expect(page.locator("#rows .row")).to_have_count(1)
    assert sorted(Conversation.objects.values_list("subject", "status")) == [
        ("Anfrage 1", "archived"),
        ("Anfrage 2", "archived"),
        ("Anfrage 3", "open"),
    ]
    assert ConversationChange.objects.filter(changed_by=agent_a).count() == 2

    page.locator("#notice").get_by_role("button", name="Rückgängig").click()

    expect(page.locator("#notice")).to_contain_text("2 Änderungen rückgängig gemacht.")
    expect(page.locator("#rows .row")).to_have_count(3)
    assert set(Conversation.objects.values_list("status", flat=True)) == {"open"}


def test_the_composer_sends_a_copy_and_an_attachment(page, agent_a, three, tmp_path):
    first = three[0]
    offer = tmp_path / "angebot.pdf"
    offer.write_bytes(b"%PDF-1.4 Angebot")
    login(page, agent_a)
    page.goto(f"/konversationen/{first.pk}/")
    page.locator("body").click(position={"x": 5, "y": 60})

    page.keyboard.press("r")
    expect(page.locator("#reply-subject")).to_have_value("AW: Anfrage 1")
    page.locator("#reply-cc").fill("chef@example.de")
    page.locator("#reply-files").set_input_files(str(offer))
    page.locator("#reply-text").fill("Anbei unser Angebot.")
    page.get_by_role("button", name="Senden", exact=True).click()

    expect(page.locator(".msg-out .delivery")).to_contain_text("gesendet")
    expect(page.locator(".msg-out .attachments")).to_contain_text("angebot.pdf")
    [sent] = mail.outbox
    assert (sent.to, sent.cc, sent.subject) == (
        ["kunde1@example.de"],
        ["chef@example.de"],
        "AW: Anfrage 1",
    )
    [(name, content, _type)] = sent.attachments
    assert (name, content) == ("angebot.pdf", b"%PDF-1.4 Angebot")


def test_too_large_attachments_show_a_german_error_and_keep_the_text(
    page, agent_a, three, tmp_path, settings
):
    settings.REPLY_ATTACHMENTS_MAX_BYTES = 10
    first = three[0]
    big = tmp_path / "gross.bin"
    big.write_bytes(b"x" * 100)
    login(page, agent_a)
    page.goto(f"/konversationen/{first.pk}/")
    page.locator("body").click(position={"x": 5, "y": 60})

    page.keyboard.press("r")
    page.locator("#reply-files").set_input_files(str(big))
    page.locator("#reply-text").fill("Anbei.")
    page.get_by_role("button", name="Senden", exact=True).click()

    expect(page.locator("#reply-errors")).to_contain_text("Die Anhänge sind zusammen größer als")
    expect(page.locator("#reply-text")).to_have_value("Anbei.")
    assert mail.outbox == []
