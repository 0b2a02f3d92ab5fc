"""Indexes of the inbox list and its search.

On every database: the list is newest first over all of a user's brands
(``ORDER BY last_message_at DESC, id DESC LIMIT 51``); these indexes let the
database walk the newest rows and stop after one page instead of sorting every
open conversation. The partial one serves the default list (open and waiting).

On PostgreSQL only: expression GIN indexes for German full-text search
(German configuration for subjects and bodies, 'simple' for names), matching the
expressions in conversations/search.py. SQLite uses a substring search instead.
"""

from django.db import migrations

LIST_INDEXES = [
    # the default list: open and waiting conversations, newest first
    (
        "conv_open_recent",
        'CREATE INDEX IF NOT EXISTS conv_open_recent ON "conversations_conversation" '
        "(last_message_at DESC, id DESC) WHERE status IN ('open', 'pending')",
    ),
    # every other list (status=alle, filters on few rows), and keyset paging through them
    (
        "conv_recent",
        'CREATE INDEX IF NOT EXISTS conv_recent ON "conversations_conversation" '
        "(last_message_at DESC, id DESC)",
    ),
]


def create_indexes(apps, schema_editor):
    for _name, sql in LIST_INDEXES:
        schema_editor.execute(sql)
    if schema_editor.connection.vendor != "postgresql":
        return
    from conversations.search import SEARCH_INDEXES

    for name, table, expression in SEARCH_INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON "{table}" USING gin (({expression}))'
        )


def drop_indexes(apps, schema_editor):
    names = [name for name, _sql in LIST_INDEXES]
    if schema_editor.connection.vendor == "postgresql":
        from conversations.search import SEARCH_INDEXES

        names += [name for name, _table, _expression in SEARCH_INDEXES]
    for name in names:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0001_initial"),
        ("kommunikation", "0002_roles"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
