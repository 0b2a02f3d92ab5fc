"""The daily print batch: the command and the Team-Lead page merge the day's ready
letters behind a cover sheet into one PDF, mark them sent, and keep it for download."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from pypdf import PdfReader

from conversations.models import Message
from kommunikation.dispatch import dispatch_batch
from kommunikation.letters.models import Letter, PrintBatch
from tests.kommunikation.letters_helpers import enqueue_letter, letter_customer

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine("2026-11-25 12:00 +01:00")]

LONG = "Absatz mit etwas Text, der den Brief verlängert.\n\n" * 60


@pytest.fixture
def ready(brand_a, settings):
    """Three letters of brand A waiting for the print batch, one of them two pages long."""
    settings.LETTER_MODE = "selfprint"
    customers = [
        letter_customer(brand_a, first_name=name, last_name=last, number=number)
        for name, last, number in [("Anna", "Müller", "K-1"), ("Bernd", "Schulz", "K-2"),
                                   ("Clara", "Weber", "K-3")]
    ]  # fmt: skip
    for n, customer in enumerate(customers):
        enqueue_letter(customer, key=f"letter:{n}", subject=f"Mahnung RE-{n}",
                       text=LONG if n == 1 else "Bitte zahlen Sie.")  # fmt: skip
    assert dispatch_batch().sent == 3
    return list(Letter.objects.order_by("pk"))


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def test_the_command_merges_the_days_letters_behind_a_cover_sheet(ready, brand_a, capsys):
    assert ready[1].pages >= 2
    call_command("print_letters", "--brand", brand_a.slug, "--date", "25.11.2026")

    batch = PrintBatch.objects.get()
    assert (batch.brand, batch.day, batch.letter_count) == (brand_a, dt.date(2026, 11, 25), 3)
    pages = pdf_pages(batch.file.read())
    letter_pages = sum(letter.pages for letter in ready)
    assert len(pages) == batch.page_count == 1 + letter_pages  # one cover page
    cover = pages[0]
    assert "Druckstapel LaderThuis – 25.11.2026" in cover
    for letter in ready:
        assert letter.recipient in cover and letter.customer_number in cover
        assert letter.subject in cover
    assert "Anna Müller" in pages[1]  # the first letter follows the cover
    assert "1 Druckstapel für 25.11.2026: 3 Briefe" in capsys.readouterr().out

    for letter in Letter.objects.all():
        assert (letter.status, letter.batch) == ("sent", batch)
        message = Message.objects.get(outbound__letter=letter)
        assert message.status == Message.State.SENT
        last = message.status_changes.order_by("at", "id").last()
        assert (last.status, last.detail) == (
            "sent", "Brief: der Post übergeben (Druckstapel vom 25.11.2026)"
        )  # fmt: skip


def test_a_second_run_finds_nothing_to_print(ready, brand_a, capsys):
    call_command("print_letters", "--date", "25.11.2026")
    call_command("print_letters", "--date", "25.11.2026")
    assert PrintBatch.objects.count() == 1
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith("0 Druckstapel für 25.11.2026: 0 Briefe, 0 Seiten.")
    )


def test_letters_of_a_later_day_wait_for_their_own_batch(ready, brand_a):
    call_command("print_letters", "--date", "24.11.2026")
    assert not PrintBatch.objects.exists()


def test_a_team_lead_makes_the_batch_on_the_page_and_downloads_it(client, ready, team_lead):
    client.force_login(team_lead)
    page = client.get(reverse("letter_print"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Zum Druck bereit" in html and "Clara Weber" in html and "Druckstapel erstellen" in html

    response = client.post(
        reverse("letter_print"), {"brand": ready[0].brand_id, "day": "25.11.2026"}
    )
    assert response.status_code == 302
    batch = PrintBatch.objects.get()
    assert batch.created_by == team_lead
    page = client.get(reverse("letter_print")).content.decode()
    assert "Keine Briefe zum Drucken." in page
    assert reverse("letter_print_batch", args=[batch.pk]) in page

    download = client.get(reverse("letter_print_batch", args=[batch.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    data = b"".join(download.streaming_content)
    assert len(pdf_pages(data)) == batch.page_count


def test_agents_get_403_and_other_brands_404(client, ready, agent_a, brand_b, team_lead):
    call_command("print_letters", "--date", "25.11.2026")
    batch = PrintBatch.objects.get()
    client.force_login(agent_a)
    assert client.get(reverse("letter_print")).status_code == 403
    assert (
        client.post(
            reverse("letter_print"), {"brand": batch.brand_id, "day": "25.11.2026"}
        ).status_code
        == 403
    )
    assert client.get(reverse("letter_print_batch", args=[batch.pk])).status_code == 403

    from kommunikation.roles import TEAM_LEAD
    from tests.factories import UserFactory

    lead_b = UserFactory(username="lead.b", brands=[brand_b], roles=[TEAM_LEAD])
    client.force_login(lead_b)
    assert client.get(reverse("letter_print_batch", args=[batch.pk])).status_code == 404
    page = client.get(reverse("letter_print")).content.decode()
    assert "Clara Weber" not in page and "LaderThuis" not in page
    # brand A's letters cannot be batched by a lead of brand B
    response = client.post(reverse("letter_print"), {"brand": batch.brand_id, "day": "25.11.2026"})
    assert response.status_code == 400


def test_the_daily_schedule_prints_every_self_printing_brand(ready):
    from kommunikation.tasks import print_letters

    assert (
        print_letters()
        == "1 Druckstapel, 3 Briefe, " + f"{PrintBatch.objects.get().page_count} Seiten"
    )


def test_a_duplex_batch_starts_every_letter_on_a_new_sheet(ready, brand_a):
    from kommunikation.letters.models import LetterConnection

    LetterConnection.objects.create(brand=brand_a, mode="selfprint", print_mode="duplex")
    call_command("print_letters", "--date", "25.11.2026")

    batch = PrintBatch.objects.get()
    pages = pdf_pages(batch.file.read())
    # cover 1 + blank, then each letter padded to an even count
    expected = 2 + sum(letter.pages + letter.pages % 2 for letter in ready)
    assert len(pages) == batch.page_count == expected
    assert "Beidseitig drucken." in pages[0] and pages[1].strip() == ""
    starts = [
        next(i for i, text in enumerate(pages) if i and name in text)
        for name in ("Anna Müller", "Bernd Schulz", "Clara Weber")
    ]
    assert starts[0] == 2 and all(index % 2 == 0 for index in starts)  # each on a front side
