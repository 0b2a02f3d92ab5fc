from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import CustomerFactory


class ListHistory:
    """An in-memory SendHistory: (customer, channel, template_key, category, at) tuples."""

    def __init__(self):
        self.sends = []

    def add(self, customer, channel, template_key, at, capped=True):
        self.sends.append((customer.pk, channel, template_key, at, capped))

    def count_capped_since(self, *, customer, channel, since):
        return sum(
            1 for c, ch, _k, at, capped in self.sends
            if c == customer.pk and ch == channel and capped and at >= since
        )  # fmt: skip

    def last_sent(self, *, customer, channel, template_key):
        times = [
            at for c, ch, k, at, _capped in self.sends
            if c == customer.pk and ch == channel and k == template_key
        ]  # fmt: skip
        return max(times, default=None)


@pytest.fixture
def history():
    return ListHistory()


@pytest.fixture
def customer(brand_a):
    return CustomerFactory(brand=brand_a, email="anna@kunde.example")


def berlin(*args) -> dt.datetime:
    from compliance.policy import BERLIN

    return dt.datetime(*args, tzinfo=BERLIN)
