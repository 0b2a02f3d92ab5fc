"""The SMS bench holds the provider budget per simulated minute and cleans up after itself."""

from __future__ import annotations

import pytest

from kommunikation.models import BusinessEntity, OutboundMessage
from kommunikation.sms_benchmarks import sms_budget

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_budget_holds_each_simulated_minute_and_nothing_is_left():
    result = sms_budget(minutes=2, budget=40, step_seconds=5)

    assert result["per_minute"] == [40, 40]
    assert result["max_in_60s"] == 40
    assert result["deviation_percent"] == 0
    assert result["held"] is True
    assert not BusinessEntity.objects.filter(slug__startswith="bench-sms-").exists()
    assert not OutboundMessage.objects.exists()
