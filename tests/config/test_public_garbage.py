"""Every public URL (no login) answers garbage with 4xx, never 500.

The public URLs are found from the URL configuration, so a new one joins the sweep:
every pattern with a ``<str:token>`` (signed links in messages), plus the login page.
Tokens are garbage, or correctly signed for the right purpose but carrying garbage
(what a leaked key, an old token format or a bug elsewhere would produce)."""

from __future__ import annotations

import pytest
from django.core import signing
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from compliance import services
from kommunikation import tracking
from tests.factories import CustomerFactory

GARBAGE_TOKENS = [
    "x",
    "-",
    ":",
    "a:b:c",
    "x" * 3000,
    "%00",
    "..%2F..%2Fetc%2Fpasswd",
    "eyJjIjoxfQ",  # a payload without its signature
    "ünïcödé",
]

# what each signed token may carry when it is signed correctly but still nonsense
NONSENSE = ["x", 5, None, [1, 2], {}, {"c": "x"}, {"c": None}, {"c": 10**30}, {"c": [1]},
            {"o": "x"}, {"o": 10**30}, {"o": [1]}]  # fmt: skip
SIGNED = {
    "compliance:preferences": [signing.dumps(v, salt=services.PREFERENCE_SALT) for v in NONSENSE],
    "compliance:unsubscribe": [signing.dumps(v, salt=services.UNSUBSCRIBE_SALT) for v in NONSENSE]
    + [signing.dumps({"c": "1", "ch": 5, "k": None, "a": []}, salt=services.UNSUBSCRIBE_SALT)],
    "compliance:confirm": [
        signing.TimestampSigner(salt=services.DOUBLE_OPT_IN_SALT).sign(v)
        for v in ["x", "", "-1", "1.5", str(10**30)]
    ],
    "tracking_open": [signing.dumps(v, salt=tracking.TRACKING_SALT) for v in NONSENSE],
    "tracking_click": [signing.dumps(v, salt=tracking.TRACKING_SALT) for v in NONSENSE],
    "tracking_invite": [signing.dumps(v, salt=tracking.INVITE_SALT) for v in NONSENSE + [0, -1]],
    "attachment_inline": [
        signing.TimestampSigner(salt="inline-attachment").sign(v)
        for v in ["x", "", "-1", str(10**30)]
    ],
}


def token_patterns() -> list[str]:
    """Names of every URL pattern that takes a <str:token>."""
    names = []

    def walk(patterns, namespace=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, f"{p.namespace}:" if p.namespace else namespace)
            elif isinstance(p, URLPattern) and "token" in p.pattern.converters:
                names.append(namespace + p.name)

    walk(get_resolver().url_patterns)
    return sorted(names)


def cases():
    for name in token_patterns():
        # ids by position: signed tokens carry a timestamp, and xdist workers must
        # collect the same ids
        for index, token in enumerate(GARBAGE_TOKENS + SIGNED.get(name, [])):
            yield pytest.param(name, token, id=f"{name}-{index}")


def test_every_token_url_is_in_the_sweep():
    # a new public link must say here what signed nonsense it could be handed
    assert set(token_patterns()) == set(SIGNED)


@pytest.fixture
def anonymous():
    return Client(enforce_csrf_checks=True, raise_request_exception=False)


@pytest.fixture
def customer(brand_a):
    """Someone a signed token with a real id could point at."""
    return CustomerFactory(brand=brand_a, email="anna@kunde.example")


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "token"), list(cases()))
@pytest.mark.parametrize("method", ["get", "post", "head", "put"])
def test_a_public_link_answers_garbage_with_4xx(anonymous, customer, name, token, method):
    url = reverse(name, kwargs={"token": token}) + "?next=%00&page=-1&token[]=x&q=%ff"
    data = {"List-Unsubscribe": "One-Click"} if method == "post" else None

    response = getattr(anonymous, method)(url, data)

    assert 400 <= response.status_code < 500, (response.status_code, response.content[:200])


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["next=%00", "next=//evil.example", "next=javascript:alert(1)",
                                   "next=" + "x" * 5000, "lang=\x00"])  # fmt: skip
def test_the_login_page_answers_garbage_query_parameters_without_500(anonymous, query):
    response = anonymous.get(f"/anmelden/?{query}")
    posted = anonymous.post(f"/anmelden/?{query}", {"username": "\x00", "password": ["a", "b"]})

    assert response.status_code < 500
    assert posted.status_code < 500
