"""Changes the rules engine makes to a conversation: assignee, priority, tags.

The one door for automation to write a conversation (kommunikation.automation.inbox_actions
calls it; it never sets the fields itself). Each change is kept in the conversation's
history twice: as an internal note in the thread, which the agents see where they work
("Regel „Buchhaltung“: Priorität hoch, Schlagwort Buchhaltung"), and in the audit log.
A change that changes nothing (a repeated event, a tag already there) writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from compliance.services import Actor, audit
from conversations.models import Conversation, Message, Priority
from conversations.outbound import record_internal_note

RULE_CHANGED = "conversation.rule_changed"
# an assignment by round robin: the next one starts after the agent of the latest entry
ROUND_ROBIN_ASSIGNED = "conversation.round_robin"
UNCHANGED = object()


@dataclass
class RuleChanges:
    """What a rule did to a conversation (the descriptions as the note shows them)."""

    changed: dict = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    note: Message | None = None  # the history note (pass it on to extend it)


def normalize_tag(tag: str) -> str:
    return " ".join(str(tag).split())[:40]


@transaction.atomic
def apply_rule_changes(
    *,
    conversation: Conversation,
    rule_label: str,
    assignee=UNCHANGED,
    priority: str = "",
    tags: list[str] | tuple[str, ...] = (),
    why: str = "",
    round_robin: bool = False,
    note: Message | None = None,
) -> RuleChanges:
    """Set what differs, note it in the thread and the audit log; returns what changed.

    `assignee` must work for the conversation's brand (ValidationError otherwise);
    `priority` is one of urgent/high/normal/low; `tags` are added (case-insensitively
    unique, kept in their first spelling). `why` explains an assignment (round robin, a
    substitute for someone absent). `note`: the note an earlier step of the same rule and
    event wrote; it is extended, so one rule leaves one line in the thread.
    """
    result = RuleChanges(note=note)
    fields: list[str] = []
    if assignee is not UNCHANGED and assignee is not None and assignee != conversation.assignee:
        if not assignee.brands.filter(pk=conversation.brand_id).exists():
            raise ValidationError(_("Diese Person arbeitet nicht für die Marke."))
        conversation.assignee = assignee
        fields.append("assignee")
        name = assignee.get_full_name() or assignee.get_username()
        result.changed["assignee"] = assignee.pk
        result.lines.append(
            _("zugewiesen an %(name)s") % {"name": name} + (f" ({why})" if why else "")
        )
    if priority:
        if priority not in Priority.values:
            raise ValidationError(_("Unbekannte Priorität."))
        if priority != conversation.priority:
            conversation.priority = priority
            fields.append("priority")
            result.changed["priority"] = priority
            result.lines.append(
                _("Priorität %(priority)s") % {"priority": Priority(priority).label}
            )
    have = {t.casefold() for t in conversation.tags or []}
    added = []
    for tag in tags:
        tag = normalize_tag(tag)
        if tag and tag.casefold() not in have:
            have.add(tag.casefold())
            added.append(tag)
    if added:
        conversation.tags = [*(conversation.tags or []), *added]
        fields.append("tags")
        result.changed["tags"] = added
        result.lines.append(_("Schlagworte: %(tags)s") % {"tags": ", ".join(added)})
    if not fields:
        return result
    conversation.save(update_fields=fields)
    if note is not None:
        note.text = f"{note.text.removesuffix('.')}; {'; '.join(result.lines)}."
        note.save(update_fields=["text"])
    else:
        text = _("Regel „%(rule)s“: %(changes)s.") % {
            "rule": rule_label,
            "changes": "; ".join(result.lines),
        }
        result.note = record_internal_note(
            conversation=conversation, text=text, sender_name=_("Regeln")
        )
    audit(
        actor=Actor(label=_("Regeln")),
        action=ROUND_ROBIN_ASSIGNED if round_robin and "assignee" in fields else RULE_CHANGED,
        obj=conversation,
        customer_id=conversation.customer_id,
        changes={"rule": rule_label, **result.changed},
    )
    return result
