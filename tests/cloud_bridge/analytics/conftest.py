"""Fixtures of the analytics tests: a small generated chain, in memory and in the database."""

from __future__ import annotations

from datetime import date

import pytest

from cloud_bridge.analytics.generator import ChainSpec, generate

SMALL = ChainSpec(stores=2, products=40, members=120, days=56, lines=3000,
                  start=date(2026, 1, 5))


@pytest.fixture(scope="session")
def small_year():
    """A 56-day, 2-store chain of ~3,000 lines (seed printed on failure by pytest's repr)."""
    return generate(20260105, SMALL)
