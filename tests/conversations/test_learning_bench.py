"""``make bench`` "learning": the simulated four weeks run, report and clean up."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from conversations.models import Conversation, SenderModel, SenderRule
from kommunikation.models import BusinessEntity, Customer


@pytest.mark.django_db(transaction=True)
def test_the_learning_bench_reports_both_thresholds_and_cleans_up():
    out = io.StringIO()

    call_command("bench", "--only", "learning", "--messages", "300", stdout=out)

    result = json.loads(out.getvalue().splitlines()[-1])
    metrics = {row["metric"]: row["value"] for row in result["results"]}
    for label in ("Schwelle aus", "Schwelle 90 %"):
        assert metrics[f"mails ({label})"] == 300
        assert metrics[f"senders ({label})"] == 360
        for key in ("week1_correct", "week4_correct", "automatic_wrong"):
            assert 0 <= metrics[f"{key} ({label})"] <= 100
        # the agent's weeks and the rules they teach: week 4 beats week 1
        assert metrics[f"week4_correct ({label})"] > metrics[f"week1_correct ({label})"]
    assert not BusinessEntity.objects.exists()
    assert not Customer.objects.exists()
    assert not Conversation.objects.exists()
    assert not SenderRule.objects.exists()
    assert not SenderModel.objects.exists()
