"""The journal on a disk that refuses writes: a real full filesystem (a small tmpfs this
test mounts) and injected I/O errors at COMMIT. Writes that fail are rolled back whole,
reported (``write_health``), retried, and the journal writes again once the disk
does; past the restart bound it tells the watchdog it is unhealthy."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from kiosk_agent.journal import Journal, JournalWriteError
from kiosk_agent.journal import core as journal_core

TMPFS_BYTES = 4 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MiB tmpfs mounted for this test (skipped where mounting is not allowed)."""
    where = tmp_path / "disk"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs",
                           str(where)], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): "
                    f"{done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def _event(i: int) -> tuple[str, dict]:
    return ("device.fault", {"n": i, "pad": "x" * 2000})


def _fill(path: Path) -> None:
    """Take every free byte of the filesystem with one file."""
    with open(path, "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    with contextlib.suppress(OSError), open(path, "ab") as f:
        for _ in range(4096):  # the last few bytes, in small pieces
            f.write(b"\0" * 512)
            f.flush()


async def test_full_disk_rolls_back_reports_and_recovers(small_disk: Path):
    async with Journal(small_disk / "journal.db", "s1", "k1") as j:
        stored = [await j.append_events([_event(i)]) for i in range(5)]
        _fill(small_disk / "filler")
        failures = 0
        for i in range(5, 400):  # until the WAL needs a page the disk does not have
            try:
                stored.append(await j.append_events([_event(i)]))
            except JournalWriteError:
                failures += 1
                if failures == 3:
                    break
        assert failures == 3, "the disk never filled"
        health = j.write_health()
        assert health["state"] == "error" and health["failures"] == 3
        assert "full" in health["reason"]
        # Reads still work, and nothing half-written is visible.
        assert (await j.outbox_stats()).depth == len(stored)
        os.unlink(small_disk / "filler")  # space comes back (a log rotated)
        stored.append(await j.append_events([_event(999)]))  # no stuck transaction
        assert j.write_health() == {"state": "ok"} and j.writable()
        assert (await j.outbox_stats()).depth == len(stored)
    async with Journal(small_disk / "journal.db", "s1", "k1") as again:  # all on disk
        assert (await again.outbox_stats()).depth == len(stored)


class _FailingCommits:
    """The journal's connection, with the next ``n`` COMMITs failing like a bad disk."""

    def __init__(self, conn: sqlite3.Connection, n: int) -> None:
        self._conn, self.left = conn, n

    def execute(self, sql: str, *args):
        if sql == "COMMIT" and self.left > 0:
            self.left -= 1
            raise sqlite3.OperationalError("disk I/O error")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._conn, name)


async def test_injected_commit_errors_are_retried_then_rolled_back(tmp_path: Path,
                                                                   monkeypatch):
    monkeypatch.setattr(journal_core, "COMMIT_RETRY_S", 0.001)
    async with Journal(tmp_path / "journal.db", "s1", "k1") as j:
        real = j._conn
        # One failure: the retry of COMMIT succeeds, nothing is reported.
        j._conn = _FailingCommits(real, 1)
        await j.append_events([_event(1)])
        assert j.write_health() == {"state": "ok"}
        # More failures than retries: rolled back, reported, and the journal still writes.
        j._conn = _FailingCommits(real, journal_core.COMMIT_RETRIES + 1)
        with pytest.raises(JournalWriteError):
            await j.append_events([_event(2)])
        assert not real.in_transaction
        assert j.write_health()["state"] == "error" and j.writable()
        monkeypatch.setattr(journal_core, "WRITE_FAULT_RESTART_S", 0.0)
        assert not j.writable()  # broken for too long: the watchdog stops petting
        j._conn = real
        await j.append_events([_event(3)])
        assert j.writable() and (await j.outbox_stats()).depth == 2
