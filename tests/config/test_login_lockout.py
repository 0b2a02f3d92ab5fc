"""One login limiter (django-axes) for every login path: per account and per client IP."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
PASSWORD = "geheim-123"
ADMIN_LOGIN = "/admin/login/"
OUR_LOGIN = "/anmelden/"
ATTACKER = "198.51.100.7"
COLLEAGUE = "198.51.100.8"
PROXY = "10.0.0.1"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # dozens of password checks per test; the hasher is not what is tested here
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def attempt(client, username, password="falsch", *, path=ADMIN_LOGIN, ip=ATTACKER, **meta):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip, **meta)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_limits_are_five_per_account_and_twenty_per_ip(settings):
    limits = (settings.AXES_FAILURE_LIMIT, settings.LOGIN_FAILURES_PER_IP)
    cool_off = settings.AXES_COOLOFF_TIME

    assert limits == (5, 20)
    assert cool_off == dt.timedelta(minutes=15)


def test_wrong_passwords_on_the_admin_login_lock_the_account(client, agent_a):
    codes = [attempt(client, "anna.agent").status_code for _ in range(5)]

    assert codes == [200, 200, 200, 200, 429]
    refused = attempt(client, "anna.agent", PASSWORD)
    assert refused.status_code == 429
    assert not logged_in(client)


def test_the_lockout_page_says_why_in_german(client, agent_a):
    for _ in range(5):
        response = attempt(client, "anna.agent", path=OUR_LOGIN)

    assert response.status_code == 429
    assert "Anmeldung gesperrt" in response.text
    assert (
        "Zu viele fehlgeschlagene Anmeldeversuche. Bitte versuchen Sie es in 15 Minuten erneut."
        in response.text
    )


def test_the_lockout_page_is_english_for_english_users(client, agent_a):
    client.cookies["django_language"] = "en"
    for _ in range(5):
        response = attempt(client, "anna.agent", path=OUR_LOGIN)

    assert response.status_code == 429
    assert "Too many failed login attempts. Please try again in 15 minutes." in response.text


def test_our_login_page_and_the_admin_login_share_one_count(client, agent_a):
    for _ in range(3):
        assert attempt(client, "anna.agent", path=OUR_LOGIN).status_code == 200
    for _ in range(2):
        last = attempt(client, "anna.agent", path=ADMIN_LOGIN)

    assert last.status_code == 429
    assert attempt(client, "anna.agent", PASSWORD, path=OUR_LOGIN).status_code == 429
    assert not logged_in(client)


def test_a_wrong_password_below_the_limit_still_lets_the_right_one_in(client, agent_a):
    for _ in range(4):
        attempt(client, "anna.agent", path=OUR_LOGIN)

    response = attempt(client, "anna.agent", PASSWORD, path=OUR_LOGIN)

    assert response.status_code == 302
    assert logged_in(client)


def test_spraying_many_usernames_from_one_ip_locks_the_ip(client, agent_a):
    codes = [attempt(client, f"nutzer{n}").status_code for n in range(20)]

    assert codes == [200] * 19 + [429]
    assert attempt(client, "anna.agent", PASSWORD).status_code == 429
    assert not logged_in(client)
    assert attempt(client, "anna.agent", PASSWORD, ip=COLLEAGUE).status_code == 302


def test_the_account_limit_holds_from_different_ips(client, agent_a):
    codes = [attempt(client, "anna.agent", ip=f"203.0.113.{n}").status_code for n in range(5)]

    assert codes == [200, 200, 200, 200, 429]
    assert attempt(client, "anna.agent", PASSWORD, ip="203.0.113.99").status_code == 429
    assert not logged_in(client)


def test_behind_a_trusted_proxy_the_client_ip_comes_from_x_forwarded_for(client, agent_a, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # the attacker writes his own X-Forwarded-For; the proxy appends the address it saw
    for n in range(20):
        last = attempt(
            client, f"nutzer{n}", ip=PROXY, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, {ATTACKER}"
        )

    assert last.status_code == 429
    attacker = attempt(client, "anna.agent", PASSWORD, ip=PROXY, HTTP_X_FORWARDED_FOR=ATTACKER)
    assert attacker.status_code == 429
    colleague = attempt(client, "anna.agent", PASSWORD, ip=PROXY, HTTP_X_FORWARDED_FOR=COLLEAGUE)
    assert colleague.status_code == 302
    assert logged_in(client)


def test_two_trusted_proxies_count_from_the_right(client, agent_a, settings):
    settings.TRUSTED_PROXY_COUNT = 2
    for n in range(20):
        last = attempt(
            client,
            f"nutzer{n}",
            ip=PROXY,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, {ATTACKER}, 10.0.0.2",
        )

    assert last.status_code == 429
    colleague = attempt(
        client, "anna.agent", PASSWORD, ip=PROXY, HTTP_X_FORWARDED_FOR=f"{COLLEAGUE}, 10.0.0.2"
    )
    assert colleague.status_code == 302


def test_without_trusted_proxies_a_spoofed_x_forwarded_for_is_ignored(client, agent_a):
    for n in range(20):
        last = attempt(client, f"nutzer{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    assert last.status_code == 429
    spoofed = attempt(client, "anna.agent", PASSWORD, HTTP_X_FORWARDED_FOR=COLLEAGUE)
    assert spoofed.status_code == 429


def test_a_garbled_forwarded_header_falls_back_to_the_proxy_address(client, agent_a, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    response = attempt(client, "anna.agent", ip=PROXY, HTTP_X_FORWARDED_FOR="unknown")

    assert response.status_code == 200
    assert list(AccessAttempt.objects.values_list("username", "ip_address")) == [
        ("anna.agent", PROXY)
    ]


def test_the_lockout_ends_after_the_cool_off_and_tries_meanwhile_do_not_extend_it(
    client, agent_a, _frozen
):
    for _ in range(5):
        attempt(client, "anna.agent")

    _frozen.shift(dt.timedelta(minutes=10))
    assert attempt(client, "anna.agent").status_code == 429
    _frozen.shift(dt.timedelta(minutes=4, seconds=59))
    assert attempt(client, "anna.agent", PASSWORD).status_code == 429
    _frozen.shift(dt.timedelta(seconds=2))
    response = attempt(client, "anna.agent", PASSWORD)

    assert response.status_code == 302
    assert logged_in(client)


def test_an_operator_lifts_a_lockout_with_axes_reset(client, agent_a):
    for _ in range(5):
        attempt(client, "anna.agent")

    call_command("axes_reset_username", "anna.agent", verbosity=0)

    assert attempt(client, "anna.agent", PASSWORD, ip=COLLEAGUE).status_code == 302


def test_axes_keeps_no_admin_pages(admin_client):
    assert admin_client.get("/admin/axes/accessattempt/").status_code == 404
