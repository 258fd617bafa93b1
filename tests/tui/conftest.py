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
DEMO_PRICE_BOOK = Path(__file__).resolve().parents[2] / "config" / "pricebook.example.json"


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


@pytest.fixture
async def running_agent(tmp_path: Path, sock_dir, staff_pin_hash, monkeypatch):
    """A real Agent built like ``kiosk-agent run`` (every part build_agent starts) on
    fakes: the demo price book as seed, no MQTT, no camera or display, a file printer
    into ``tmp_path/receipts.bin`` and FakePayments; its control socket in ``sock_dir``.

    Yields the running agent (control socket serving); stops it (bounded) afterwards.
    """
    import asyncio

    from kiosk_agent.agent import build_agent
    from tests.kiosk_agent.sales import FakePayments

    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    cfg = AgentConfig.model_validate({
        "journal": {"path": str(tmp_path / "journal.db"),
                    "seed_price_book": str(DEMO_PRICE_BOOK)},
        "mqtt": {"enabled": False},
        "camera": {"kind": "none"},
        "printer": {"kind": "file", "file_path": str(tmp_path / "receipts.bin"),
                    "retry_s": 0.05},
        "display": {"kind": "none"},
        "control": {"socket_path": str(sock_dir / "agent.sock"), "socket_group": None,
                    "staff_pin_hash": staff_pin_hash},
    })
    agent = build_agent(cfg)
    agent.payments = FakePayments()
    task = asyncio.create_task(agent.run())
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while not (agent.started.is_set() and cfg.control.socket_path.exists()):
            assert not task.done(), "the agent stopped while starting"
            assert asyncio.get_running_loop().time() < deadline, "agent not serving in time"
            await asyncio.sleep(0.02)
        yield agent
    finally:
        agent.stop()
        await asyncio.wait_for(task, 15)
