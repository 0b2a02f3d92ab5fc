"""Local stand-ins for the OAuth2 side of Microsoft 365 and Google Workspace.

- ``MicrosoftLogin``: the Microsoft identity platform's tenant discovery and v2.0 token
  endpoint (client credentials) over HTTPS, since msal accepts only https authorities;
  a throw-away self-signed certificate is trusted through SSL_CERT_FILE (httpx reads it).
- ``google_service_account``: a service-account key whose ``token_uri`` is a local
  pytest-httpserver; ``google_token_handler`` checks the signed JWT-bearer assertion.
- ``XOAuth2SMTP``: an aiosmtpd handler with AUTH XOAUTH2.
Bodies are in the providers' documented shapes (../shared/reference/mail-oauth2.md).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import re
import socket
import ssl
import tempfile
from pathlib import Path
from urllib.parse import parse_qs

import jwt
import pytest
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TENANT = "8a2f8c1e-5d7b-4c1a-9f3e-2b6d4e8a1c90"
CLIENT_ID = "3f1b6c2d-9a4e-4b8f-8c7d-1e2a3b4c5d6e"
SECRET = "Qx8~kundenkommunikation-geheim"
MS_SCOPE = "https://outlook.office365.com/.default"


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _aad_error(status: int, error: str, code: int, text: str) -> Response:
    return _json(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {text} Trace ID: 0f3c Correlation ID: 7d1e "
            "Timestamp: 2026-11-25 11:00:00Z",
            "error_codes": [code],
            "timestamp": "2026-11-25 11:00:00Z",
            "trace_id": "0f3c1a2b-0000-0000-0000-000000000000",
            "correlation_id": "7d1e2f3a-0000-0000-0000-000000000000",
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
    )


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # wide validity: the tests travel in time
        .not_valid_before(now - dt.timedelta(days=3650))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class MicrosoftLogin:
    """login.microsoftonline.com for one tenant and one app registration."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kk-mslogin-"))
        self.cert, key = self_signed(self.dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.server = HTTPServer(host="localhost", port=0, ssl_context=context)
        anything = re.compile(".*")
        self.server.expect_request(anything, method="GET").respond_with_handler(self.discovery)
        self.server.expect_request(anything, method="POST").respond_with_handler(self.token)
        self.tokens_issued: list[str] = []
        self.token_requests: list[dict] = []
        self.consent = True

    @property
    def url(self) -> str:
        return f"https://localhost:{self.server.port}"

    def start(self) -> MicrosoftLogin:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.clear()
        if self.server.is_running():
            self.server.stop()

    def discovery(self, request: Request) -> Response:
        tenant, _, rest = request.path.strip("/").partition("/")
        if rest != "v2.0/.well-known/openid-configuration":
            return _json(404, {"error": "not_found"})
        if tenant != TENANT:
            return _aad_error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.",
            )
        base = f"{self.url}/{tenant}"
        return _json(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            },
        )

    def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        self.token_requests.append(form)
        if form.get("grant_type") != "client_credentials" or form.get("scope") != MS_SCOPE:
            return _aad_error(
                400, "invalid_scope", 70011, "The provided value for scope is invalid."
            )
        if form.get("client_id") != CLIENT_ID:
            return _aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the "
                f"directory '{TENANT}'.",
            )
        if form.get("client_secret") != SECRET:
            return _aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                "is the client secret value, not the client secret ID.",
            )
        if not self.consent:
            return _aad_error(
                400,
                "invalid_grant",
                65001,
                "The user or administrator has not consented to use the application.",
            )
        token = f"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.ms-{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        return _json(
            200,
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            },
        )


def google_service_account(token_uri: str) -> tuple[dict, rsa.RSAPublicKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "kundenkommunikation",
        "private_key_id": "5e1c9d0a7b",
        "private_key": pem,
        "client_email": "postfach@kundenkommunikation.iam.gserviceaccount.com",
        "client_id": "104857600000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }
    return info, key.public_key()


class GoogleToken:
    """oauth2.googleapis.com/token for the JWT-bearer grant of one service account."""

    def __init__(self, public_key, *, users: set[str]) -> None:
        self.public_key = public_key
        self.users = users
        self.delegated = True
        self.claims: list[dict] = []
        self.tokens_issued: list[str] = []

    def __call__(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        claims = jwt.decode(
            form["assertion"],
            self.public_key,
            algorithms=["RS256"],
            audience="https://oauth2.googleapis.com/token",
            options={"verify_exp": False, "verify_iat": False},
        )
        self.claims.append(claims)
        if not self.delegated or claims["scope"] != "https://mail.google.com/":
            return _json(
                401,
                {
                    "error": "unauthorized_client",
                    "error_description": "Client is unauthorized to retrieve access tokens using "
                    "this method, or client not authorized for any of the scopes requested.",
                },
            )
        if claims.get("sub") not in self.users:
            return _json(
                400, {"error": "invalid_grant", "error_description": "Invalid email or User ID"}
            )
        token = f"ya29.google-{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        return _json(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})


class XOAuth2SMTP:
    """An SMTP server that accepts AUTH XOAUTH2 for the (user, token) pairs ``accept`` allows."""

    def __init__(self) -> None:
        self.accept = lambda user, token: False
        self.messages: list[tuple[str, str, list[str], bytes]] = []
        self.attempts: list[tuple[str, str]] = []

    async def auth_XOAUTH2(self, server, args):
        if len(args) == 2:
            raw = base64.b64decode(args[1])
        else:
            raw = await server.challenge_auth("")  # aiosmtpd decodes the answer
        fields = dict(p.split("=", 1) for p in raw.decode().split("\x01") if "=" in p)
        pair = (fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer "))
        self.attempts.append(pair)
        if self.accept(*pair):
            return AuthResult(success=True, auth_data=pair)
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer"}))
        return AuthResult(
            success=False, handled=False, message="535 5.7.3 Authentication unsuccessful"
        )

    async def handle_DATA(self, server, session, envelope):
        user, token = session.auth_data or ("", "")
        self.messages.append((user, token, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


# --- fixtures (imported by the test modules that use them) ------------------------------


@pytest.fixture(scope="session")
def _ms_server():
    server = MicrosoftLogin().start()
    yield server
    server.stop()


@pytest.fixture
def ms_login(_ms_server, settings, monkeypatch):
    """The Microsoft login service, reset for each test; its certificate is trusted."""
    from conversations.mail_oauth import clear_token_cache

    monkeypatch.setenv("SSL_CERT_FILE", str(_ms_server.cert))  # httpx reads it
    settings.MAIL_OAUTH_MICROSOFT_LOGIN_URL = _ms_server.url
    _ms_server.tokens_issued.clear()
    _ms_server.token_requests.clear()
    _ms_server.consent = True
    clear_token_cache()
    yield _ms_server
    clear_token_cache()


@pytest.fixture
def xoauth2_smtp():
    from aiosmtpd.controller import Controller

    from conversations.mailbox_smtp import forget_refusals

    forget_refusals()
    handler = XOAuth2SMTP()
    with socket.socket() as sock:  # Controller cannot take port 0
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port, auth_require_tls=False)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()
    forget_refusals()
