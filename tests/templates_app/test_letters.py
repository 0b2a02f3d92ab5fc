from __future__ import annotations

import datetime as dt
import io

from pypdf import PdfReader

from templates_app.letters import (
    Letter,
    letter_css,
    letter_html,
    render_letter,
    render_letters_batch,
)
from templates_app.plain import SAMPLE_BRAND, SAMPLE_CUSTOMER

MM = 72 / 25.4


def positions(pdf: bytes, page: int = 0) -> list[tuple[str, float, float]]:
    """(text, x mm from the left, y mm from the top) of each text run on a page."""
    found = []

    def visit(text, cm, tm, font_dict, font_size):
        if text.strip():
            # user space = text matrix applied to the current transformation matrix
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            found.append((text.strip(), x / MM, 297 - y / MM))

    PdfReader(io.BytesIO(pdf)).pages[page].extract_text(visitor_text=visit)
    return found


def letter(**kw) -> Letter:
    return Letter(
        brand=SAMPLE_BRAND,
        customer={**SAMPLE_CUSTOMER, **kw.pop("customer", {})},
        subject="1. Mahnung zur Rechnung RE-1",
        body_html=kw.pop("body_html", "<p>Sehr geehrte Frau Müller,</p><p>bitte zahlen Sie.</p>"),
        date=dt.date(2025, 7, 7),
        reference=[("Rechnungsnr.", "RE-1")],
    )


def test_the_address_lies_in_the_window_field_of_a_dl_envelope():
    pdf = render_letter(letter())
    runs = positions(pdf)
    address = [r for r in runs if r[0] in {"Anna Müller", "Hauptstraße 12", "10115 Berlin"}]
    assert len(address) == 3
    for _text, x, y in address:
        # Anschriftzone of DIN 5008 Form B: x 20..105 mm, y 62.7..90 mm (below the 17.7 mm Zusatzzone)
        assert 20 <= x <= 105
        assert 62.7 <= y <= 90
    (ret,) = [
        r for r in runs if r[0].startswith("Musterfirma GmbH · Beispielweg 1") and 40 < r[2] < 90
    ]
    assert 20 <= ret[1] <= 105 and 45 <= ret[2] <= 62.7  # Rücksendeangabe in the Zusatzzone
    (date,) = [r for r in runs if r[0] == "7. Juli 2025"]
    assert date[1] >= 125  # info block at 125 mm


def test_foreign_addresses_end_with_the_country_in_capitals():
    runs = positions(
        render_letter(letter(customer={"country": "AT", "city": "Wien", "postal_code": "1010"}))
    )
    assert "ÖSTERREICH" in [r[0] for r in runs]


def test_long_letters_get_page_numbers():
    pdf = render_letter(letter(body_html="<p>Absatz mit etwas Text.</p>" * 120))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    assert f"Seite 2 von {len(reader.pages)}" in reader.pages[1].extract_text()
    assert reader.pages[0].mediabox.width == pytest_approx(595.28)


def pytest_approx(value):
    import pytest

    return pytest.approx(value, abs=0.5)


def test_a_batch_merges_letters_keeping_page_numbers_per_letter():
    pdf = render_letters_batch([letter(customer={"last_name": f"Müller{i}"}) for i in range(3)])
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 3
    assert "Müller2" in reader.pages[2].extract_text()
    assert "Seite 1 von 1" in reader.pages[2].extract_text()


def test_remote_resources_are_never_fetched(httpserver):
    httpserver.expect_request("/logo.png").respond_with_data(b"x")
    render_letter(letter(body_html=f'<p><img src="{httpserver.url_for("/logo.png")}"></p>'))
    assert httpserver.log == []


def test_a_batch_of_brands_and_languages_keeps_each_letters_own_style_and_labels():
    english = letter()
    english.language = "en"
    other_brand = letter()
    other_brand.brand = {**SAMPLE_BRAND, "name": "LaderThuis", "color": "#ff6600"}
    pdf = render_letters_batch([letter(), english, other_brand, letter()])
    reader = PdfReader(io.BytesIO(pdf))
    texts = [page.extract_text() for page in reader.pages]
    assert ["Seite 1 von 1" in t for t in texts] == [True, False, True, True]
    assert "Page 1 of 1" in texts[1] and "Date" in texts[1]
    assert "LaderThuis" in texts[2] and "LaderThuis" not in texts[3]
    assert letter_css(other_brand) != letter_css(letter())
    assert "#ff6600" in letter_css(other_brand)
    assert "<style>" in letter_html(letter()) and "<style>" not in letter_html(
        letter(), with_css=False
    )
