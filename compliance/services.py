"""Changes to consent, preferences and the suppression list; each one audited.

The signed tokens that let a customer act without a login live here too:
preference page, one-click unsubscribe and double opt-in confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from compliance.models import (
    AuditEntry,
    Category,
    Channel,
    ChannelPreference,
    Consent,
    Suppression,
    needs_consent,
)
from kommunikation.models import Customer

PREFERENCE_SALT = "compliance.preferences"
UNSUBSCRIBE_SALT = "compliance.unsubscribe"
DOUBLE_OPT_IN_SALT = "compliance.double-opt-in"

# What the preference page and the staff partial offer: the channels a customer
# can be written on, and every category that is not a pure contract message.
PREFERENCE_CHANNELS = [Channel.EMAIL, Channel.SMS, Channel.WHATSAPP]
PREFERENCE_CATEGORIES = [
    Category.MARKETING,
    Category.RELATIONSHIP,
    Category.FEEDBACK,
    Category.SERVICE,
    Category.REMINDER,
]

SYSTEM = "System"
CUSTOMER_SELF = "Kunde (Präferenzseite)"


@dataclass(frozen=True)
class Actor:
    """Who made a change: a staff user, or a label such as the customer or a webhook."""

    label: str
    user: object | None = None

    @classmethod
    def staff(cls, user) -> Actor:
        return cls(label=user.get_full_name() or user.get_username(), user=user)


def audit(
    *,
    actor: Actor,
    action: str,
    obj,
    customer_id: int | None,
    changes: dict | None = None,
    brand_id: int | None = None,
) -> AuditEntry:
    """Append an entry; its brand is the object's, else the customer's (kept after erasure)."""
    if brand_id is None:
        brand_id = getattr(obj, "brand_id", None)
    if brand_id is None and customer_id is not None:
        brand_id = (
            Customer.objects.filter(pk=customer_id).values_list("brand_id", flat=True).first()
        )
    return AuditEntry.objects.create(
        actor=actor.user,
        actor_label=actor.label,
        action=action,
        object_type=obj._meta.label,
        object_id=str(obj.pk or ""),
        customer_id=customer_id,
        brand_id=brand_id,
        changes=changes or {},
    )


def audit_many(entries: list[dict]) -> list[AuditEntry]:
    """``audit`` for many entries (dicts of its keyword arguments) in one insert; each
    object must carry its brand (``brand_id``) or the entry name it."""
    from kommunikation.bulk import build, insert_many  # COPY on PostgreSQL

    at = timezone.now()  # one time for the entries written together
    rows = [
        build(
            AuditEntry,
            at=at,
            actor=e["actor"].user,
            actor_label=e["actor"].label,
            action=e["action"],
            object_type=e["obj"]._meta.label,
            object_id=str(e["obj"].pk or ""),
            customer_id=e["customer_id"],
            brand_id=e.get("brand_id") or getattr(e["obj"], "brand_id", None),
            changes=e.get("changes") or {},
        )
        for e in entries
    ]
    return insert_many(AuditEntry, rows)


def _signed_id(value) -> int:
    """A primary key out of a signed token; ValueError for anything that is not one.

    The signature proves we made the token, not that its payload fits today's
    code (an older token format, a bug): garbage must stay a 400, not a 500."""
    if type(value) is not int or not 0 < value < 2**63:
        raise ValueError(f"not an id: {value!r}")
    return value


# --- consent --------------------------------------------------------------------------


@transaction.atomic
def record_consent(
    *,
    customer: Customer,
    purpose: str,
    channel: str,
    state: str,
    source: str,
    actor: Actor,
    wording: str = "",
    wording_version: str = "",
    ip_address: str | None = None,
    address: str = "",
) -> Consent:
    """Append a consent record (grant, pending double opt-in, or withdrawal)."""
    consent = Consent.objects.create(
        customer=customer,
        purpose=purpose,
        channel=channel,
        state=state,
        source=source,
        wording=wording,
        wording_version=wording_version,
        ip_address=ip_address or None,
        address=address,
        recorded_by=actor.user,
    )
    audit(
        actor=actor,
        action=f"consent.{state}",
        obj=consent,
        customer_id=customer.pk,
        changes={"purpose": purpose, "channel": channel, "source": source, "address": address},
    )
    return consent


def withdraw_consent(
    *, customer: Customer, purpose: str, channel: str, source: str, actor: Actor
) -> Consent | None:
    """Withdraw unless already withdrawn (a repeated click records nothing new)."""
    current = Consent.objects.current(customer=customer, purpose=purpose, channel=channel)
    if current is not None and current.state == Consent.State.WITHDRAWN:
        return None
    return record_consent(
        customer=customer,
        purpose=purpose,
        channel=channel,
        state=Consent.State.WITHDRAWN,
        source=source,
        actor=actor,
    )


def request_double_opt_in(
    *,
    customer: Customer,
    purpose: str,
    address: str,
    wording: str,
    wording_version: str,
    ip_address: str | None,
    source: str = Consent.Source.WEB_FORM,
) -> tuple[Consent, str]:
    """Record a pending email consent; returns it with the absolute confirmation URL.

    The caller sends the URL to `address` (kommunikation.outbox.send_double_opt_in
    does it through the outbox); consent only counts once it is confirmed.
    """
    consent = record_consent(
        customer=customer,
        purpose=purpose,
        channel=Channel.EMAIL,
        state=Consent.State.PENDING,
        source=source,
        actor=Actor(label=CUSTOMER_SELF),
        wording=wording,
        wording_version=wording_version,
        ip_address=ip_address,
        address=address,
    )
    token = signing.TimestampSigner(salt=DOUBLE_OPT_IN_SALT).sign(str(consent.pk))
    return consent, settings.SITE_URL + reverse("compliance:confirm", args=[token])


def consent_for_confirmation(token: str) -> Consent:
    """The pending consent a confirmation link names; BadSignature/SignatureExpired otherwise."""
    max_age = settings.COMPLIANCE_DOUBLE_OPT_IN_DAYS * 86400
    pk = signing.TimestampSigner(salt=DOUBLE_OPT_IN_SALT).unsign(token, max_age=max_age)
    try:
        return Consent.objects.select_related("customer").get(pk=_signed_id(int(pk)))
    except (Consent.DoesNotExist, ValueError):
        raise signing.BadSignature("unknown consent") from None


def confirm_double_opt_in(*, pending: Consent, ip_address: str | None) -> Consent:
    """Grant the consent a pending record asked for; confirming twice changes nothing."""
    current = Consent.objects.current(
        customer=pending.customer, purpose=pending.purpose, channel=pending.channel
    )
    if current is not None and current.pk != pending.pk:
        # Already confirmed (or withdrawn later): the newer record stands.
        return current
    return record_consent(
        customer=pending.customer,
        purpose=pending.purpose,
        channel=pending.channel,
        state=Consent.State.GRANTED,
        source=Consent.Source.DOUBLE_OPT_IN,
        actor=Actor(label=CUSTOMER_SELF),
        wording=pending.wording,
        wording_version=pending.wording_version,
        ip_address=ip_address,
        address=pending.address,
    )


# --- preferences ----------------------------------------------------------------------


def preference_matrix(customer: Customer) -> dict[tuple[str, str], bool]:
    """(channel, category) -> allowed, for everything the preference page shows.

    A consent-requiring category counts as allowed only with a granted consent.
    """
    stored = {
        (p.channel, p.category): p.allowed
        for p in ChannelPreference.objects.filter(customer=customer)
    }
    consents: dict[tuple[str, str], bool] = {}
    for consent in Consent.objects.filter(customer=customer).order_by("recorded_at", "id"):
        consents[(consent.channel, consent.purpose)] = consent.is_granted
    matrix = {}
    for channel in PREFERENCE_CHANNELS:
        for category in PREFERENCE_CATEGORIES:
            allowed = stored.get((channel, category), True)
            if needs_consent(category):
                allowed = allowed and consents.get((channel, category), False)
            matrix[(channel, category)] = allowed
    return matrix


@transaction.atomic
def update_preferences(
    *,
    customer: Customer,
    wanted: dict[tuple[str, str], bool],
    actor: Actor,
    source: str,
    wording: str = "",
    ip_address: str | None = None,
) -> int:
    """Set (channel, category) -> allowed; the shared path of the public page and staff.

    Switching a consent-requiring category on records a consent from `source`
    (the customer proved control of the address by opening the signed link, or
    staff took it on the phone); switching it off withdraws the consent.
    Returns how many settings changed.
    """
    current = preference_matrix(customer)
    changed = 0
    for (channel, category), allowed in wanted.items():
        if current.get((channel, category)) == allowed:
            continue
        changed += 1
        pref, _created = ChannelPreference.objects.update_or_create(
            customer=customer,
            channel=channel,
            category=category,
            defaults={"allowed": allowed, "updated_at": timezone.now()},
        )
        audit(
            actor=actor,
            action="preference.allowed" if allowed else "preference.blocked",
            obj=pref,
            customer_id=customer.pk,
            changes={"channel": channel, "category": category, "allowed": allowed},
        )
        if needs_consent(category):
            record_consent(
                customer=customer,
                purpose=category,
                channel=channel,
                state=Consent.State.GRANTED if allowed else Consent.State.WITHDRAWN,
                source=source,
                actor=actor,
                wording=wording,
                ip_address=ip_address,
            )
    return changed


def preference_token(customer: Customer) -> str:
    return signing.dumps({"c": customer.pk}, salt=PREFERENCE_SALT, compress=True)


def preference_url(customer: Customer) -> str:
    return settings.SITE_URL + reverse("compliance:preferences", args=[preference_token(customer)])


def customer_for_preference_token(token: str) -> Customer:
    """BadSignature (tampered) or SignatureExpired (older than COMPLIANCE_LINK_DAYS).

    Unlike an unsubscribe link, a preference link may expire: it grants consent,
    so a link in an old, forwarded mail should not."""
    data = signing.loads(token, salt=PREFERENCE_SALT, max_age=settings.COMPLIANCE_LINK_DAYS * 86400)
    try:
        return Customer.objects.select_related("brand").get(pk=_signed_id(data["c"]))
    except (Customer.DoesNotExist, KeyError, TypeError, ValueError):
        raise signing.BadSignature("unknown customer") from None


# --- one-click unsubscribe ------------------------------------------------------------


@dataclass(frozen=True)
class UnsubscribeTarget:
    customer: Customer
    channel: str
    category: str
    address: str


def unsubscribe_token(*, customer: Customer, channel: str, category: str, address: str) -> str:
    payload = {"c": customer.pk, "ch": channel, "k": category, "a": address}
    return signing.dumps(payload, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(**kwargs) -> str:
    return settings.SITE_URL + reverse("compliance:unsubscribe", args=[unsubscribe_token(**kwargs)])


def unsubscribe_target(token: str) -> UnsubscribeTarget:
    """The target a signed unsubscribe link names; BadSignature for a tampered one.

    Never expires: an unsubscribe link must work for as long as the mail carrying
    it exists (RFC 8058 POSTs come from mailbox providers years later; a refused
    opt-out would keep the marketing coming). Tokens are still signed with a
    timestamp (``signing.dumps``), so links in mails sent before stay valid."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    try:
        channel, category, address = data["ch"], data["k"], data["a"]
        if channel not in Channel.values or category not in Category.values:
            raise ValueError(f"no such channel or category: {channel!r}, {category!r}")
        customer = Customer.objects.select_related("brand").get(pk=_signed_id(data["c"]))
        return UnsubscribeTarget(customer, channel, category, str(address))
    except (Customer.DoesNotExist, KeyError, TypeError, ValueError):
        raise signing.BadSignature("unknown customer") from None


MAILTO_SUBJECT_PREFIX = "abbestellen "


def unsubscribe_mailto(*, mailbox: str, **target) -> str:
    """The mailto: form of List-Unsubscribe; the subject carries the signed token."""
    return (
        f"mailto:{mailbox}?subject={MAILTO_SUBJECT_PREFIX.strip()}%20{unsubscribe_token(**target)}"
    )


def unsubscribe_by_mail(subject: str) -> bool:
    """For inbound mail to the unsubscribe address: act on a valid token in the subject.

    False when the subject has no valid token (then a person reads the mail).
    """
    token = subject.strip().removeprefix(MAILTO_SUBJECT_PREFIX).strip()
    try:
        target = unsubscribe_target(token)
    except signing.BadSignature:
        return False
    unsubscribe(target, actor=Actor(label="Kunde (Abmelde-E-Mail)"))
    return True


@transaction.atomic
def unsubscribe(target: UnsubscribeTarget, *, actor: Actor) -> bool:
    """RFC 8058 one-click: stop this category on this channel. Idempotent; True if it changed."""
    changed = update_preferences(
        customer=target.customer,
        wanted={(target.channel, target.category): False},
        actor=actor,
        source=Consent.Source.UNSUBSCRIBE,
    )
    if needs_consent(target.category):
        # also when the matrix already said "off" but an old grant is still current
        changed += (
            withdraw_consent(
                customer=target.customer,
                purpose=target.category,
                channel=target.channel,
                source=Consent.Source.UNSUBSCRIBE,
                actor=actor,
            )
            is not None
        )
    return bool(changed)


# --- suppression ----------------------------------------------------------------------


def suppress_address(
    *,
    channel: str,
    value: str,
    reason: str,
    actor: Actor,
    detail: str = "",
    customer_id: int | None = None,
) -> Suppression:
    """Put an address on the suppression list; an existing entry keeps its first reason.

    ``customer_id`` files the audit entry under the customer whose address it is,
    when the caller knows (staff on the customer page).
    """
    value = value.strip().lower() if channel == Channel.EMAIL else value.strip()
    try:
        with transaction.atomic():
            suppression = Suppression.objects.create(
                channel=channel, value=value, reason=reason, detail=detail[:500]
            )
    except IntegrityError:
        return Suppression.objects.get(channel=channel, value=value)
    with transaction.atomic():
        audit(
            actor=actor,
            action=f"suppression.{reason}",
            obj=suppression,
            customer_id=customer_id,
            changes={"channel": channel, "value": value, "detail": detail[:500]},
        )
    return suppression


@transaction.atomic
def lift_suppression(
    *, suppression: Suppression, actor: Actor, customer_id: int | None = None
) -> None:
    audit(
        actor=actor,
        action="suppression.lifted",
        obj=suppression,
        customer_id=customer_id,
        changes={"channel": suppression.channel, "value": suppression.value},
    )
    suppression.delete()


def customer_suppressions(customer: Customer) -> list[Suppression]:
    """The suppression entries of the customer's addresses and numbers (any channel)."""
    values = customer.contact_points.values_list("value", flat=True)
    return list(Suppression.objects.filter(value__in=values).order_by("value", "channel"))
