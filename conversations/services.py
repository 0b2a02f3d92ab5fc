"""State changes of conversations made by staff, each named by its effect.

Views, admin actions and commands call these; every function does its whole
change atomically and takes keyword-only arguments. Ingestion (the way mail
enters) lives in ``conversations.ingest``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.utils import make_msgid

from django.core.exceptions import EmptyResultSet, PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Case, Q, QuerySet, When
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.gate import REFUSE, Records, decide, suppression_for
from compliance.services import Actor, audit
from conversations.classify import is_freemail
from conversations.learning import INCREMENTAL_LIMIT, learn_conversations
from conversations.models import (
    Attachment,
    Channel,
    Classification,
    ClassificationChange,
    Conversation,
    Direction,
    Message,
    RawEmail,
    SenderRule,
    Status,
)
from conversations.outbound import record_internal_note, record_queued
from conversations.threading import normalize_subject
from conversations.workflow import (
    assign_many,
    refresh_response_due,
    set_priority_many,
    set_status_many,
    set_unread_many,
)
from kommunikation.contact import email_domain, format_phone
from kommunikation.customers import CustomerDetails, create_customer
from kommunikation.events.catalogue import build_context
from kommunikation.models import (
    BusinessEntity,
    ContactChannel,
    ContactType,
    Customer,
    CustomerKind,
    OutboundMessage,
    OutboundStatus,
)
from kommunikation.outbox import OutboxHistory, enqueue_outbound
from templates_app.models import MessageTemplate
from templates_app.plain import NO_CUSTOMER, TemplateRenderError, customer_data
from templates_app.rendering import TemplateNotFound, render_message

# Kunde and Lieferant name whom; the other three stand on their own.
CLASSIFICATIONS_WITH_CUSTOMER = {
    Classification.CUSTOMER: CustomerKind.CUSTOMER,
    Classification.SUPPLIER: CustomerKind.SUPPLIER,
}
REMEMBER_ADDRESS = "address"
REMEMBER_DOMAIN = "domain"
_CHUNK = 1000


@dataclass(frozen=True)
class ClassificationBatch:
    """What one classification request changed; ``id`` undoes it."""

    id: uuid.UUID
    changed: int
    classification: str
    rules_created: int = 0


@transaction.atomic
def record_classification(
    *,
    conversations: QuerySet[Conversation],
    classification: str,
    customer: Customer | None = None,
    actor,
    remember_sender: str | None = None,
) -> ClassificationBatch:
    """Classify every given conversation, keep the history, learn the sender.

    Conversations that already carry exactly this classification and customer are
    left alone (and not counted). All history rows of one call share a batch id,
    which ``undo_classification_batch`` takes.

    The product learns senders one way, by SenderRule (``teach_senders``):

    - Kunde or Lieferant with a customer teaches every sender address of the batch
      as that customer's (an address rule), unless it is one of the customer's
      contact points already; with ``remember_sender="domain"`` the whole domain.
    - Intern, Newsletter, Werbung learn the sender when asked (``remember_sender``
      "address" or "domain").
    - Correcting an automatic classification always learns the sender's address
      with the correction: the address rule that made the mistake is updated, a
      domain rule, a contact point, the company domain, the bulk headers or the
      model get an address rule that overrides them. The history row says so.

    A freemail domain is never learned as a whole (its address is, instead). A few
    classified conversations also teach the brand's first-contact model at once.
    """
    if classification not in Classification.values:
        raise ValidationError(_("Unbekannte Klassifizierung."))
    wanted_kind = CLASSIFICATIONS_WITH_CUSTOMER.get(classification)
    if wanted_kind is None:
        customer = None
    elif customer is not None and customer.kind != wanted_kind:
        raise ValidationError(_("Der gewählte Kontakt passt nicht zur Klassifizierung."))
    if customer is not None and conversations.exclude(brand_id=customer.brand_id).exists():
        raise ValidationError(_("Der Kontakt gehört zu einer anderen Marke."))

    now = timezone.now()
    batch = uuid.uuid4()
    customer_id = customer.pk if customer else None
    changing = conversations.order_by().exclude(
        classification=classification, customer_id=customer_id
    )
    # automatic classifications this call corrects: (id, brand, sender)
    corrected = list(
        changing.filter(classified_automatically=True).values_list("id", "brand_id", "counterpart")
    )
    # Two statements whatever the size: the history rows by INSERT ... SELECT, then the
    # conversations of the batch by one UPDATE (200k PG: 10,000 in ~1 s instead of ~3.5 s
    # for a bulk_create plus ten UPDATEs by id lists sent from Python).
    selection = changing.values_list("id", "classification", "customer_id")
    try:
        select_sql, select_params = selection.query.sql_with_params()
    except EmptyResultSet:  # a selection known to be empty (an empty id list): nothing to do
        return ClassificationBatch(batch, 0, classification)
    history = ClassificationChange._meta
    fields = {f: history.get_field(f) for f in ("to_classification", "changed_at", "batch")}
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {history.db_table} (conversation_id, from_classification, "
            "from_customer_id, to_classification, to_customer_id, changed_by_id, changed_at, "
            f"batch, automatic, reason) SELECT sel.*, %s, %s, %s, %s, %s, %s, '' "
            f"FROM ({select_sql}) sel",
            [
                classification,
                customer_id,
                actor.pk if actor else None,
                fields["changed_at"].get_db_prep_value(now, connection),
                fields["batch"].get_db_prep_value(batch, connection),
                False,
                *select_params,
            ],
        )
        changed = cursor.rowcount
    Conversation.objects.filter(
        id__in=ClassificationChange.objects.filter(batch=batch).values("conversation_id")
    ).update(
        classification=classification,
        customer_id=customer_id,
        classified_automatically=False,
        classification_reason="",
    )
    # a newsletter owes no reply, a customer's mail filed wrongly as one does
    refresh_response_due(
        Conversation.objects.filter(
            id__in=ClassificationChange.objects.filter(batch=batch).values("conversation_id")
        )
    )

    kind = remember_sender if remember_sender in (REMEMBER_ADDRESS, REMEMBER_DOMAIN) else None
    if kind is None and customer is not None:
        kind = REMEMBER_ADDRESS  # naming the customer teaches the product the address
    rules: set[int] = set()
    if kind is not None:
        taught = teach_senders(
            senders=conversations.order_by().values_list("brand_id", "counterpart").distinct(),
            kind=kind,
            classification=classification,
            customer=customer,
            actor=actor,
            now=now,
        )
        rules.update(rule.pk for rule in taught.values())
    if corrected:
        rules.update(
            _learn_from_corrections(
                corrected, batch=batch, classification=classification, customer=customer,
                actor=actor, now=now,
            )
        )  # fmt: skip
    _teach_model(batch)
    return ClassificationBatch(batch, changed, classification, len(rules))


@transaction.atomic
def classify_as_new_customer(
    *,
    conversations: QuerySet[Conversation],
    classification: str,
    details: CustomerDetails,
    actor,
    remember_sender: str | None = None,
) -> tuple[ClassificationBatch, Customer]:
    """ "Neuen Kunden anlegen" in the dialog: a new customer (Kunde) or supplier
    (Lieferant) of the conversations' brand and the classification naming it, together
    or not at all. The contact is created in the brand of the conversations (never one
    the request names); conversations of several brands are refused. The sender is
    learned as ``record_classification`` learns it (its address is the new contact's)."""
    kind = CLASSIFICATIONS_WITH_CUSTOMER.get(classification)
    if kind is None:
        raise ValidationError(_("Neu angelegt werden nur Kunden und Lieferanten."))
    if not actor.has_perm("kommunikation.add_customer"):
        raise PermissionDenied(_("Sie dürfen keine Kunden anlegen."))
    brand_ids = list(conversations.order_by().values_list("brand_id", flat=True).distinct()[:2])
    if not brand_ids:
        raise ValidationError(_("Keine Konversation ausgewählt."))
    if len(brand_ids) > 1:
        raise ValidationError(
            _(
                "Ein neuer Kontakt gehört zu einer Marke: bitte nur Konversationen einer Marke wählen."
            )
        )
    brand = BusinessEntity.objects.get(pk=brand_ids[0])
    customer = create_customer(brand=brand, kind=kind, details=details, actor=actor)
    batch = record_classification(
        conversations=conversations,
        classification=classification,
        customer=customer,
        actor=actor,
        remember_sender=remember_sender,
    )
    return batch, customer


def teach_senders(
    *,
    senders: Iterable[tuple[int, str]],
    kind: str,
    classification: str,
    customer: Customer | None,
    actor,
    now,
) -> dict[tuple[int, str], SenderRule]:
    """The one way the product learns a sender: an address or domain SenderRule per
    (brand, sender), created or updated. A customer's own contact point needs no rule
    for the same answer; a freemail domain is learned by address. Returns the rules by
    (brand, sender address)."""
    learned: dict[tuple[int, str], SenderRule] = {}
    senders = {(b, s.strip().lower()) for b, s in senders if "@" in s}  # phones: no rules
    if not senders:
        return learned
    own = set()
    if customer is not None and kind == REMEMBER_ADDRESS:
        own = set(
            customer.contact_points.filter(
                channel=ContactChannel.EMAIL, value__in=[s for _b, s in senders]
            ).values_list("value", flat=True)
        )
    for brand_id, sender in sorted(senders):
        domain = email_domain(sender)
        by_domain = kind == REMEMBER_DOMAIN and domain and not is_freemail(domain)
        if not by_domain and sender in own:
            # the contact point already says so; an older rule must not say otherwise
            SenderRule.objects.filter(
                brand_id=brand_id, kind=SenderRule.Kind.ADDRESS, pattern=sender
            ).delete()
            continue
        # a new rule's created_at equals the batch's changed_at: undo finds what it created
        rule, _created = SenderRule.objects.update_or_create(
            brand_id=brand_id,
            kind=SenderRule.Kind.DOMAIN if by_domain else SenderRule.Kind.ADDRESS,
            pattern=domain if by_domain else sender,
            defaults={"classification": classification, "customer": customer},
            create_defaults={
                "classification": classification,
                "customer": customer,
                "created_by": actor,
                "created_at": now,
            },
        )
        learned[(brand_id, sender)] = rule
    return learned


def _learn_from_corrections(corrected, *, batch, classification, customer, actor, now) -> set[int]:
    """Every corrected sender's address learns the correction; the history says which
    automatic decision was wrong and which rule now holds."""
    last_automatic = dict(
        ClassificationChange.objects.filter(
            conversation_id__in=[pk for pk, _b, _s in corrected], automatic=True
        )
        .order_by("conversation_id", "changed_at", "id")
        .values_list("conversation_id", "reason")
    )  # the newest per conversation wins the dict
    rules = teach_senders(
        senders=[(brand_id, sender) for _pk, brand_id, sender in corrected],
        kind=REMEMBER_ADDRESS,
        classification=classification,
        customer=customer,
        actor=actor,
        now=now,
    )
    for pk, brand_id, sender in corrected:
        rule = rules.get((brand_id, sender.strip().lower()))
        wrong = last_automatic.get(pk, "") or _("automatisch")
        if rule is not None:
            reason = _("Korrektur von „%(wrong)s“: Absenderregel %(pattern)s") % {
                "wrong": wrong,
                "pattern": rule.pattern,
            }
        else:
            reason = _("Korrektur von „%(wrong)s“") % {"wrong": wrong}
        ClassificationChange.objects.filter(batch=batch, conversation_id=pk).update(
            reason=reason[:200], rule=rule
        )
    return {rule.pk for rule in rules.values()}


def _teach_model(batch: uuid.UUID) -> None:
    """A few classified conversations teach the brands' first-contact models at once;
    a large bulk classification waits for the nightly training."""
    by_brand: dict[int, list[int]] = {}
    rows = ClassificationChange.objects.filter(batch=batch).values_list(
        "conversation_id", "conversation__brand_id"
    )[: INCREMENTAL_LIMIT + 1]
    for conversation_id, brand_id in rows:
        by_brand.setdefault(brand_id, []).append(conversation_id)
    if sum(map(len, by_brand.values())) > INCREMENTAL_LIMIT:
        return
    for brand_id, ids in by_brand.items():
        learn_conversations(brand_id=brand_id, conversation_ids=ids)


@transaction.atomic
def undo_classification_batch(*, batch: uuid.UUID, actor, brands) -> int:
    """Restore every classification a batch changed (only within ``brands``).

    Conversations changed again since the batch are restored too: the user asked
    to undo this batch. The restoring is itself recorded in the history. Sender
    rules the batch created are removed. Returns how many were restored.
    """
    changes = list(
        ClassificationChange.objects.filter(batch=batch, conversation__brand__in=brands).values_list(
            "conversation_id", "from_classification", "from_customer_id", "to_classification",
            "to_customer_id", "changed_at", "changed_by_id",
        )
    )  # fmt: skip
    if not changes:
        return 0
    now = timezone.now()
    undo_batch = uuid.uuid4()
    history = [
        ClassificationChange(
            conversation_id=conv_id,
            from_classification=new,
            to_classification=old,
            from_customer_id=new_customer,
            to_customer_id=old_customer,
            changed_by=actor,
            changed_at=now,
            reason=_("Rückgängig gemacht"),
            batch=undo_batch,
        )
        for conv_id, old, old_customer, new, new_customer, _at, _by in changes
    ]
    _restore_from_history(batch, brand_ids=[brand.pk for brand in brands])
    refresh_response_due(Conversation.objects.filter(pk__in=[c[0] for c in changes]))
    ClassificationChange.objects.bulk_create(history, batch_size=_CHUNK)
    _at, by = changes[0][5], changes[0][6]
    SenderRule.objects.filter(brand__in=brands, created_at=_at, created_by_id=by).delete()
    return len(changes)


def _restore_from_history(batch: uuid.UUID, *, brand_ids: list[int]) -> None:
    """Every conversation of the batch gets its previous classification and customer back.

    One UPDATE ... FROM joining the history (PostgreSQL, SQLite >= 3.33): the ORM
    would need a statement per distinct previous value, or a correlated subquery
    per row, both far slower for the 10,000 rows of a bulk classification.
    """
    if not brand_ids:
        return
    conv = Conversation._meta.db_table
    hist = ClassificationChange._meta.db_table
    placeholders = ", ".join(["%s"] * len(brand_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {conv} SET classification = h.from_classification, "
            f"customer_id = h.from_customer_id FROM {hist} AS h "
            f"WHERE h.batch = %s AND h.conversation_id = {conv}.id "
            f"AND {conv}.brand_id IN ({placeholders})",
            [batch.hex if connection.vendor == "sqlite" else batch, *brand_ids],
        )


def check_can_assign(*, actor, assignee) -> None:
    """Agents take conversations themselves; giving one to someone else is the Team-Lead's."""
    if (
        assignee is not None
        and assignee != actor
        and not actor.has_perm("conversations.reassign_conversation")
    ):
        raise PermissionDenied(_("Nur Team-Leads dürfen anderen zuweisen."))


def assign(*, conversation: Conversation, assignee, actor):
    """One conversation to ``assignee`` (None: nobody), in the history like a bulk change."""
    check_can_assign(actor=actor, assignee=assignee)
    if assignee is not None and not assignee.brands.filter(pk=conversation.brand_id).exists():
        raise ValidationError(_("Diese Person arbeitet nicht für die Marke."))
    conversation.assignee = assignee
    return assign_many(
        conversations=Conversation.objects.filter(pk=conversation.pk), assignee=assignee,
        actor=actor,
    )  # fmt: skip


def set_status(*, conversation: Conversation, status: str, actor=None):
    """The status workflow for one conversation (``workflow.set_status_many``)."""
    batch = set_status_many(
        conversations=Conversation.objects.filter(pk=conversation.pk), status=status, actor=actor
    )
    conversation.refresh_from_db(fields=["status", "response_due_at", "snoozed_until"])
    return batch


def set_priority(*, conversation: Conversation, priority: str, actor=None):
    batch = set_priority_many(
        conversations=Conversation.objects.filter(pk=conversation.pk),
        priority=priority,
        actor=actor,
    )
    conversation.refresh_from_db(fields=["priority", "response_due_at"])
    return batch


def mark_read(*, conversation: Conversation) -> None:
    """Opening a conversation marks it read; a filtered update, no write when already read."""
    if conversation.unread:
        Conversation.objects.filter(pk=conversation.pk, unread=True).update(unread=False)
        conversation.unread = False


def mark_unread(*, conversations: QuerySet[Conversation], actor=None) -> int:
    return set_unread_many(conversations=conversations, unread=True, actor=actor).changed


@transaction.atomic
def add_internal_note(*, conversation: Conversation, text: str, author) -> Message:
    """A note only staff see; it never leaves the system."""
    return record_internal_note(conversation=conversation, text=text, author=author)


def _reply_subject(subject: str) -> str:
    if not subject:
        return ""
    return subject if subject.lower().startswith(("re:", "aw:")) else f"AW: {subject}"


@transaction.atomic
def queue_reply(
    *,
    conversation: Conversation,
    text: str,
    author,
    subject: str = "",
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    files: Sequence[UploadedFile] = (),
    then_status: str = "",
) -> Message:
    """Queue an email answer to the counterpart as an outbound message.

    This is the single place a reply from the inbox starts its way out: the
    message is stored with status "queued" (and its status timeline) in the
    thread and handed to the outbox, whose dispatch worker sends it (at once after
    the commit) and writes "sent", delivery and failures onto the same message.
    ``cc``/``bcc`` are validated addresses (``ReplyForm``), ``files`` the uploads
    (stored as the message's attachments and sent with it), ``then_status`` the
    status the conversation takes with it ("Senden & wartend", "Senden & erledigen").
    """
    if "@" not in conversation.counterpart:
        raise ValidationError(_("Diese Konversation hat keine E-Mail-Adresse."))
    brand = conversation.brand
    last_inbound = (
        conversation.messages.filter(direction=Direction.INBOUND)
        .exclude(message_id="")
        .order_by("-created_at", "-id")
        .values_list("message_id", "references")
        .first()
    )
    in_reply_to, references = ("", "")
    if last_inbound:
        in_reply_to = last_inbound[0]
        references = " ".join(filter(None, [last_inbound[1], last_inbound[0]]))
    sender = brand.sender_address("support")
    message = record_queued(
        conversation=conversation,
        channel=Channel.EMAIL,
        recipient=conversation.counterpart,
        subject=subject or _reply_subject(conversation.subject),
        text=text,
        author=author,
        sender_name=brand.name,
        sender_address=sender,
        cc=list(cc),
        headers=[["Bcc", ", ".join(bcc)]] if bcc else [],
        message_id=make_msgid(domain=email_domain(sender) or "localhost"),
        in_reply_to=in_reply_to,
        references=references,
    )
    stored = _store_reply_files(message, files)
    enqueue_outbound(
        brand=brand,
        customer=conversation.customer,
        channels="email",
        category="service",  # an answer to the customer's own request: no consent needed
        source="reply",
        message=message,
        to_address=conversation.counterpart,
        subject=message.subject,
        text=text,
        in_reply_to=in_reply_to,
        references=references,
        message_id=message.message_id,
        cc=list(cc),
        bcc=list(bcc),
        attachments=[
            {"path": a.file.name, "filename": a.filename, "content_type": a.content_type}
            for a in stored
        ],
        idempotency_key=f"reply:{message.pk}",
        created_by=author,
    )
    if then_status:
        set_status(conversation=conversation, status=then_status, actor=author)
    return message


CLASSIFICATION_OF_KIND = {kind: c for c, kind in CLASSIFICATIONS_WITH_CUSTOMER.items()}


@transaction.atomic
def start_conversation(
    *, customer: Customer, to_address: str, subject: str, text: str, author
) -> Conversation:
    """ "Neue Nachricht" on the customer page: a new email thread with the customer.

    The conversation is the customer's (of the customer's brand, classified by its kind,
    read, waiting for the customer's answer); the message takes the one way out every
    reply takes (``queue_reply``), so its sending, threading of the answer (by its
    Message-ID) and status timeline are the reply's."""
    if not customer.contact_points.filter(channel=ContactChannel.EMAIL, value=to_address).exists():
        raise ValidationError(_("Diese Adresse gehört nicht zu diesem Kunden."))
    now = timezone.now()
    conversation = Conversation.objects.create(
        brand=customer.brand,
        customer=customer,
        subject=subject,
        subject_key=normalize_subject(subject),
        counterpart=to_address,
        counterpart_name=customer.display_name,
        channel=Channel.EMAIL,
        classification=CLASSIFICATION_OF_KIND[customer.kind],
        status=Status.PENDING,
        unread=False,
        last_message_at=now,
        created_at=now,
    )
    queue_reply(conversation=conversation, text=text, subject=subject, author=author)
    return conversation


def _store_reply_files(message: Message, files: Sequence[UploadedFile]) -> list[Attachment]:
    """The uploads as the message's attachments, content-addressed like inbound ones."""
    rows = []
    for upload in files:
        data = upload.read()
        attachment = Attachment(
            message=message,
            filename=(upload.name or "anhang")[:255],
            content_type=(upload.content_type or "application/octet-stream")[:120],
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        name = attachment.file.field.generate_filename(attachment, attachment.filename)
        if not default_storage.exists(name):
            name = default_storage.save(name, ContentFile(data))
        attachment.file.name = name
        rows.append(attachment)
    return Attachment.objects.bulk_create(rows)


REPLY_TEMPLATE_EVENT = "conversation"


def reply_templates(conversation: Conversation) -> list[tuple[str, str, str]]:
    """(key, label, text) of the email reply templates offered in the reply form.

    The templates of event type "conversation" on the email channel (the brand's own
    or the defaults), rendered for the conversation's customer in the customer's
    language (else the brand's default language); the label is the template's
    description. Only the body is returned: the reply goes out as agent-written
    text. A template that needs a variable this conversation cannot give is left
    out.
    """
    brand = conversation.brand
    labels: dict[str, str] = {}
    for key, description in (
        MessageTemplate.objects.filter(event_type=REPLY_TEMPLATE_EVENT, channel="email")
        .filter(Q(brand__isnull=True) | Q(brand=brand))
        .order_by("key", "brand_id", "language")
        .values_list("key", "description")
    ):
        labels[key] = labels.get(key) or description or key
    if not labels:
        return []
    customer = conversation.customer
    if customer is not None:
        data = customer_data(customer)
        language = customer.language or brand.default_language
        phones = customer.contact_points.filter(channel=ContactChannel.PHONE).order_by(
            # a mobile number first: the one a callback reaches best
            Case(When(type=ContactType.MOBILE, then=0), default=1),
            "position",
            "id",
        )
        phone = phones.values_list("value", flat=True).first()
    else:
        # no customer yet: a neutral greeting, never the sample customer
        data = NO_CUSTOMER
        language = brand.default_language
        phone = None
    context = build_context(REPLY_TEMPLATE_EVENT, {"phone": format_phone(phone) if phone else ""})
    offered = []
    for key, label in sorted(labels.items(), key=lambda item: item[1].lower()):
        try:
            rendered = render_message(
                key=key, channel="email", customer=data, brand=brand, language=language,
                context=context,
            )  # fmt: skip
        except (TemplateRenderError, TemplateNotFound):  # MissingVariable, render limits ...
            continue
        offered.append((key, label, rendered.body_text.strip()))
    return offered


def reply_warnings(conversation: Conversation) -> list[str]:
    """What to know before writing: the compliance gate's answer for this reply.

    A reply to the counterpart's own message is a service message: it needs no
    marketing consent, so the warning shows only where the gate would refuse it (the
    address is on the suppression list for it, the customer declined the channel),
    and, as a hint, where the address is suppressed for other messages only."""
    address = conversation.counterpart
    suppression = suppression_for("email", address)
    records = Records()
    records.suppression = lambda _channel, _address: suppression  # read once, above
    decision = decide(
        customer=conversation.customer, address=address, channel="email", category="service",
        template_key="", at=timezone.now(), history=OutboxHistory(), records=records,
    )  # fmt: skip
    if decision.kind == REFUSE:
        return [_("Diese Antwort wird nicht gesendet: %(reason)s") % {"reason": decision.reason}]
    if suppression is not None:
        return [
            _(
                "%(address)s steht auf der Sperrliste (%(reason)s) für Werbung; eine "
                "Antwort auf die Anfrage wird trotzdem gesendet."
            )
            % {"address": address, "reason": suppression.get_reason_display()}
        ]
    return []


BRAND_MOVED = "conversation.brand_changed"


@transaction.atomic
def move_conversation_to_brand(
    *, conversation: Conversation, brand: BusinessEntity, actor
) -> Conversation:
    """Move a misrouted conversation, with everything of it that carries a brand, to another
    of the actor's brands (a Team-Lead's: ``reassign_conversation``, both brands their own).

    Its messages and attachments go with it, and so do the raw emails: later copies of
    the same mail dedupe and route (``conversations.routing``) to the new brand, and
    replies follow the thread there. Customers belong to one brand, so the old brand's
    customer is unlinked (the classification stays; the agent links the new brand's one),
    as are the old brand's mailbox and an assignee who does not work for the new brand.
    Outbox rows stay with the brand that sent them, which is why a move waits until no
    reply of the conversation is still waiting to be sent (it would leave From the old
    brand). The thread shows a note, the audit log an entry, the classification history
    the unlinked customer.
    """
    if not actor.has_perm("conversations.reassign_conversation"):
        raise PermissionDenied(_("Nur Team-Leads dürfen Konversationen einer anderen Marke geben."))
    own = BusinessEntity.objects.for_user(actor)
    if not own.filter(pk=conversation.brand_id).exists() or not own.filter(pk=brand.pk).exists():
        raise PermissionDenied(_("Beide Marken müssen zu Ihren Marken gehören."))
    # the row locked, then read again: two moves of the same conversation do not interleave
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("brand", "customer", "assignee", "mailbox")
        .get(pk=conversation.pk)
    )
    old_brand = conversation.brand
    if old_brand.pk == brand.pk:
        raise ValidationError(_("Die Konversation gehört schon zu dieser Marke."))
    if OutboundMessage.objects.filter(
        conversation=conversation, status__in=[OutboundStatus.QUEUED, OutboundStatus.SENDING]
    ).exists():
        raise ValidationError(_("Eine Nachricht dieser Konversation wartet noch auf den Versand."))

    now = timezone.now()
    old_customer = conversation.customer
    changes: dict[str, list] = {"brand": [old_brand.name, brand.name]}
    conversation.brand = brand
    fields = ["brand"]
    if old_customer is not None and old_customer.brand_id != brand.pk:
        changes["customer"] = [str(old_customer), None]
        conversation.customer = None
        fields.append("customer")
        ClassificationChange.objects.create(
            conversation=conversation,
            from_classification=conversation.classification,
            to_classification=conversation.classification,
            from_customer=old_customer,
            to_customer=None,
            changed_by=actor,
            changed_at=now,
            reason=_("Marke geändert"),
        )
    if conversation.mailbox is not None and conversation.mailbox.brand_id != brand.pk:
        conversation.mailbox = None
        fields.append("mailbox")
    assignee = conversation.assignee
    if assignee is not None and not assignee.brands.filter(pk=brand.pk).exists():
        changes["assignee"] = [assignee.get_username(), None]
        conversation.assignee = None
        fields.append("assignee")
    _move_raw_emails(conversation, brand)

    text = _("Marke geändert: %(old)s → %(new)s") % {"old": old_brand.name, "new": brand.name}
    if "customer" in changes:
        text += " " + _("(Kunde %(customer)s gehört zu %(old)s und ist nicht mehr zugeordnet)") % {
            "customer": old_customer,
            "old": old_brand.name,
        }
    conversation.save(update_fields=fields)
    record_internal_note(conversation=conversation, text=text, author=actor, at=now)
    audit(
        actor=Actor.staff(actor),
        action=BRAND_MOVED,
        obj=conversation,
        customer_id=old_customer.pk if old_customer else None,
        changes=changes,
    )
    return conversation


def _move_raw_emails(conversation: Conversation, brand: BusinessEntity) -> None:
    """The conversation's raw emails to the new brand, keeping their dedupe key (the
    mailbox they arrived by). A raw email whose very bytes the new brand already has
    stays where it is (the unique key allows one)."""
    rows = list(
        RawEmail.objects.filter(messages__conversation=conversation)
        .distinct()
        .values_list("pk", "mailbox_key", "sha256")
    )
    if not rows:
        return
    taken = set(
        RawEmail.objects.filter(
            brand=brand, sha256__in={sha for _pk, _key, sha in rows}
        ).values_list("mailbox_key", "sha256")
    )
    movable = [pk for pk, key, sha in rows if (key, sha) not in taken]
    # the mailbox is the old brand's; mailbox_key keeps the dedupe key
    RawEmail.objects.filter(pk__in=movable).update(brand=brand, mailbox=None)
