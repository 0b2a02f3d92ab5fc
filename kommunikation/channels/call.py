"""Calls: the ``call`` channel sends nothing; it plans a call task for staff.

The task (kommunikation.calls) is due in the next slot of the call window, carries the
customer's number (E.164, a ``tel:`` link on the Aufgaben page) and the script rendered
from the template, and is linked to the customer, the outbox row and (after the
write-back) the thread entry. The provider id is the task's id. A retry of a send whose
write-back was lost finds the task planned already and does not plan the call twice.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from kommunikation.channels.base import ChannelAdapter, Outgoing, PermanentError, SendResult
from kommunikation.contact import normalize_phone


def provider_id(task_pk: int) -> str:
    return f"anruf-{task_pk}"


class CallChannel(ChannelAdapter):
    name = "call"

    def send(self, out: Outgoing) -> SendResult:
        from kommunikation.calls.services import plan_call

        try:
            phone = normalize_phone(out.recipient)
        except ValueError as exc:
            raise PermanentError(
                _("Keine Telefonnummer für den Anruf: %(error)s") % {"error": exc}
            ) from None
        if not out.text.strip():
            raise PermanentError(_("Kein Gesprächsleitfaden: die Vorlage hat keinen Text."))
        task = plan_call(
            outbound_id=out.outbound_id,
            brand=out.brand,
            phone=phone,
            script=out.text,
            topic=out.subject or out.template_key,
        )
        return SendResult(provider_id=provider_id(task.pk))
