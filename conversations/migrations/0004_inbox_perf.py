"""Search over message bodies from a stored tsvector (PostgreSQL only).

The expression index of 0002 (message_fts) made every test of a message against
a search term compute to_tsvector() over the whole body again: ~0.2 ms a message,
so the newest-first walk of a common term cost 70-300 ms. A stored generated
column is computed once on insert; its GIN index (message_search) replaces
message_fts and serves both search plans in conversations/search.py (the GIN
lookup for rare terms, the per-conversation test on the message_thread index for
common ones). The column is not on the model: Django never writes it, and the
model stays the same on SQLite.
"""

from django.db import migrations

VECTOR = (
    "to_tsvector('german'::regconfig, coalesce(subject, '') || ' ' || coalesce(text, ''))"
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE conversations_message ADD COLUMN IF NOT EXISTS search_vector tsvector "
        f"GENERATED ALWAYS AS ({VECTOR}) STORED"
    )
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS message_search ON conversations_message "
        "USING gin (search_vector)"
    )
    schema_editor.execute("DROP INDEX IF EXISTS message_fts")
    schema_editor.execute("ANALYZE conversations_message")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS message_fts ON conversations_message USING gin (({VECTOR}))"
    )
    schema_editor.execute("DROP INDEX IF EXISTS message_search")
    schema_editor.execute("ALTER TABLE conversations_message DROP COLUMN IF EXISTS search_vector")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0002_inbox_search")]

    operations = [migrations.RunPython(forwards, backwards)]
