"""Full-text search over the inbox: subject, body, sender and customer name.

On PostgreSQL: German full-text search (``websearch_to_tsquery('german', ...)``)
against expression GIN indexes created by migration 0002_inbox_search; the SQL
expressions here must stay identical to the indexed ones, or the planner will
not use the index. An address or domain ("@" or a dot in the term) is matched
as a substring of the counterpart. On SQLite: a plain case-insensitive
substring match, fine for a small installation.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from conversations.models import Conversation, Message
from kommunikation.models import Customer

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


# Above this many matching messages a term is "common": walking the newest
# conversations and testing each finds a page of hits sooner than collecting them all.
COMMON_TERM_MESSAGES = 2000


def search_conversations(qs: QuerySet[Conversation], term: str) -> QuerySet[Conversation]:
    if connection.vendor == "postgresql":
        return qs.filter(_postgres_condition(term))
    return qs.filter(
        Q(subject__icontains=term)
        | Q(counterpart__icontains=term)
        | Q(counterpart_name__icontains=term)
        | Q(customer__last_name__icontains=term)
        | Q(customer__first_name__icontains=term)
        | Q(customer__company_name__icontains=term)
        | Q(id__in=Message.objects.filter(text__icontains=term).values("conversation_id"))
    )


def _is_common(term: str) -> bool:
    """A capped count on the GIN index: cheap, and decides the plan below."""
    hits = Message.objects.filter(_matches(MESSAGE_TSVECTOR, "german", term)).values("id")
    return len(hits[:COMMON_TERM_MESSAGES]) >= COMMON_TERM_MESSAGES


def _postgres_condition(term: str) -> Q:
    conversation_match = _matches(CONVERSATION_TSVECTOR, "german", term)
    message_match = _matches(MESSAGE_TSVECTOR, "german", term)
    customer_match = _matches(CUSTOMER_TSVECTOR, "simple", term)
    if _is_common(term):
        # many hits: test the newest conversations one by one until a page is full
        condition = (
            Q(conversation_match)
            | Q(
                Exists(Message.objects.filter(conversation_id=OuterRef("pk")).filter(message_match))
            )
            | Q(Exists(Customer.objects.filter(pk=OuterRef("customer_id")).filter(customer_match)))
        )
    else:
        # few hits: one set of ids from the three GIN indexes (a UNION PostgreSQL hashes
        # once), then the newest-first walk of the list index keeps what is in it
        by_conversation = Conversation.objects.filter(conversation_match).values("id")
        by_message = Message.objects.filter(message_match).values("conversation_id")
        by_customer = Conversation.objects.filter(
            customer_id__in=Customer.objects.filter(customer_match).values("id")
        ).values("id")
        condition = Q(id__in=by_conversation.union(by_message, by_customer))
    if "@" in term or ("." in term and " " not in term):
        condition |= Q(counterpart__icontains=term)
    return condition
