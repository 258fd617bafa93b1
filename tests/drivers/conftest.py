"""Fixtures for the driver tests."""

from __future__ import annotations

import asyncio
import json
import os
import select
import time
import tty
from pathlib import Path

import pytest

from contract.wire.events import OrderCompletedData
from drivers.fake_printer import FakeNetworkPrinter

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def reference_order() -> OrderCompletedData:
    """The reference order the golden receipts are rendered from."""
    return OrderCompletedData.model_validate(
        json.loads((GOLDEN / "order_reference.json").read_text(encoding="utf-8"))
    )


@pytest.fixture
def fake_printer():
    """A fake ESC/POS network printer on a free 127.0.0.1 port."""
    with FakeNetworkPrinter() as fake:
        yield fake


class PtyDevice:
    """The device end of a serial cable: a pty master; the port is a symlink (like udev's)."""

    def __init__(self, link):
        self.link = link
        self.master = self.slave = None
        self.plug()

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        if os.path.lexists(self.link):
            os.unlink(self.link)
        os.symlink(os.ttyname(self.slave), self.link)

    def unplug(self) -> None:
        os.unlink(self.link)
        os.close(self.slave)
        os.close(self.master)
        self.master = self.slave = None

    async def read_until(self, needle: bytes, limit_s: float = 3.0) -> bytes:
        return await asyncio.to_thread(self._read_until, needle, limit_s)

    def _read_until(self, needle: bytes, limit_s: float) -> bytes:
        got = b""
        deadline = time.monotonic() + limit_s
        while needle not in got:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} not received; got {got!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                got += os.read(self.master, 4096)
        return got

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        if self.master is not None:
            self.unplug()


@pytest.fixture
def vfd(tmp_path):
    """A pseudo-terminal posing as a VFD pole display at tmp_path/vfd."""
    dev = PtyDevice(str(tmp_path / "vfd"))
    yield dev
    dev.close()
