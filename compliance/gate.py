"""The compliance gate: may this message go to this address on this channel now?

`decide` is the one place that answers it, for the rules engine at enqueue
time and again for the dispatch worker at send time (consent may have changed in
between). It reads the consent, preference and suppression tables; what was sent
before comes in through the small `SendHistory` protocol, so compliance does not
depend on the outbox.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from compliance.models import ChannelPreference, Consent, Suppression, needs_consent
from compliance.policy import BERLIN, next_allowed_time

SEND = "send"
DEFER = "defer"
REFUSE = "refuse"


@dataclass(frozen=True)
class Decision:
    kind: str  # send | defer | refuse
    until: dt.datetime | None = None
    reason: str = ""

    @property
    def allows_sending(self) -> bool:
        return self.kind == SEND


class SendHistory(Protocol):
    """What has been sent already; the outbox implements it."""

    def count_capped_since(self, *, customer, channel: str, since: dt.datetime) -> int:
        """Messages of consent-requiring categories sent to the customer on the channel since."""

    def last_sent(self, *, customer, channel: str, template_key: str) -> dt.datetime | None:
        """When the template was last sent to the customer on the channel, if ever."""


def suppression_for(channel: str, address: str) -> Suppression | None:
    if not address:
        return None
    return Suppression.objects.filter(channel=channel, value=address).first()


class Records:
    """The gate's reads, one query each: the default for a single decision."""

    def suppression(self, channel: str, address: str) -> Suppression | None:
        return suppression_for(channel, address)

    def preference(self, customer, channel: str, category: str) -> ChannelPreference | None:
        return ChannelPreference.objects.filter(
            customer=customer, channel=channel, category=category
        ).first()

    def consent(self, customer, purpose: str, channel: str) -> Consent | None:
        return Consent.objects.current(customer=customer, purpose=purpose, channel=channel)


class BatchRecords(Records):
    """The same reads for a whole dispatch batch in three queries.

    Loaded when the batch is claimed, so a consent withdrawn after that moment
    counts from the next batch on (seconds later); `decide` logic is unchanged.
    """

    def __init__(self, *, customer_ids: set[int], addresses: set[tuple[str, str]]):
        values = {value for _channel, value in addresses}
        self.suppressions = {
            (s.channel, s.value): s for s in Suppression.objects.filter(value__in=values)
        }
        self.preferences = {
            (p.customer_id, p.channel, p.category): p
            for p in ChannelPreference.objects.filter(customer_id__in=customer_ids)
        }
        self.consents: dict[tuple[int, str, str], Consent] = {}
        for consent in Consent.objects.filter(customer_id__in=customer_ids).order_by(
            "recorded_at", "id"
        ):
            self.consents[(consent.customer_id, consent.purpose, consent.channel)] = consent

    def suppression(self, channel, address):
        return self.suppressions.get((channel, address))

    def preference(self, customer, channel, category):
        return self.preferences.get((customer.pk, channel, category))

    def consent(self, customer, purpose, channel):
        return self.consents.get((customer.pk, purpose, channel))


def decide(
    *,
    customer,
    address: str,
    channel: str,
    category: str,
    template_key: str,
    at: dt.datetime,
    history: SendHistory,
    records: Records | None = None,
    staff_answer: bool = False,
) -> Decision:
    """Send, defer until a time, or refuse; each with the reason in plain words.

    The order matters: a hard "no" (suppression, missing consent, preference, cap)
    refuses before a quiet-hour deferral could postpone a message that may never go.
    `records` answers the table reads (default: one query each; the dispatch worker
    passes BatchRecords loaded for its batch).

    Quiet hours hold automated messages. ``staff_answer``: a person answering the
    customer from the inbox, at the hour the customer wrote (an SMS at 22:30 answered at
    22:35); that answer goes at once. Every other check applies to it all the same.
    """
    records = records or Records()
    suppression = records.suppression(channel, address) if address else None
    if suppression is not None and suppression.blocks(category):
        return Decision(
            REFUSE,
            reason=_("%(address)s steht auf der Sperrliste (%(reason)s).")
            % {"address": address, "reason": suppression.get_reason_display()},
        )

    if customer is not None:
        preference = records.preference(customer, channel, category)
        if preference is not None and not preference.allowed:
            return Decision(
                REFUSE,
                reason=_("Der Kunde möchte über %(channel)s keine Nachrichten dieser Art.")
                % {"channel": preference.get_channel_display()},
            )

    if needs_consent(category):
        if customer is None:
            return Decision(REFUSE, reason=_("Ohne Kunde gibt es keine Einwilligung."))
        consent = records.consent(customer, category, channel)
        if consent is None or not consent.is_granted:
            return Decision(
                REFUSE,
                reason=_("Keine Einwilligung für %(purpose)s über %(channel)s.")
                % {"purpose": category, "channel": channel}
                if consent is None
                else _("Einwilligung %(state)s.") % {"state": consent.get_state_display()},
            )
        refusal = _check_frequency(customer, channel, template_key, at, history)
        if refusal is not None:
            return refusal

    until = None if staff_answer else next_allowed_time(at, channel=channel, category=category)
    if until is not None:
        return Decision(
            DEFER,
            until=until,
            reason=_("Ruhezeit für %(channel)s, verschoben auf %(when)s.")
            % {
                "channel": channel,
                "when": date_format(until.astimezone(BERLIN), "d.m.Y H:i"),
            },
        )
    return Decision(SEND)


def _check_frequency(customer, channel, template_key, at, history) -> Decision | None:
    """Seed 002: at most N promotional messages per channel and week; no template twice in 24 h.

    Contract messages are exempt: their duplicates are prevented by the outbox's
    idempotency key, and a second invoice on the same day must still go out.
    """
    if template_key:
        window = dt.timedelta(hours=settings.COMPLIANCE_DUPLICATE_HOURS)
        last = history.last_sent(customer=customer, channel=channel, template_key=template_key)
        if last is not None and at - last < window:
            return Decision(
                REFUSE,
                reason=_("Dieselbe Vorlage ging vor weniger als %(hours)s Stunden an den Kunden.")
                % {"hours": settings.COMPLIANCE_DUPLICATE_HOURS},
            )
    cap = settings.COMPLIANCE_WEEKLY_CAPS.get(channel)
    if cap is not None:
        since = at - dt.timedelta(days=settings.COMPLIANCE_CAP_DAYS)
        if history.count_capped_since(customer=customer, channel=channel, since=since) >= cap:
            return Decision(
                REFUSE,
                reason=_(
                    "Frequenzgrenze erreicht: höchstens %(cap)s Nachrichten in %(days)s Tagen."
                )
                % {"cap": cap, "days": settings.COMPLIANCE_CAP_DAYS},
            )
    return None
