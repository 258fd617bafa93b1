"""Fixtures for the TUI tests: a control API on a real socket over a real journal."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import pytest

from kiosk_agent.config import AgentConfig
from kiosk_agent.control import AgentFacade, ControlServer, JournalControl, hash_pin
from kiosk_agent.journal import Journal
from kiosk_agent.logbuffer import RecentLogHandler

STAFF_PIN = "2468"


class FakeDevices:
    """The agent's device side as the control API sees it (status, health, maintenance)."""

    def __init__(self) -> None:
        self.maintenance = False
        self.test_pages = 0
        self.scans: list[dict] = []

    async def status(self) -> dict:
        return {
            "store_id": "store1", "kiosk_id": "kiosk1", "state": "idle",
            "maintenance": self.maintenance, "link": {"connected": True},
            "last_scans": self.scans,
        }

    async def health(self) -> dict:
        return {
            "printer": {"state": "ok", "paper": "ok"},
            "camera": {"state": "ok", "fps": 14.9, "decode_ms": 11},
        }

    async def set_maintenance(self, on: bool, reason: str) -> None:
        self.maintenance = on


@pytest.fixture(scope="session")
def staff_pin_hash() -> str:
    """The argon2 hash of STAFF_PIN (hashing is slow: once per run)."""
    return hash_pin(STAFF_PIN)


@pytest.fixture
async def journal(tmp_path: Path):
    """An open journal in a temporary SQLite file (store1/kiosk1)."""
    async with Journal(tmp_path / "journal.db", "store1", "kiosk1") as j:
        yield j


@pytest.fixture
def sock_dir():
    """A short directory for the control socket (AF_UNIX paths are limited to 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="ktui", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def agent_api(journal, sock_dir, staff_pin_hash):
    """A running control API over the journal + fake devices; yields (socket_path, devices)."""
    devices = FakeDevices()
    cfg = AgentConfig()
    cfg.control.socket_path = sock_dir / "control.sock"
    cfg.control.socket_group = None
    cfg.control.staff_pin_hash = staff_pin_hash
    handler = RecentLogHandler(200)
    agent_logger = logging.getLogger("kiosk_agent")
    old_level = agent_logger.level
    agent_logger.setLevel(logging.INFO)
    agent_logger.addHandler(handler)
    try:
        async with ControlServer(
            AgentFacade(devices, JournalControl(journal)), cfg, log_handler=handler
        ) as server:
            yield server, devices
    finally:
        agent_logger.removeHandler(handler)
        agent_logger.setLevel(old_level)
