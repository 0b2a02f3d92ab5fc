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
from django.db.models import BooleanField, Q, QuerySet
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


def _postgres_condition(term: str) -> Q:
    by_message = Message.objects.filter(_matches(MESSAGE_TSVECTOR, "german", term)).values(
        "conversation_id"
    )
    by_customer = Customer.objects.filter(_matches(CUSTOMER_TSVECTOR, "simple", term)).values("id")
    condition = (
        Q(_matches(CONVERSATION_TSVECTOR, "german", term))
        | Q(id__in=by_message)
        | Q(customer_id__in=by_customer)
    )
    if "@" in term or ("." in term and " " not in term):
        condition |= Q(counterpart__icontains=term)
    return condition
