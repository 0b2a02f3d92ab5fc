"""Letters: through Pingen v2 (hybrid mail), or held for the office's daily print batch.

Per brand (kommunikation.letters.connection): ``pingen`` uploads the PDF and creates the
letter there (sent at once with auto_send, else with a second call); the provider id is
Pingen's letter id and the status webhook moves it forward. ``selfprint`` keeps the
letter "zum Druck bereit" until a Team-Lead (or the schedule) makes the day's print batch.

The PDF comes rendered from dispatch (``Outgoing.document``). A retry of a letter that
already reached Pingen (a worker killed before its write-back) finds the kept Letter and
does not create it a second time.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from kommunikation.channels.base import ChannelAdapter, Outgoing, PermanentError, SendResult
from kommunikation.letters.connection import LetterConfig, letter_config
from kommunikation.letters.models import Letter, LetterMode, PostalStatus
from kommunikation.letters.pingen import PingenClient
from kommunikation.letters.services import letter_filename, record_letter


class LetterChannel(ChannelAdapter):
    name = "letter"

    def __init__(self):
        self.clients: dict[int, PingenClient] = {}

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()

    def client(self, brand, config: LetterConfig) -> PingenClient:
        if brand.pk not in self.clients:
            self.clients[brand.pk] = PingenClient(config)
        return self.clients[brand.pk]

    def send(self, out: Outgoing) -> SendResult:
        if not out.document:
            raise PermanentError(_("Kein Brief-PDF: die Vorlage hat keinen Brieftext."))
        config = letter_config(out.brand)
        existing = Letter.objects.filter(outbound_id=out.outbound_id).first()
        if config.mode == LetterMode.SELFPRINT:
            letter = existing or record_letter(
                outbound_id=out.outbound_id, brand=out.brand, mode=LetterMode.SELFPRINT,
                pdf=out.document, status=PostalStatus.READY, subject=out.subject,
                address=out.recipient,
            )  # fmt: skip
            return SendResult(provider_id=f"druck-{letter.pk}")
        client = self.client(out.brand, config)
        if existing is not None and existing.provider_id:
            if existing.status == PostalStatus.SUBMITTED and not config.auto_send:
                client.send_letter(existing.provider_id)  # created, the send call was lost
            return SendResult(provider_id=existing.provider_id)
        created = client.create_letter(
            pdf=out.document,
            filename=letter_filename(out.outbound_id),
            meta={"outbound_id": str(out.outbound_id), "brand": out.brand.slug},
        )
        letter_id = str(created.get("id") or "")
        if not letter_id:
            raise PermanentError(_("Pingen hat den Brief ohne ID angenommen."))
        record_letter(
            outbound_id=out.outbound_id, brand=out.brand, mode=LetterMode.PINGEN,
            pdf=out.document, status=PostalStatus.SUBMITTED, provider_id=letter_id,
            subject=out.subject, address=out.recipient,
        )  # fmt: skip
        if not config.auto_send:
            client.send_letter(letter_id)
        return SendResult(provider_id=letter_id)
