"""Standard Webhooks signatures for the event API (``/work``: reference/webhook-signatures.md).

The sender signs ``"{webhook-id}.{webhook-timestamp}.{raw body}"`` with HMAC-SHA256 and the
base64-decoded ``whsec_`` secret and sends ``webhook-signature: v1,<base64>`` (several,
space-separated, during a rotation). We verify with the reference implementation
(``standardwebhooks``): constant-time comparison (``hmac.compare_digest``) and a replay
window of 5 minutes either side of our clock. Every failure is one answer to the caller
(401), the reason only goes to our log, so a caller learns nothing about which check failed.
"""

from __future__ import annotations

import datetime as dt
import re

from standardwebhooks import Webhook, WebhookVerificationError

REPLAY_WINDOW = dt.timedelta(minutes=5)  # the library's fixed tolerance; the window
# the spec forbids "." in the id (it separates the signed parts); we also bound its length
WEBHOOK_ID = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")


class SignatureError(Exception):
    """The request is not signed by this source (reason for our log only)."""


def verify(body: bytes, headers, secrets: list[tuple[str, str]]) -> str:
    """Which secret ("current" or "previous") signed the request; raises SignatureError.

    ``headers`` is the request's headers (case-insensitive mapping); ``secrets`` the
    source's (which, secret) pairs.
    """
    names = ("webhook-id", "webhook-timestamp", "webhook-signature")
    wanted = {name: headers.get(name, "") for name in names}
    if not all(wanted.values()):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not WEBHOOK_ID.match(wanted["webhook-id"]):
        raise SignatureError("webhook-id is not [A-Za-z0-9_-]{1,100}")
    if not wanted["webhook-timestamp"].isdigit():
        # integer Unix seconds only (the library would accept "1e9" or milliseconds' floats)
        raise SignatureError("webhook-timestamp is not integer seconds")
    last = "no secret"
    for which, secret in secrets:
        try:
            Webhook(secret).verify(body, wanted, json_parse=False)
        except WebhookVerificationError as exc:
            last = str(exc)
            if "timestamp" in last:
                break  # the same for every secret: outside the replay window
        except ValueError as exc:
            # a malformed signature list ("garbage", bad base64), a body that is not UTF-8
            last = f"malformed: {exc}"
        else:
            return which
    raise SignatureError(last)


def sign(*, secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The ``webhook-signature`` value a sender would send (for tests, docs and the demo)."""
    text = body.decode() if isinstance(body, bytes) else body
    return Webhook(secret).sign(msg_id, dt.datetime.fromtimestamp(timestamp, tz=dt.UTC), text)
