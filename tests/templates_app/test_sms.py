from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from templates_app.sms import sms_info


def test_plain_gsm7_fits_160_per_sms_and_153_per_part():
    assert sms_info("a" * 160).segments == 1
    assert sms_info("a" * 161).segments == 2
    assert sms_info("a" * 306).segments == 2
    assert sms_info("a" * 307).segments == 3
    assert sms_info("Grüße äöü ß").encoding == "GSM-7"


def test_extension_characters_count_twice():
    info = sms_info("€" * 80)
    assert (info.encoding, info.units, info.segments) == ("GSM-7", 160, 1)
    assert sms_info("[" * 81).segments == 2


def test_one_character_outside_gsm_switches_to_ucs2():
    assert sms_info("a" * 70 + "").encoding == "GSM-7"
    info = sms_info("Café ✓")
    assert info.encoding == "UCS-2"
    assert sms_info("✓" * 70).segments == 1
    assert sms_info("✓" * 71).segments == 2
    assert sms_info("✓" * 134).segments == 2
    assert sms_info("😀" * 35).units == 70  # surrogate pairs take two units


def test_an_sms_template_over_the_limit_is_refused_at_save(template_factory, settings):
    settings.SMS_MAX_SEGMENTS = 1
    with pytest.raises(ValidationError) as exc:
        template_factory(channel="sms", sms_text="Auftrag {{ order_number }} " + "x" * 160)
    assert "höchstens 1" in str(exc.value)


def test_bitrix24_character_cap_is_configurable(template_factory, settings):
    settings.SMS_MAX_CHARS = 200
    with pytest.raises(ValidationError) as exc:
        template_factory(channel="sms", sms_text="y" * 201)
    assert "höchstens 200" in str(exc.value)
