"""The audit log is append-only, and every change of consent, preference and suppression is in it."""

from __future__ import annotations

import pytest

from compliance.models import AppendOnlyError, AuditEntry, Suppression
from compliance.services import Actor, lift_suppression, suppress_address, update_preferences
from tests.factories import UserFactory


def test_an_audit_entry_cannot_be_changed_or_deleted(db):
    entry = AuditEntry.objects.create(actor_label="x", action="test", object_type="t")
    entry.action = "changed"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="changed")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().action == "test"


def test_staff_preference_changes_are_audited_with_the_user(customer):
    user = UserFactory(username="tom", first_name="Tom", last_name="Team")
    changed = update_preferences(
        customer=customer,
        wanted={("sms", "relationship"): True, ("email", "service"): True},
        actor=Actor.staff(user),
        source="phone",
    )
    assert changed == 1  # service was allowed already
    entries = AuditEntry.objects.filter(customer_id=customer.pk).order_by("id")
    assert [e.action for e in entries] == ["preference.allowed", "consent.granted"]
    assert entries[0].actor == user
    assert entries[0].actor_label == "Tom Team"


def test_suppression_is_audited_once_and_keeps_its_first_reason(db):
    actor = Actor(label="Webhook")
    first = suppress_address(
        channel="email", value="X@Y.example", reason="hard_bounce", actor=actor
    )
    again = suppress_address(channel="email", value="x@y.example", reason="complaint", actor=actor)
    assert again.pk == first.pk
    assert again.reason == "hard_bounce"
    assert AuditEntry.objects.filter(action__startswith="suppression.").count() == 1
    lift_suppression(suppression=first, actor=actor)
    assert not Suppression.objects.exists()
    assert AuditEntry.objects.filter(action="suppression.lifted").count() == 1
