"""The four roles as Django groups, with their permissions.

Kept in code so a migration can (re)apply them: ``sync_roles(apps)`` creates the
groups and sets exactly these permissions; a later migration that adds models
extends ROLES and calls it again. A post_migrate receiver (kommunikation.apps) applies
ROLES after every ``migrate`` too, so a changed list reaches existing databases.

What the admin makes of a permission is brand-scoped (kommunikation.admin_scoping) and
sometimes narrower than its name:
- ``change_outboundmessage`` means "may cancel waiting and retry failed outbox rows" (the
  admin actions); no role, not even a superuser, edits a row's recipient or content.
- no role has ``change_suppression``: a suppression is added or lifted, never edited.
- ``change_channelpreference`` is used on the customer page; the admin shows preferences
  read-only.
"""

from __future__ import annotations

AGENT = "Agent"
TEAM_LEAD = "Team-Lead"
ADMIN = "Admin"
MANAGEMENT = "Management"

_AGENT = [
    "kommunikation.view_businessentity",
    "kommunikation.view_customer",
    # issue 10 §1: agents turn unknown senders into customers and keep their contact data
    "kommunikation.add_customer",
    "kommunikation.change_customer",
    "kommunikation.view_contactpoint",
    "kommunikation.add_contactpoint",
    "kommunikation.change_contactpoint",
    "kommunikation.delete_contactpoint",
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
    "templates_app.view_messagetemplate",
    "templates_app.view_templatevariant",
    "templates_app.view_templateversion",
    "compliance.view_consent",
    "compliance.add_consent",
    "compliance.view_channelpreference",
    "compliance.change_channelpreference",
    "compliance.view_suppression",
    "kommunikation.view_outboundmessage",
    "kommunikation.view_event",
    # call tasks (issue 11 §4): agents make the calls and record how they went
    "kommunikation.view_calltask",
    "kommunikation.change_calltask",
]
_TEAM_LEAD = _AGENT + [
    "conversations.reassign_conversation",
    "conversations.view_reports",
    "conversations.change_senderrule",
    "conversations.delete_senderrule",
    "compliance.add_suppression",
    "kommunikation.change_outboundmessage",
    "kommunikation.view_automationrule",
    "kommunikation.view_rulestep",
    "kommunikation.view_rulerun",
    "kommunikation.view_plannedstep",
    # seed 001's Vertretungsregeln: team leads keep the absences; opening hours are read
    "kommunikation.view_absence",
    "kommunikation.add_absence",
    "kommunikation.change_absence",
    "kommunikation.delete_absence",
    "kommunikation.view_openinghours",
    # the office's print batch of letters (issue 11 §3)
    "kommunikation.view_letter",
    "kommunikation.view_printbatch",
    "kommunikation.add_printbatch",
]
_ADMIN = _TEAM_LEAD + [
    "kommunikation.add_businessentity",
    "kommunikation.change_businessentity",
    "conversations.view_mailbox",
    "conversations.add_mailbox",
    "conversations.change_mailbox",
    "conversations.view_rawemail",
    "conversations.view_webhookdelivery",
    "conversations.view_sendermodel",
    "conversations.change_sendermodel",
    "templates_app.add_messagetemplate",
    "templates_app.change_messagetemplate",
    "templates_app.add_templatevariant",
    "templates_app.change_templatevariant",
    "compliance.delete_suppression",
    "compliance.view_auditentry",
    "kommunikation.view_providerbudget",
    "kommunikation.change_providerbudget",
    "kommunikation.view_eventsource",
    "kommunikation.add_eventsource",
    "kommunikation.change_eventsource",
    "kommunikation.add_automationrule",
    "kommunikation.change_automationrule",
    "kommunikation.delete_automationrule",
    "kommunikation.add_rulestep",
    "kommunikation.change_rulestep",
    "kommunikation.delete_rulestep",
    "kommunikation.add_openinghours",
    "kommunikation.change_openinghours",
    "kommunikation.delete_openinghours",
    "kommunikation.view_letterconnection",
    "kommunikation.add_letterconnection",
    "kommunikation.change_letterconnection",
]
_MANAGEMENT = _TEAM_LEAD + [
    "conversations.view_mailbox",
    "conversations.view_rawemail",
    "conversations.view_webhookdelivery",
    "compliance.view_auditentry",
]

ROLES: dict[str, list[str]] = {
    AGENT: _AGENT,
    TEAM_LEAD: _TEAM_LEAD,
    ADMIN: _ADMIN,
    MANAGEMENT: _MANAGEMENT,
}


def sync_roles_after_migrate(sender, **kwargs) -> None:
    """post_migrate: keeps the groups complete after every migrate, and after the database
    flush of transactional tests (which empties tables filled by data migrations)."""
    from django.apps import apps as global_apps

    sync_roles(global_apps)


def sync_roles(apps, schema_editor=None) -> None:
    """Create the groups and give each exactly its permissions (idempotent)."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations ran; make sure they exist now.
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True  # historical app configs have none
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    # A migration runs with the models of its moment: permissions of apps not migrated
    # yet are skipped here and granted by the later migration that calls this again.
    # (tests/kommunikation/test_roles.py checks that every listed permission exists.)
    available = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    for name, codes in ROLES.items():
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.set([available[code] for code in codes if code in available])
