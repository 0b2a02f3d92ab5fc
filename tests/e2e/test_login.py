from __future__ import annotations

import pytest

from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_agent_logs_in_and_sees_the_inbox(page, agent_a):
    login(page, agent_a)

    assert page.url.endswith("/")
    assert page.locator("h1").inner_text() == "Posteingang"


def test_a_wrong_password_is_refused_in_german(page, agent_a):
    login(page, agent_a, password="falsch")

    assert "Benutzername oder Passwort ist falsch" in page.locator("[role=alert]").inner_text()
