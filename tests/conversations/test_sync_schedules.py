from __future__ import annotations

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from config.schedules import SCHEDULES


@pytest.mark.django_db
def test_it_upserts_the_table_and_removes_the_rest():
    Schedule.objects.create(
        name="fetch-mail", func="alt.func", schedule_type=Schedule.MINUTES, minutes=5
    )
    Schedule.objects.create(name="veraltet", func="weg.damit", schedule_type=Schedule.DAILY)

    call_command("sync_schedules")
    call_command("sync_schedules")  # idempotent

    rows = {s.name: s for s in Schedule.objects.all()}
    assert set(rows) == {name for name, *_rest in SCHEDULES}
    fetch = rows["fetch-mail"]
    assert (fetch.func, fetch.schedule_type, fetch.cron) == (
        "conversations.tasks.fetch_mail",
        Schedule.CRON,
        "*/2 * * * *",
    )


def test_every_scheduled_function_exists():
    from django.utils.module_loading import import_string

    for name, func, cron, why in SCHEDULES:
        assert callable(import_string(func)), name
        assert len(cron.split()) == 5 and why
