"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from common.mosquitto import Broker

# Fixtures shared by test packages, registered once instead of imported (with noqa) by
# every module that uses them; and the guard that starts no test just before a midnight.
pytest_plugins = ("tests.cloud_bridge.payments_fixtures", "tests.support.day_guard")

# Property tests are not timed: Hypothesis's default 200 ms deadline per example (and its
# too-slow health check) fail a test when a loaded CI machine stalls one example
# ("Unreliable test timings"), which says nothing about the code. Speed is bench/'s.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


@pytest.fixture
def broker(tmp_path: Path):
    """A real Mosquitto on a free port, stopped after the test."""
    b = Broker(tmp_path / "mosquitto").start()
    try:
        yield b
    finally:
        b.kill()


PG_DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
_PG_PROBED: dict[str, bool] = {}


def pg_reachable(url: str) -> bool:
    """True when a PostgreSQL server answers a login at ``url`` (probed once per URL)."""
    if url not in _PG_PROBED:
        import asyncio

        async def probe() -> bool:
            try:
                import asyncpg
            except ImportError:
                return False
            dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
            try:
                conn = await asyncio.wait_for(asyncpg.connect(dsn), 3)
            except Exception:
                return False
            await conn.close()
            return True

        _PG_PROBED[url] = asyncio.run(probe())
    return _PG_PROBED[url]


@pytest.fixture
def pg_url() -> str | None:
    """PostgreSQL URL for the cloud tests when one is reachable, else None."""
    url = os.environ.get("TEST_DATABASE_URL", PG_DEFAULT_URL)
    return url if pg_reachable(url) else None
