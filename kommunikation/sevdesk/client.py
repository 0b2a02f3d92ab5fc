"""A small sevDesk API client: paginated lists, retries, errors in plain words.

Requests are serial (sevDesk publishes no rate limit; we stay polite). 429 and 5xx are
retried with exponential backoff, honouring ``Retry-After``; ``sleep`` is injectable so tests
run instantly. A 401 becomes ``SevdeskAuthError`` whose message tells an admin what to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

USER_AGENT = "Kundenkommunikation sevDesk-Sync/1.0 (+https://example.org/kundenkommunikation)"
MAX_ATTEMPTS = 5
MAX_WAIT = 60.0  # seconds: a longer Retry-After is not waited for within one sync


class SevdeskError(Exception):
    """The sevDesk API could not answer usefully; the message is for the admin."""


class SevdeskAuthError(SevdeskError):
    """401: the token is not (or no longer) valid."""


def _explain_401() -> str:
    return _(
        "sevDesk lehnt den API-Token ab (HTTP 401). Wahrscheinlich wurde der Token in sevDesk "
        "neu erzeugt (der alte gilt dann nicht mehr) oder der sevDesk-Benutzer, zu dem er "
        "gehört, wurde gelöscht. Bitte in sevDesk unter Einstellungen → Benutzer einen "
        "gültigen Token kopieren und in der sevDesk-Verbindung eintragen."
    )


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After", "").strip()
    if raw.isdigit():
        return float(raw)
    return None  # an HTTP date or garbage: use our own backoff


class SevdeskClient:
    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
        page_size: int | None = None,
    ):
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={
                # the raw token, no "Bearer" (sevDesk's api_key scheme)
                "Authorization": token,
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=httpx.Timeout(timeout or settings.SEVDESK_TIMEOUT),
        )
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.page_size = page_size or settings.SEVDESK_PAGE_SIZE
        self.requests = 0  # made, retries included (the bench reports it)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SevdeskClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """One GET with retries; the decoded JSON object."""
        for attempt in range(1, self.max_attempts + 1):
            self.requests += 1
            try:
                response = self.http.get(path, params=params)
            except httpx.TransportError as exc:
                if attempt == self.max_attempts:
                    raise SevdeskError(
                        _("sevDesk ist nicht erreichbar: %(error)s") % {"error": exc}
                    ) from exc
                self.sleep(min(2.0 ** (attempt - 1), MAX_WAIT))
                continue
            if response.status_code == 401:
                raise SevdeskAuthError(_explain_401())
            if response.status_code == 429 or response.status_code >= 500:
                if attempt == self.max_attempts:
                    raise SevdeskError(
                        _("sevDesk antwortet nach %(n)s Versuchen mit HTTP %(status)s.")
                        % {"n": attempt, "status": response.status_code}
                    )
                wait = _retry_after(response)
                if wait is None:
                    wait = 2.0 ** (attempt - 1)
                self.sleep(min(wait, MAX_WAIT))
                continue
            if response.status_code >= 400:
                raise SevdeskError(
                    _("sevDesk antwortet mit HTTP %(status)s: %(message)s")
                    % {"status": response.status_code, "message": _error_message(response)}
                )
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("objects"), list):
                raise SevdeskError(_("sevDesk antwortet ohne „objects“-Liste."))
            return body
        raise AssertionError("unreachable")

    def iter_objects(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict]:
        """Every object of a list, page by page (limit/offset, countAll on the first page).

        Stops at a page shorter than the limit, or when ``total`` objects were read.
        """
        offset = 0
        total: int | None = None
        while True:
            query = {**(params or {}), "limit": self.page_size, "offset": offset}
            if offset == 0:
                query["countAll"] = "true"
            body = self.get(path, query)
            if "total" in body:
                total = int(str(body["total"]))
            objects = [o for o in body["objects"] if isinstance(o, dict)]
            yield from objects
            offset += len(body["objects"])
            if len(body["objects"]) < self.page_size or (total is not None and offset >= total):
                return


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        return str(error.get("message") or error)[:300]
    except (ValueError, AttributeError):
        return response.text[:300]
