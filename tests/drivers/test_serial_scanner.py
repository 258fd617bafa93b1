"""Serial barcode scanner on a pseudo-terminal: codes, CR/CRLF, garbage, unplug."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.serial_scanner import (
    LineSplitter,
    NoScanner,
    ScannerRead,
    SerialScanner,
    build_scanner,
)
from kiosk_agent.config import ScannerSection
from tests.support.waiting import until

from .conftest import PtyDevice

FAST = dict(reopen_s=0.05)


@pytest.fixture
def scanner_pty(tmp_path):
    """A pseudo-terminal posing as a USB CDC scanner at tmp_path/scanner."""
    dev = PtyDevice(str(tmp_path / "scanner"))
    yield dev
    dev.close()


async def next_read(scanner, limit_s: float = 3.0) -> ScannerRead:
    async with asyncio.timeout(limit_s):
        return await anext(scanner)


async def test_codes_with_cr_and_crlf(scanner_pty):
    async with SerialScanner(scanner_pty.link, **FAST) as scanner:
        await until(lambda: scanner.health()["state"] == "ok")
        scanner_pty.write(b"6901939621257\r")
        assert await next_read(scanner) == ("6901939621257", "unknown")
        scanner_pty.write(b"134567890123456789\r\n6920152400777\r\n")
        assert await next_read(scanner) == ScannerRead("134567890123456789")
        assert await next_read(scanner) == ScannerRead("6920152400777", "unknown")
        # a code split across two USB packets
        scanner_pty.write(b"69201")
        await asyncio.sleep(0.05)
        scanner_pty.write(b"52400777\r")
        assert (await next_read(scanner)).text == "6920152400777"
        assert scanner.health()["reads"] == 4


async def test_garbage_is_dropped_and_reported(scanner_pty, caplog):
    caplog.set_level(logging.WARNING, logger="drivers.serial_scanner")
    async with SerialScanner(scanner_pty.link, max_line=64, **FAST) as scanner:
        await until(lambda: scanner.health()["state"] == "ok")
        scanner_pty.write(b"\xff\xfe\x00\x13garbage\r")  # wrong baud rate looks like this
        scanner_pty.write(b"abc\x1b[0mdef\r")  # control characters
        scanner_pty.write(b"9" * 200 + b"\r")  # runaway line
        await until(lambda: scanner.health()["dropped"] == 3)
        health = scanner.health()
        assert health["state"] == "error" and "garbage" in health["reason"]
        scanner_pty.write(b"6901939621257\r")
        assert (await next_read(scanner)).text == "6901939621257"
        assert scanner.health()["state"] == "ok"
    # nothing of the dropped lines reached the log in clear
    assert not any("9999" in r.getMessage() for r in caplog.records)


async def test_missing_then_plugged_and_unplugged(tmp_path):
    link = str(tmp_path / "scanner")
    async with SerialScanner(link, **FAST) as scanner:
        await until(lambda: scanner.health()["state"] == "error")
        assert "cannot open" in scanner.health()["reason"]
        dev = PtyDevice(link)
        try:
            await until(lambda: scanner.health()["state"] == "ok")
            dev.write(b"6901939621257\r")
            assert (await next_read(scanner)).text == "6901939621257"
            dev.unplug()
            await until(lambda: scanner.health()["state"] == "error")
            dev.plug()
            await until(lambda: scanner.health()["state"] == "ok")
            dev.write(b"6920152400777\r")
            assert (await next_read(scanner)).text == "6920152400777"
        finally:
            dev.close()


async def test_no_scanner_configured():
    scanner = build_scanner(ScannerSection(kind="none"))
    assert isinstance(scanner, NoScanner)
    assert scanner.health()["state"] == "off"
    async with scanner:
        with pytest.raises(TimeoutError):
            await next_read(scanner, limit_s=0.05)
    assert isinstance(build_scanner(ScannerSection(kind="serial", port="/dev/ttyACM0")), SerialScanner)


def test_splitter_rules():
    sp = LineSplitter(max_line=10)
    assert sp.feed(b"123\r\n\r\n456\n") == (["123", "456"], 0)
    assert sp.feed(b"12345678901234\r") == ([], 1)
    assert sp.feed(b"ok\r") == (["ok"], 0)
    assert sp.feed(b"\x07bell\r") == ([], 1)
    assert sp.feed("会员码".encode() + b"\r") == (["会员码"], 0)


@given(st.lists(st.binary(max_size=40), max_size=10))
def test_splitter_never_yields_unprintable_or_long(chunks):
    sp = LineSplitter(max_line=32)
    for chunk in chunks:
        lines, dropped = sp.feed(chunk)
        assert dropped >= 0
        for line in lines:
            assert line and line.isprintable() and len(line.encode()) <= 32
            assert "\r" not in line and "\n" not in line
