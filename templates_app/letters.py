"""Letters as PDF in DIN 5008 Form B layout (weasyprint), and batches for in-house printing.

Nothing is fetched while rendering: fonts come from fontconfig (Debian's Liberation/DejaVu
packages) and the URL fetcher only allows file: and data: URLs.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

import weasyprint
from django.template.loader import get_template
from django.utils.safestring import mark_safe
from weasyprint.text.fonts import FontConfiguration

from templates_app.templatetags.kk import datum

_FETCHER = weasyprint.URLFetcher(allowed_protocols={"file", "data"}, timeout=1)

LABELS = {
    "de": {
        "customer": "Kundennr.",
        "date": "Datum",
        "page": "Seite",
        "of": "von",
        "phone": "Telefon",
        "email": "E-Mail",
    },
    "en": {
        "customer": "Customer no.",
        "date": "Date",
        "page": "Page",
        "of": "of",
        "phone": "Phone",
        "email": "Email",
    },
    "nl": {
        "customer": "Klantnr.",
        "date": "Datum",
        "page": "Pagina",
        "of": "van",
        "phone": "Telefoon",
        "email": "E-mail",
    },
}

COUNTRY_NAMES = {
    "AT": "ÖSTERREICH",
    "CH": "SCHWEIZ",
    "NL": "NIEDERLANDE",
    "BE": "BELGIEN",
    "FR": "FRANKREICH",
    "LU": "LUXEMBURG",
    "DK": "DÄNEMARK",
    "PL": "POLEN",
}


@dataclass
class Letter:
    brand: dict
    customer: dict
    subject: str
    body_html: str  # already rendered and escaped
    date: dt.date
    language: str = "de"
    reference: list[tuple[str, str]] = field(default_factory=list)


def address_lines(customer: dict, sender_country: str = "DE") -> list[str]:
    """The recipient block: company, name, street, postcode + city, country for foreign mail."""
    lines = []
    if customer.get("company"):
        lines.append(customer["company"])
    person = " ".join(
        p
        for p in (customer.get("title"), customer.get("first_name"), customer.get("last_name"))
        if p
    )
    if person and person != customer.get("company"):
        lines.append(person)
    if not lines and customer.get("name"):
        lines.append(customer["name"])
    for line in (
        customer.get("street"),
        f"{customer.get('postal_code', '')} {customer.get('city', '')}".strip(),
    ):
        if line:
            lines.append(line)
    country = customer.get("country") or sender_country
    if country != sender_country:
        lines.append(COUNTRY_NAMES.get(country, country))
    return lines


def _letter_context(letter: Letter) -> dict:
    labels = LABELS.get(letter.language, LABELS["de"])
    date_style = "" if letter.language == "de" else letter.language
    info = (
        [(labels["customer"], letter.customer.get("number", ""))]
        if letter.customer.get("number")
        else []
    )
    info += letter.reference
    if letter.brand.get("phone"):
        info.append((labels["phone"], letter.brand["phone"]))
    if letter.brand.get("email"):
        info.append((labels["email"], letter.brand["email"]))
    info.append((labels["date"], datum(letter.date, date_style)))
    return {
        "letter": letter,
        "brand": letter.brand,
        "labels": labels,
        "address": address_lines(letter.customer, letter.brand.get("country") or "DE"),
        "info": info,
        "body": mark_safe(letter.body_html),
        "language": letter.language,
    }


def letter_html(letter: Letter, *, with_css: bool = True) -> str:
    """The letter as an HTML document (with its stylesheet inline unless with_css=False)."""
    context = {**_letter_context(letter), "with_css": with_css}
    return get_template("templates_app/letter.html").render(context)


def letter_css(letter: Letter) -> str:
    """The letter's stylesheet (it depends on the brand colour and the language's labels)."""
    return get_template("templates_app/letter.css").render(_letter_context(letter))


class _Weasy(threading.local):
    """Per thread: one font configuration and the parsed stylesheets, reused across letters.

    Loading fonts and parsing the stylesheet for every letter cost about a third of the
    time of a letter; neither changes between letters of a brand and language.
    """

    def __init__(self):
        self.font_config: FontConfiguration | None = None
        self.stylesheets: dict[str, weasyprint.CSS] = {}

    def stylesheet(self, css: str) -> tuple[weasyprint.CSS, FontConfiguration]:
        if self.font_config is None:
            self.font_config = FontConfiguration()
        sheet = self.stylesheets.get(css)
        if sheet is None:
            if len(self.stylesheets) > 64:
                self.stylesheets.clear()
            sheet = self.stylesheets[css] = weasyprint.CSS(
                string=css, font_config=self.font_config, url_fetcher=_FETCHER, base_url="."
            )
        return sheet, self.font_config


_WEASY = _Weasy()


def render_letter_document(letter: Letter) -> weasyprint.Document:
    stylesheet, font_config = _WEASY.stylesheet(letter_css(letter))
    html = weasyprint.HTML(
        string=letter_html(letter, with_css=False), url_fetcher=_FETCHER, base_url="."
    )
    return html.render(font_config=font_config, stylesheets=[stylesheet])


def render_letter(letter: Letter, **options) -> bytes:
    """One letter as PDF bytes (A4, DIN 5008 Form B)."""
    return render_letter_document(letter).write_pdf(**options)


def render_letters_batch(letters: list[Letter], **options) -> bytes:
    """Many letters as one PDF for in-house printing.

    Each letter is laid out on its own (its page numbers count "Seite 1 von 2" per letter),
    then all pages are written in one go, which shares fonts across letters: faster and
    smaller than merging separate PDFs.
    """
    documents = [render_letter_document(letter) for letter in letters]
    if not documents:
        raise ValueError("no letters")
    pages = [page for document in documents for page in document.pages]
    return documents[0].copy(pages).write_pdf(**options)


def letter_for_text(
    *, brand, customer, subject: str, text: str, date: dt.date | None = None
) -> bytes:
    """A letter staff wrote as plain text, as PDF in the brand's layout (no template)."""
    from django.utils import timezone

    from templates_app.plain import NO_CUSTOMER, brand_data, customer_data
    from templates_app.rendering import text_to_html

    return render_letter(
        Letter(
            brand=brand_data(brand),
            customer=customer_data(customer) if customer is not None else NO_CUSTOMER,
            subject=subject,
            body_html=text_to_html(text),
            date=date or timezone.localdate(),
            language=getattr(customer, "language", "") or brand.default_language or "de",
        )
    )
