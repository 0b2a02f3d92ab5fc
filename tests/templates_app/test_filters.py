from __future__ import annotations

import datetime as dt
from decimal import Decimal

from templates_app.templatetags.kk import datum, money, salutation_for


def test_money_is_german_and_decimal_exact():
    assert money(Decimal("1234.56")) == "1.234,56\u00a0€"
    assert money(0.1 + 0.2) == "0,30\u00a0€"
    assert money(Decimal("-1000000")) == "-1.000.000,00\u00a0€"
    assert money(Decimal("2.005")) == "2,01\u00a0€"  # commercial rounding, not banker's


def test_money_in_english_and_dutch():
    assert money(Decimal("1234.5"), "en") == "€1,234.50"
    assert money(Decimal("1234.5"), "nl") == "€ 1.234,50"


def test_datum_long_short_and_weekday():
    day = dt.date(2025, 3, 4)
    assert datum(day) == "4. März 2025"
    assert datum(day, "short") == "04.03.2025"
    assert datum(day, "weekday") == "Dienstag, 4. März 2025"
    assert datum(day, "en") == "4 March 2025"
    assert datum(day, "nl weekday") == "dinsdag 4 maart 2025"


def test_salutation_formal_informal_and_neutral():
    frau = {"gender": "f", "first_name": "Anna", "last_name": "Müller"}
    herr = {"gender": "m", "title": "Dr.", "first_name": "Jan", "last_name": "Schmidt"}
    neutral = {"gender": "d", "first_name": "Alex", "last_name": "Meyer"}
    assert salutation_for(frau) == "Sehr geehrte Frau Müller"
    assert salutation_for(herr) == "Sehr geehrter Herr Dr. Schmidt"
    assert salutation_for(neutral) == "Guten Tag Alex Meyer"
    assert salutation_for({**frau, "informal": True}) == "Hallo Anna"
    assert salutation_for({}) == "Sehr geehrte Damen und Herren"


def test_salutation_in_english_and_dutch():
    frau = {"gender": "f", "first_name": "Anna", "last_name": "Müller"}
    assert salutation_for(frau, "en") == "Dear Ms Müller"
    assert salutation_for(frau, "nl") == "Geachte mevrouw Müller"
    assert salutation_for({**frau, "informal": True}, "nl") == "Hoi Anna"
