from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pypdf import PdfReader

from conversations.models import (
    Attachment,
    Channel,
    Classification,
    Conversation,
    Mailbox,
    Message,
    SenderRule,
)
from kommunikation.models import BusinessEntity, ContactPoint, Customer
from kommunikation.roles import AGENT, TEAM_LEAD


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def fingerprint() -> str:
    """What an agent sees of the data: subjects, counterparts, customers; no ids, no times."""
    digest = hashlib.sha256()
    for row in Conversation.objects.order_by("id").values_list(
        "brand__slug", "subject", "counterpart", "classification", "status", "priority", "unread"
    ):
        digest.update(repr(row).encode())
    for row in Customer.objects.order_by("id").values_list(
        "brand__slug", "number", "company_name", "first_name", "last_name", "city", "birthday"
    ):
        digest.update(repr(row).encode())
    for row in Message.objects.order_by("id").values_list("subject", "text", "message_id"):
        digest.update(repr(row).encode())
    return digest.hexdigest()


def wipe_demo() -> None:
    Conversation.objects.all().delete()
    Customer.objects.all().delete()
    BusinessEntity.objects.all().delete()
    get_user_model().objects.all().delete()


@pytest.mark.django_db
def test_it_creates_a_german_inbox_for_the_five_brands():
    output = seed("--conversations", "50", "--seed", "7")

    assert "50 Konversationen" in output
    brands = {b.slug: b for b in BusinessEntity.objects.all()}
    assert set(brands) == {"chargecars", "laderthuis", "meterkastthuis", "zaptecshop", "ratioshop"}
    assert brands["chargecars"].legal_name == "ChargeCars B.V."
    assert brands["zaptecshop"].sales_email == "bestellen@zaptecshop.nl"
    assert brands["laderthuis"].whatsapp_number == "+31612345679"
    # seed 002's three WhatsApp Business numbers
    from kommunikation.models import WhatsAppNumber

    assert dict(WhatsAppNumber.objects.values_list("brand__slug", "display_number")) == {
        "chargecars": "+31612345678",
        "laderthuis": "+31612345679",
        "zaptecshop": "+31612345680",
    }
    assert Mailbox.objects.filter(imap_host="").count() == 10
    assert SenderRule.objects.filter(classification=Classification.NEWSLETTER).exists()

    conversations = Conversation.objects.all()
    assert conversations.count() == 50
    kinds = set(conversations.values_list("classification", flat=True))
    assert kinds == {"", *Classification.values}
    assert conversations.unread().exists()
    assert conversations.filter(unread=False).exists()
    assert conversations.older_than(7).exists()
    assert conversations.filter(last_message_at__gte=timezone.now() - timedelta(days=7)).exists()
    assert conversations.filter(channel=Channel.WHATSAPP, counterpart__startswith="+").exists()
    assert conversations.exclude(response_due_at=None).exists()
    assert conversations.exclude(assignee=None).exists()
    assert conversations.filter(message_count__gte=3).exists()
    for conversation in conversations:
        assert conversation.message_count == conversation.messages.count()

    assert Message.objects.filter(is_internal_note=True, author__isnull=False).exists()
    assert Message.objects.filter(direction="out", sender_address__endswith=".nl").exists()
    assert Message.objects.exclude(in_reply_to="").exists()
    newsletter = Message.objects.filter(conversation__classification="newsletter").first()
    assert "List-Unsubscribe" in dict(newsletter.headers)


@pytest.mark.django_db
def test_its_customers_and_staff_look_real():
    seed("--conversations", "50", "--seed", "7")

    names = " ".join(Customer.objects.values_list("last_name", flat=True))
    assert any(ch in names for ch in "äöüß")
    assert Customer.objects.filter(company_name__endswith="GmbH").exists()
    assert Customer.objects.suppliers().exists()
    assert Customer.objects.exclude(birthday=None).exists()
    assert not Customer.objects.filter(postal_code="").exists()
    assert ContactPoint.objects.filter(channel="phone", value__startswith="+49").exists()
    assert ContactPoint.objects.filter(channel="email").count() == Customer.objects.count()

    staff = get_user_model().objects.filter(brands__isnull=False).distinct()
    assert staff.count() == 20
    assert all(not user.has_usable_password() for user in staff)
    assert staff.filter(groups__name=AGENT).count() == 15
    assert staff.filter(groups__name=TEAM_LEAD).count() == 5


@pytest.mark.django_db
def test_attachments_are_small_pdfs_stored_content_addressed():
    seed("--conversations", "50", "--seed", "7")

    attachment = Attachment.objects.first()
    assert attachment is not None
    assert attachment.file.name == f"attachments/{attachment.sha256[:2]}/{attachment.sha256}"
    assert default_storage.exists(attachment.file.name)
    with attachment.file.open("rb") as fh:
        data = fh.read()
    assert hashlib.sha256(data).hexdigest() == attachment.sha256
    assert len(data) == attachment.size
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    record = attachment.filename.removesuffix(".pdf").split("_")[-1]  # Rechnung_RE-2025-1234.pdf
    assert record in text
    assert attachment.message.conversation.brand.legal_name in text


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_data():
    seed("--conversations", "50", "--seed", "7")
    first = fingerprint()
    wipe_demo()
    seed("--conversations", "50", "--seed", "7")
    again = fingerprint()
    wipe_demo()
    seed("--conversations", "50", "--seed", "8")

    assert again == first
    assert fingerprint() != first


@pytest.mark.django_db
def test_it_refuses_a_database_with_conversations_unless_appending():
    seed("--conversations", "20")

    with pytest.raises(CommandError, match="--append"):
        seed("--conversations", "20")
    assert Conversation.objects.count() == 20

    seed("--conversations", "20", "--append")
    assert Conversation.objects.count() == 40
    assert BusinessEntity.objects.count() == 5


@pytest.mark.django_db
def test_demo_setup_seeds_an_empty_database_and_prints_the_login():
    out = io.StringIO()
    call_command("demo_setup", stdout=out)

    # 600 generated, per brand two mails through ingestion and the inbound rules, and two
    # letters (Pingen, print batch) in their customers' threads
    assert Conversation.objects.count() == 612
    assert "10 Demo-Mails durch die Eingangsregeln" in out.getvalue()
    assert "2 Demo-Briefe" in out.getvalue()
    assert "Passwort" in out.getvalue()


def test_the_demos_data_is_apart_from_its_code():
    """Word lists and scenarios in kommunikation.demo.data, code in .generator."""
    import inspect

    from kommunikation.demo import data, generator

    public = {name: value for name, value in vars(data).items() if not name.startswith("_")}
    public.pop("annotations", None)  # from __future__
    assert public and all(name.isupper() for name in public)
    assert not any(callable(value) or inspect.ismodule(value) for value in public.values())
    source = inspect.getsource(generator)
    assert "Zaptec" not in source and "Privatkunde" not in source
