"""Login lockout plumbing for django-axes: the client's IP, one limit per bucket, the page.

Axes guards every ``authenticate(request=...)`` call (our /anmelden/, the admin login and
anything added later); these are the three hooks its settings point at.
"""

from __future__ import annotations

import ipaddress

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit, get_lockout_parameters
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The address of the client that sent the request, as far as our own proxies vouch for it.

    Each of the ``TRUSTED_PROXY_COUNT`` reverse proxies in front of us appends the address
    it received the request from to X-Forwarded-For; whatever stands left of those entries
    was written by the client and proves nothing. So the client is the N-th entry from the
    right. With no trusted proxy (the default) the header is ignored and REMOTE_ADDR counts.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if not hops:
        return remote  # reached us directly, past the proxies
    # fewer entries than proxies: every entry is a proxy's, the left-most is the farthest
    return _valid_ip(hops[-min(proxies, len(hops))]) or remote


class LoginLockoutHandler(AxesDatabaseHandler):
    """Axes' database handler with a limit per bucket.

    ``AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]`` keeps two separate counts;
    Axes compares the larger with one ``AXES_FAILURE_LIMIT``. An office behind one NAT
    address needs more room than a single account, so the IP bucket has its own limit
    (``LOGIN_FAILURES_PER_IP``): its count is reported relative to it, and either bucket
    reaching its own limit locks.
    """

    def get_failures(self, request, credentials: dict | None = None) -> int:
        limit = get_failure_limit(request, credentials)
        buckets = zip(
            get_lockout_parameters(request, credentials),
            self.get_user_attempts(request, credentials),
            strict=True,
        )
        worst = 0
        for parameter, attempts in buckets:
            failures = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            own_limit = settings.LOGIN_FAILURES_PER_IP if parameter == "ip_address" else limit
            worst = max(worst, failures - own_limit + limit)
        return worst


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    """The German (or English) page for a locked client, 429 Too Many Requests."""
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else None
    return render(
        request,
        "registration/locked_out.html",
        {"minutes": minutes},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
