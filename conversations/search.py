"""Full-text search over the inbox: subject, body, sender, the customer's name and number,
phone numbers, invoice and order numbers.

On PostgreSQL: German full-text search (``websearch_to_tsquery('german', ...)``)
against expression GIN indexes created by migration 0002_inbox_search (the SQL
expressions here must stay identical to the indexed ones, or the planner will
not use the index) and, for message bodies, the stored ``search_vector`` column
of migration 0004_inbox_perf with its GIN index message_search. An address or domain ("@" or a dot in the term) is matched
as a substring of the counterpart. On SQLite: a plain case-insensitive
substring match, fine for a small installation.

On both: the linked customer (however it was linked: by sender address or by hand) is
found by name (every word, "Anna Huber") and by customer number ("K-10083"); a term that
reads as a phone number ("0171 2345678", "+49 171 2345678", "0171/2345678") is
normalised to E.164 and matched against the conversation's address and the customers'
phone contact points. Invoice and order numbers ("RE-2026-0042", "AB-1234") need nothing
of their own: PostgreSQL's parser keeps their parts in order ('re' <-> '-2026' <->
'-0042', a phrase the same text matches and "RE-2026-0043" does not), SQLite's
substring match finds them as typed.
"""

from __future__ import annotations

import json
import re

from django.db import connection
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from conversations.models import Conversation, Message
from kommunikation.contact import normalize_phone
from kommunikation.models import ContactChannel, ContactPoint, Customer

CONVERSATION_TSVECTOR = (
    "to_tsvector('german'::regconfig, coalesce(subject, '') || ' ' || "
    "coalesce(counterpart_name, '') || ' ' || coalesce(counterpart, ''))"
)
MESSAGE_TSVECTOR = (
    "to_tsvector('german'::regconfig, coalesce(subject, '') || ' ' || coalesce(text, ''))"
)
CUSTOMER_TSVECTOR = (
    "to_tsvector('simple'::regconfig, coalesce(first_name, '') || ' ' || "
    "coalesce(last_name, '') || ' ' || coalesce(company_name, ''))"
)

# (index name, table, expression): created by migration 0002_inbox_search on PostgreSQL
SEARCH_INDEXES = [
    ("conv_fts", "conversations_conversation", CONVERSATION_TSVECTOR),
    ("message_fts", "conversations_message", MESSAGE_TSVECTOR),
    ("customer_fts", "kommunikation_customer", CUSTOMER_TSVECTOR),
]


# Unqualified column names: Django aliases tables in subqueries (U0, ...), and no
# table joined to these queries has columns of the same names.
def _matches(vector: str, config: str, term: str) -> RawSQL:
    return RawSQL(
        f"{vector} @@ websearch_to_tsquery('{config}'::regconfig, %s)",
        [term],
        output_field=BooleanField(),
    )


# Above this many matching messages (the planner's estimate) a term is "common": walking
# the newest conversations and testing each finds a page of hits sooner than collecting
# every hit first. Measured on 200,000 conversations / 690,000 messages: a term in 7,000
# messages costs 50 ms either way; in 70,000, 15 ms walking and 350 ms collecting.
COMMON_TERM_MESSAGES = 5000


class _MessageOfConversationMatches(Func):
    """``EXISTS`` a message of this conversation matching, tested row by row.

    ``OFFSET 0`` keeps PostgreSQL from turning the test into a hash of every
    matching message (which costs what collecting all hits costs): with it, a
    LIMIT-ed newest-first walk stops after a page of hits.
    """

    output_field = BooleanField()

    def __init__(self, term: str):
        super().__init__(F("pk"))
        self.term = term

    def as_sql(self, compiler, connection, **extra):
        pk_sql, pk_params = compiler.compile(self.get_source_expressions()[0])
        sql = (
            "EXISTS (SELECT 1 FROM conversations_message sm WHERE sm.conversation_id = "
            f"{pk_sql} AND sm.search_vector @@ websearch_to_tsquery('german'::regconfig, %s) "
            "OFFSET 0)"
        )
        return sql, [*pk_params, self.term]


def search_conversations(qs: QuerySet[Conversation], term: str) -> QuerySet[Conversation]:
    if connection.vendor == "postgresql":
        condition = _postgres_condition(term)
    else:
        condition = (
            Q(subject__icontains=term)
            | Q(counterpart__icontains=term)
            | Q(counterpart_name__icontains=term)
            | Q(customer_id__in=Customer.objects.search(term).values("id"))
            | Q(id__in=Message.objects.filter(text__icontains=term).values("conversation_id"))
        )
    condition |= _customer_number_condition(term)
    e164 = phone_in_term(term)
    if e164:
        condition |= _phone_condition(e164)
    return qs.filter(condition)


def _customer_number_condition(term: str) -> Q:
    """The customer's number as typed or upper-cased ("k-10083"): the customer_number index."""
    numbers = {term, term.upper()}
    return Q(customer_id__in=Customer.objects.filter(number__in=numbers).values("id"))


# digits with the usual separators, at least six digits: "0171 2345678", "+49 (171) 234-5678"
_PHONE_LIKE = re.compile(r"\+?[\d\s/().-]+")
MIN_PHONE_DIGITS = 6


def phone_in_term(term: str) -> str:
    """The term as an E.164 number if it reads as a phone number, else ''."""
    if not _PHONE_LIKE.fullmatch(term) or sum(c.isdigit() for c in term) < MIN_PHONE_DIGITS:
        return ""
    try:
        return normalize_phone(term)
    except ValueError:
        return ""


def _phone_condition(e164: str) -> Q:
    """The thread's address (SMS, WhatsApp, calls: E.164, WhatsApp's without "+") or a phone
    contact point of its customer."""
    by_contact = ContactPoint.objects.filter(channel=ContactChannel.PHONE, value=e164)
    return Q(counterpart__in=[e164, e164[1:]]) | Q(customer_id__in=by_contact.values("customer_id"))


def _estimated_messages(term: str) -> float:
    """The planner's estimate of matching messages: from the column statistics, no scan."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM conversations_message WHERE {MESSAGE_SEARCH}",
            [term],
        )
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return plan[0]["Plan"]["Plan Rows"]


MESSAGE_SEARCH = "search_vector @@ websearch_to_tsquery('german'::regconfig, %s)"


def _postgres_condition(term: str) -> Q:
    conversation_match = _matches(CONVERSATION_TSVECTOR, "german", term)
    customer_match = _matches(CUSTOMER_TSVECTOR, "simple", term)
    if _estimated_messages(term) >= COMMON_TERM_MESSAGES:
        # many hits: test the newest conversations one by one until a page is full
        condition = (
            Q(conversation_match)
            | Q(_MessageOfConversationMatches(term))
            | Q(Exists(Customer.objects.filter(pk=OuterRef("customer_id")).filter(customer_match)))
        )
    else:
        # few hits: one set of ids from the three GIN indexes (a UNION PostgreSQL hashes
        # once), then the newest-first walk of the list index keeps what is in it
        message_match = RawSQL(MESSAGE_SEARCH, [term], output_field=BooleanField())
        by_conversation = Conversation.objects.filter(conversation_match).values("id")
        by_message = Message.objects.filter(message_match).values("conversation_id")
        by_customer = Conversation.objects.filter(
            customer_id__in=Customer.objects.filter(customer_match).values("id")
        ).values("id")
        condition = Q(id__in=by_conversation.union(by_message, by_customer))
    if "@" in term or ("." in term and " " not in term):
        condition |= Q(counterpart__icontains=term)
    return condition
