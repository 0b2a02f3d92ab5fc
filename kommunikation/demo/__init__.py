"""The demo data of `make run` and of the benchmarks: ``seed_demo`` (the generator, in
``generator``) draws from the word lists and scenarios in ``data``."""

from __future__ import annotations

from kommunikation.demo.data import (
    CARS,
    CITIES,
    COLD_BODIES,
    COLD_SUBJECTS,
    CUSTOMER_SCENARIOS,
    FEMALE,
    INTERNAL_SCENARIOS,
    LAST,
    MAIL_PROVIDERS,
    MALE,
    NEWSLETTER_SUBJECTS,
    NEWSLETTERS,
    PRODUCTS,
    SUPPLIER_SCENARIOS,
    UNCLASSIFIED_BODIES,
    UNCLASSIFIED_SUBJECTS,
)
from kommunikation.demo.generator import (
    BERLIN,
    DemoGenerator,
    DemoSummary,
    ascii_slug,
    seed_demo,
    tiny_pdf,
)

__all__ = [
    "BERLIN", "CARS", "CITIES", "COLD_BODIES", "COLD_SUBJECTS", "CUSTOMER_SCENARIOS",
    "DemoGenerator", "DemoSummary", "FEMALE", "INTERNAL_SCENARIOS", "LAST", "MAIL_PROVIDERS",
    "MALE", "NEWSLETTERS", "NEWSLETTER_SUBJECTS", "PRODUCTS", "SUPPLIER_SCENARIOS",
    "UNCLASSIFIED_BODIES", "UNCLASSIFIED_SUBJECTS", "ascii_slug", "seed_demo", "tiny_pdf",
]  # fmt: skip
