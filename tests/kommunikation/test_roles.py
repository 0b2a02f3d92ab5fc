from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from kommunikation.roles import ROLES

pytestmark = pytest.mark.django_db


def test_every_permission_a_role_lists_exists_and_is_granted():
    existing = {
        f"{app}.{code}"
        for app, code in Permission.objects.values_list("content_type__app_label", "codename")
    }

    for name, codes in ROLES.items():
        granted = {
            f"{app}.{code}"
            for app, code in Group.objects.get(name=name).permissions.values_list(
                "content_type__app_label", "codename"
            )
        }
        assert set(codes) <= existing, set(codes) - existing
        assert granted == set(codes), name
