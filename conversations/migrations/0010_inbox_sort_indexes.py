"""Indexes for the inbox's sort orders "Fällig zuerst" and "Priorität" (PostgreSQL only).

Like conv_open_recent (0002) they cover the open and waiting conversations (the default list)
and hold the sort keys of conversations.filters.SORT_KEYS, so a page is a walk of the index,
not a sort of every open conversation. The expressions must stay identical to
filters._ANNOTATIONS (the planner matches them textually).
"""

from django.db import migrations

OPEN = "WHERE status IN ('open', 'pending')"
INDEXES = {
    "conv_open_due": (
        "(COALESCE(response_due_at, '9999-12-31 00:00:00+00'::timestamptz)), "
        "last_message_at DESC, id DESC"
    ),
    "conv_open_priority": (
        "(CASE WHEN priority = 'urgent' THEN 0 WHEN priority = 'high' THEN 1 "
        "WHEN priority = 'normal' THEN 2 ELSE 3 END), last_message_at DESC, id DESC"
    ),
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON conversations_conversation ({columns}) {OPEN}"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0009_inbox_settings")]

    operations = [migrations.RunPython(forwards, backwards)]
