"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.broker import Broker  # noqa: E402


@pytest.fixture
def broker(tmp_path: Path):
    """A real Mosquitto on a free port, stopped after the test."""
    b = Broker(tmp_path / "mosquitto").start()
    try:
        yield b
    finally:
        b.kill()


@pytest.fixture
def pg_url() -> str | None:
    """PostgreSQL URL for the cloud tests when one is reachable, else None."""
    return os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
