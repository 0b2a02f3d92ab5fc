"""German is the source language; the English and Dutch catalogues are complete, compiled and used."""

from __future__ import annotations

import datetime as dt
import gettext
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ["en", "nl"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]|%[sdr]|\{\{[^}]*\}\}|</?\w+[^>]*>")


def unquote(line: str) -> str:
    """The text of one quoted .po line ("..." with C escapes)."""
    body = line[line.index('"') + 1 : line.rindex('"')]
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], body)


def read_po(path: Path) -> list[dict]:
    """Entries of a .po file: flags, msgctxt, msgid, msgid_plural, msgstr / msgstr[n]."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry: dict = {"flags": set()}
        key = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"].update(f.strip() for f in line[2:].split(","))
            elif line.startswith("#~"):
                entry["obsolete"] = True
            elif line.startswith("#") or not line.strip():
                continue
            elif line.startswith('"'):
                entry[key] += unquote(line)
            else:
                key = line.split(" ", 1)[0]
                entry[key] = unquote(line)
        if "msgid" in entry and not entry.get("obsolete"):
            entries.append(entry)
    return entries


def translations(entry: dict) -> list[tuple[str, str]]:
    """(source, translation) pairs of an entry; plural entries give one pair per form."""
    if "msgid_plural" in entry:
        return [(entry["msgid"], entry["msgstr[0]"]), (entry["msgid_plural"], entry["msgstr[1]"])]
    return [(entry["msgid"], entry["msgstr"])]


def catalogue_key(entry: dict) -> str:
    key = entry["msgid"]
    return f"{entry['msgctxt']}\x04{key}" if "msgctxt" in entry else key


def po_path(language: str) -> Path:
    return ROOT / "config" / "locale" / language / "LC_MESSAGES" / "django.po"


def entries(language: str) -> list[dict]:
    """The entries of a catalogue without its header."""
    return [e for e in read_po(po_path(language)) if e["msgid"]]


@pytest.fixture(params=LANGUAGES)
def language(request) -> str:
    return request.param


def test_each_catalogue_is_there_and_not_trivial(language):
    assert len(entries(language)) > 500
    header = next(e for e in read_po(po_path(language)) if e["msgid"] == "")
    assert f"Language: {language}\n" in header["msgstr"]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in header["msgstr"]
    assert "fuzzy" not in header["flags"]


def test_the_catalogues_translate_the_same_strings():
    """A German string added with its English translation needs its Dutch one too."""
    english = {catalogue_key(e) for e in entries("en")}
    dutch = {catalogue_key(e) for e in entries("nl")}

    assert (english - dutch, dutch - english) == (set(), set())


def test_the_dutch_catalogue_is_not_a_copy_of_the_english_one():
    english = {catalogue_key(e): translations(e) for e in entries("en")}
    same = [
        source
        for entry in entries("nl")
        for (source, dutch), (_, english_text) in zip(
            translations(entry), english.get(catalogue_key(entry), []), strict=False
        )
        if dutch == english_text and " " in dutch
    ]

    assert len(same) < 10, same


def test_every_entry_is_translated_and_none_is_fuzzy(language):
    catalogue = entries(language)
    untranslated = [e["msgid"] for e in catalogue if not all(t for _, t in translations(e))]
    fuzzy = [e["msgid"] for e in catalogue if "fuzzy" in e["flags"]]

    assert untranslated == []
    assert fuzzy == []


def test_translations_keep_every_placeholder_and_tag(language):
    broken = [
        (source, translated)
        for entry in entries(language)
        for source, translated in translations(entry)
        if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(translated))
    ]

    assert broken == []


def test_the_mo_file_is_compiled_from_the_current_po(language):
    catalogue = entries(language)
    with po_path(language).with_suffix(".mo").open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog
    compiled = {key if isinstance(key, str) else key[0] for key in catalog} - {""}
    expected = {catalogue_key(e) for e in catalogue}

    assert compiled == expected
    singular = [e for e in catalogue if "msgid_plural" not in e]
    stale = [e["msgid"] for e in singular if catalog[catalogue_key(e)] != e["msgstr"]]
    assert stale == []


def test_the_catalogues_hold_every_string_marked_in_the_code(tmp_path):
    """makemessages on a copy of the sources finds no msgid a committed .po lacks."""
    ignore = shutil.ignore_patterns(".venv", "var", ".git", "tests", "__pycache__", "*.mo")
    copy = tmp_path / "src"
    shutil.copytree(ROOT, copy, ignore=ignore)
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "en", "-l", "nl", "--ignore=.venv/*"],
        cwd=copy,
        env={"DEBUG": "true", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr

    missing = {}
    for language in LANGUAGES:
        po = copy / po_path(language).relative_to(ROOT)
        extracted = {catalogue_key(e) for e in read_po(po) if e["msgid"]}
        missing[language] = extracted - {catalogue_key(e) for e in entries(language)}
    assert missing == {language: set() for language in LANGUAGES}


@pytest.mark.django_db
def test_the_login_page_is_german_by_default(client):
    response = client.get("/anmelden/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Anmelden" in page
    assert "Passwort" in page
    assert '<html lang="de">' in page


@pytest.mark.django_db
def test_the_login_page_is_english_with_the_language_cookie(client):
    client.cookies["django_language"] = "en"

    response = client.get("/anmelden/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Log in" in page
    assert "Password" in page
    assert "Anmelden" not in page
    assert '<html lang="en">' in page


@pytest.mark.django_db
def test_the_login_page_is_english_for_a_browser_asking_for_english(client):
    response = client.get("/anmelden/", headers={"accept-language": "en-GB,en;q=0.9"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Log in" in page
    assert "Username" in page


@pytest.mark.django_db
def test_the_login_page_is_dutch_with_the_language_cookie(client):
    client.cookies["django_language"] = "nl"

    response = client.get("/anmelden/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Inloggen" in page
    assert "Wachtwoord" in page
    assert "Gebruikersnaam" in page
    assert "Anmelden" not in page
    assert '<html lang="nl">' in page


@pytest.mark.django_db
def test_the_login_page_is_dutch_for_a_browser_asking_for_dutch(client):
    response = client.get("/anmelden/", headers={"accept-language": "nl-NL,nl;q=0.9,en;q=0.5"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Inloggen" in page
    assert "Wachtwoord" in page
    assert '<html lang="nl">' in page


@pytest.mark.django_db
def test_the_language_switch_offers_dutch_and_sets_it(client):
    page = client.get("/anmelden/").content.decode()
    assert '<option value="nl" lang="nl">Nederlands</option>' in page

    response = client.post("/i18n/setlang/", {"language": "nl", "next": "/anmelden/"})

    assert response.status_code == 302
    assert response.cookies["django_language"].value == "nl"
    assert "Inloggen" in client.get("/anmelden/").content.decode()


@pytest.mark.django_db
def test_the_language_switch_sets_english_and_back_to_german(client):
    page = client.get("/anmelden/").content.decode()
    assert 'action="/i18n/setlang/"' in page
    assert '<option value="en" lang="en">English</option>' in page

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/anmelden/"})

    assert response.status_code == 302
    assert response["Location"] == "/anmelden/"
    assert response.cookies["django_language"].value == "en"
    assert "Log in" in client.get("/anmelden/").content.decode()

    client.post("/i18n/setlang/", {"language": "de", "next": "/anmelden/"})

    assert "Anmelden" in client.get("/anmelden/").content.decode()


@pytest.mark.django_db
def test_the_language_switch_requires_the_csrf_token():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/i18n/setlang/", {"language": "en"})

    assert response.status_code == 403


def render_date_and_money(language: str) -> str:
    template = Template(
        '{{ d|date:"SHORT_DATE_FORMAT" }} {{ d|date }} {{ amount|floatformat:"2g" }}'
    )
    context = Context({"d": dt.date(2026, 11, 22), "amount": Decimal("1234.5")})
    with translation.override(language):
        return template.render(context)


def test_dates_and_amounts_render_in_german_format_in_german():
    assert render_date_and_money("de") == "22.11.2026 22. November 2026 1.234,50"


def test_dates_and_amounts_render_in_english_format_in_english():
    assert render_date_and_money("en") == "11/22/2026 Nov. 22, 2026 1,234.50"


def test_dates_and_amounts_render_in_dutch_format_in_dutch():
    assert render_date_and_money("nl") == "22-11-2026 22 november 2026 1.234,50"


def test_a_translated_model_label_follows_the_active_language():
    from conversations.models import Conversation

    with translation.override("de"):
        german = str(Conversation._meta.verbose_name)
    with translation.override("en"):
        english = str(Conversation._meta.verbose_name)
    with translation.override("nl"):
        dutch = str(Conversation._meta.verbose_name)

    assert (german, english, dutch) == ("Konversation", "Conversation", "Gesprek")
