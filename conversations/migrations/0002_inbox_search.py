"""Full-text search indexes for the inbox search, on PostgreSQL only.

Expression GIN indexes (German configuration for subjects and bodies, 'simple'
for names), matching the expressions in conversations/search.py. SQLite has no
equivalent and uses a substring search instead, so this migration does nothing there.
"""

from django.db import migrations


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from conversations.search import SEARCH_INDEXES

    for name, table, expression in SEARCH_INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON "{table}" USING gin (({expression}))'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from conversations.search import SEARCH_INDEXES

    for name, _table, _expression in SEARCH_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0001_initial"),
        ("kommunikation", "0002_roles"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
