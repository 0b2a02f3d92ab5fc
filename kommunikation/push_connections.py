"""A brand's push connection: the Firebase project of its customer app and the service
account that may send to it (FCM HTTP v1).

The model belongs to the kommunikation app (kommunikation/models.py imports it), so its
table is ``kommunikation_pushconnection``.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kommunikation.events.crypto import UnreadableSecret, decrypt, encrypt

SERVICE_ACCOUNT_FIELDS = ("client_email", "private_key", "token_uri")


def parse_service_account(text: str) -> dict:
    """The service account JSON as a dict, or ValueError with the German reason.

    Checks the shape and that the private key can sign (google-auth reads it), so a
    pasted fragment is refused when it is saved, not at the first push.
    """
    from google.auth import crypt

    try:
        info = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError(
            _("Kein gültiges JSON (die Schlüsseldatei aus der Firebase-Konsole).")
        ) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValueError(
            _("Das ist keine Schlüsseldatei eines Dienstkontos (type: service_account).")
        )
    missing = [name for name in SERVICE_ACCOUNT_FIELDS if not isinstance(info.get(name), str)]
    if missing:
        raise ValueError(
            _("In der Schlüsseldatei fehlt: %(fields)s") % {"fields": ", ".join(missing)}
        )
    try:
        crypt.RSASigner.from_service_account_info(info)
    except (ValueError, TypeError):
        raise ValueError(_("Der private Schlüssel in der Datei ist nicht lesbar.")) from None
    return info


class PushConnection(models.Model):
    """One brand's Firebase project for push messages to its customer app.

    The service account's JSON (with its private key) is stored encrypted (as the event
    sources' secrets) and never shown again after saving; FCM_SERVICE_ACCOUNT_<SLUG> from
    the environment wins over it.
    """

    brand = models.OneToOneField(
        "kommunikation.BusinessEntity",
        on_delete=models.CASCADE,
        related_name="push_connection",
        verbose_name=gettext_lazy("Marke"),
    )
    project_id = models.CharField(
        gettext_lazy("Firebase-Projekt-ID"),
        max_length=100,
        blank=True,
        help_text=gettext_lazy("Leer: die project_id aus der Schlüsseldatei."),
    )
    service_account_encrypted = models.TextField(
        gettext_lazy("Dienstkonto (verschlüsselt)"), blank=True, editable=False
    )
    validate_only = models.BooleanField(
        gettext_lazy("nur prüfen (Testbetrieb)"),
        default=False,
        help_text=gettext_lazy("Firebase prüft jede Nachricht, stellt aber keine zu."),
    )
    active = models.BooleanField(gettext_lazy("aktiv"), default=True)

    class Meta:
        verbose_name = gettext_lazy("Push-Verbindung")
        verbose_name_plural = gettext_lazy("Push-Verbindungen")
        ordering = ["brand"]

    def __str__(self) -> str:
        return f"Push {self.brand} {self.effective_project_id}".strip()

    def set_service_account(self, text: str) -> None:
        self.service_account_encrypted = encrypt(text)

    def _env(self) -> str:
        value = settings.FCM_SERVICE_ACCOUNTS.get(self.brand.slug.lower(), "").strip()
        if value and not value.startswith("{"):
            value = Path(value).read_text(encoding="utf-8")  # a path to the key file
        return value

    def service_account_info(self) -> dict | None:
        """The service account (env first), None when none is set or it is unreadable."""
        try:
            text = self._env() or decrypt(self.service_account_encrypted)
        except (OSError, UnreadableSecret):
            return None
        if not text:
            return None
        try:
            return parse_service_account(text)
        except ValueError:
            return None

    @property
    def effective_project_id(self) -> str:
        if self.project_id:
            return self.project_id
        info = self.service_account_info() or {}
        return str(info.get("project_id") or "")
