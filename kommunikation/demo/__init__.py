"""The demo data of `make run` and of the benchmarks: ``generator.seed_demo`` draws from
the word lists and scenarios in ``data`` (data only, no code)."""

from __future__ import annotations

from kommunikation.demo.generator import seed_demo

__all__ = ["seed_demo"]
