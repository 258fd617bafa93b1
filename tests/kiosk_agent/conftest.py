"""Fixtures for the kiosk agent tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk_agent.journal import Journal


@pytest.fixture
async def journal(tmp_path: Path):
    """An open journal in a temporary SQLite file (store1/kiosk1)."""
    async with Journal(tmp_path / "journal.db", "store1", "kiosk1") as j:
        yield j
