"""A fake Firebase project on a local server (pytest-httpserver): the OAuth2 token endpoint
of a service account and FCM HTTP v1's send endpoint, in the shapes of
reference/push-fcm.md (§2 token, §4 error envelope)."""

from __future__ import annotations

import base64
import functools
import json

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from werkzeug import Request, Response

PROJECT = "demo-proj"
SEND_PATH = f"/v1/projects/{PROJECT}/messages:send"
TOKEN_PATH = "/token"
DEVICE = "fcm-device-token-aaaa:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


@functools.cache
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account(server, *, key_id: str = "key-1") -> dict:
    pem = (
        private_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": "push@demo-proj.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": server.url_for(TOKEN_PATH),
    }


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def read_assertion(assertion: str) -> tuple[dict, dict]:
    """(header, claims) of a JWT whose RS256 signature our key's public half verifies."""
    header, claims, signature = assertion.split(".")
    private_key().public_key().verify(
        _b64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return json.loads(_b64(header)), json.loads(_b64(claims))


def token_handler(tokens: list[str], seen: list[dict] | None = None):
    """Answers the JWT bearer grant with the next access token of ``tokens``."""
    issued = iter(tokens)

    def handle(request: Request) -> Response:
        assert request.form["grant_type"] == JWT_BEARER
        header, claims = read_assertion(request.form["assertion"])
        if seen is not None:
            seen.append({"header": header, "claims": claims})
        body = {"access_token": next(issued), "expires_in": 3599, "token_type": "Bearer"}
        return Response(json.dumps(body), content_type="application/json")

    return handle


def fcm_error(http: int, status: str, message: str, code: str = "", extra: list | None = None):
    details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]
    body = {
        "error": {
            "code": http,
            "message": message,
            "status": status,
            "details": (details if code else []) + (extra or []),
        }
    }
    return body


def sent(name: str = f"projects/{PROJECT}/messages/0:1500415314455276%31bd1c9631bd1c96") -> dict:
    return {"name": name}
