"""Encryption at rest for the event sources' signing secrets.

HMAC verification needs the secret itself, so it cannot be hashed like a password; it is
stored encrypted (Fernet: AES-128-CBC + HMAC-SHA256) with a key derived from SECRET_KEY, so a
leaked database dump or backup does not reveal it. Rotating SECRET_KEY keeps working while
the old key is listed in SECRET_KEY_FALLBACKS; secrets encrypted with a key that is gone can no
longer be read (the API refuses their signatures, the admin says so, a rotation fixes it).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_INFO = b"kommunikation.EventSource.secret"


class UnreadableSecret(Exception):
    """Encrypted with a SECRET_KEY that is neither current nor a fallback."""


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(
                    HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
                        key.encode()
                    )
                )
            )
            for key in keys
        ]
    )


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode() if plain else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise UnreadableSecret from None
