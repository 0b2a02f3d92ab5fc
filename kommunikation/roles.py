"""The four roles as Django groups, with their permissions.

Kept in code so a migration can (re)apply them: ``sync_roles(apps)`` creates the
groups and sets exactly these permissions; a later migration that adds models
extends ROLES and calls it again.
"""

from __future__ import annotations

AGENT = "Agent"
TEAM_LEAD = "Team-Lead"
ADMIN = "Admin"
MANAGEMENT = "Management"

_AGENT = [
    "kommunikation.view_businessentity",
    "kommunikation.view_customer",
    "kommunikation.change_customer",
    "kommunikation.view_contactpoint",
    "kommunikation.add_contactpoint",
    "kommunikation.change_contactpoint",
    "conversations.view_conversation",
    "conversations.change_conversation",
    "conversations.classify_conversation",
    "conversations.reply_conversation",
    "conversations.view_message",
    "conversations.add_message",
    "conversations.view_attachment",
    "conversations.view_senderrule",
    "conversations.add_senderrule",
    "conversations.view_classificationchange",
]
_TEAM_LEAD = _AGENT + [
    "conversations.reassign_conversation",
    "conversations.view_reports",
    "conversations.change_senderrule",
    "conversations.delete_senderrule",
    "kommunikation.add_customer",
]
_ADMIN = _TEAM_LEAD + [
    "kommunikation.add_businessentity",
    "kommunikation.change_businessentity",
    "kommunikation.delete_contactpoint",
    "conversations.view_mailbox",
    "conversations.add_mailbox",
    "conversations.change_mailbox",
    "conversations.view_rawemail",
]
_MANAGEMENT = _TEAM_LEAD + [
    "conversations.view_mailbox",
    "conversations.view_rawemail",
]

ROLES: dict[str, list[str]] = {
    AGENT: _AGENT,
    TEAM_LEAD: _TEAM_LEAD,
    ADMIN: _ADMIN,
    MANAGEMENT: _MANAGEMENT,
}


def sync_roles(apps, schema_editor=None) -> None:
    """Create the groups and give each exactly its permissions (idempotent)."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations ran; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codes in ROLES.items():
        group, _created = Group.objects.get_or_create(name=name)
        wanted = []
        for code in codes:
            app_label, codename = code.split(".")
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
