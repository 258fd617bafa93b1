"""The agent on a disk that fills up, restarted the way its systemd unit says.

There is no running systemd in the test container, so the test plays its part from
the unit file itself (``systemd/kiosk-agent.service``, checked by ``systemd-analyze
verify``): ``Restart=always``, ``RestartPreventExitStatus=``, ``WatchdogSec=`` with
systemd's default ``WatchdogSignal=SIGABRT``; only the durations are shrunk. The agent
is the real ``kiosk-agent run`` (control socket, sd_notify, journal) in its own
process on a real 8 MiB tmpfs, with a till committing sales through the journal.

The disk fills: sales are refused (never half-written), the journal reports it, the
watchdog pings stop, the "systemd" kills and restarts the agent (never with the
config-error status that would stop the restarts), again while the disk is full; the
space comes back, the next start is ready and sells, and every sale the journal ever
acknowledged is in it, once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk_agent.journal import Journal
from tests.kiosk_agent.journal.test_disk_faults import _fill
from tests.kiosk_agent.test_sdnotify import NotifyListener, short_dir
from tests.test_systemd_units import stage_unit, unit_values, verify

__all__ = ["short_dir"]  # fixture

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "systemd" / "kiosk-agent.service"
DISK_BYTES = 8 * 1024 * 1024
# The unit's durations, shrunk for a test (their meaning is the unit's).
WATCHDOG_S = 1.0
RESTART_S = 0.2
WRITE_FAULT_RESTART_S = 1.5
START_TIMEOUT_S = 20.0  # TimeoutStartSec: no READY=1 by then, SIGTERM
STOP_TIMEOUT_S = 10.0  # TimeoutStopSec/TimeoutAbortSec: then SIGKILL


@pytest.fixture
def small_disk(tmp_path: Path):
    """An 8 MiB tmpfs mounted for this test (skipped where mounting is not allowed)."""
    where = tmp_path / "disk"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs",
                           str(where)], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


class UnitSupervisor:
    """What systemd does for ``kiosk-agent.service``: start, watch the notify socket,
    send the watchdog signal when pings stop, restart unless the exit status forbids."""

    def __init__(self, config: Path, notify: NotifyListener, sold_log: Path,
                 service: dict[str, list[str]]) -> None:
        self.config, self.notify, self.sold_log = config, notify, sold_log
        assert service["Restart"] == ["always"]
        assert service["Type"] == ["notify"] and service["NotifyAccess"] == ["main"]
        assert "WatchdogSec" in service and "WatchdogSignal" not in service  # SIGABRT
        assert "TimeoutStartSec" in service and "TimeoutStopSec" in service
        self.prevent = {int(s) for s in " ".join(service["RestartPreventExitStatus"]).split()}
        self.proc: subprocess.Popen[bytes] | None = None
        self.exits: list[int] = []  # returncode of each run (negative: killed by signal)
        self.readies: list[bool] = []  # whether each ended run had sent READY=1

    def start(self) -> None:
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.address, PYTHONPATH=str(ROOT),
                   WATCHDOG_USEC=str(int(WATCHDOG_S * 1e6)), SOLD_LOG=str(self.sold_log),
                   WRITE_FAULT_RESTART_S=str(WRITE_FAULT_RESTART_S))
        env.pop("WATCHDOG_PID", None)
        self.notify.messages.clear()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.kiosk_agent.journal.full_disk_child",
             str(self.config)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)

    def ready(self, timeout: float = 30) -> bool:
        """READY=1 from this run (False: it exited or timed out first)."""
        return self.notify.collect(
            lambda m: any("READY=1" in x for _, x in m) or self.proc.poll() is not None,
            timeout) and any("READY=1" in x for x in self.notify.texts())

    def run_until_ended(self, limit: float = 60) -> int:
        """Watch this run as systemd would until the process ends: before READY=1 the
        start timeout (then SIGTERM), after it the watchdog (then the watchdog signal);
        a process the signal does not end is SIGKILLed."""
        assert self.proc is not None
        started = time.monotonic()
        deadline = started + limit
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, "the agent neither failed nor was killed"
            self.notify.collect(lambda m: False, 0.1)
            ready = [t for t, x in self.notify.messages if "READY=1" in x]
            pings = [t for t, x in self.notify.messages if x == "WATCHDOG=1"]
            if not ready:
                if time.monotonic() - started > START_TIMEOUT_S:
                    self._end(signal.SIGTERM)  # "start operation timed out"
            elif time.monotonic() - max([ready[0], *pings]) > WATCHDOG_S:
                self._end(signal.SIGABRT)  # "Watchdog timeout", WatchdogSignal=SIGABRT
        self.proc.wait()
        self.exits.append(self.proc.returncode)
        self.readies.append(any("READY=1" in x for x in self.notify.texts()))
        return self.proc.returncode

    def _end(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def would_restart(self, returncode: int) -> bool:
        """``Restart=always`` restarts on anything but a RestartPreventExitStatus= status."""
        return returncode not in self.prevent

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def _config(tmp: Path, disk: Path) -> Path:
    config = tmp / "kiosk.toml"
    config.write_text(f"""
[journal]
path = "{disk / 'journal.db'}"
[mqtt]
enabled = false
[camera]
kind = "none"
[printer]
kind = "none"
[control]
socket_path = "{tmp / 'control.sock'}"
socket_group = ""
""", encoding="utf-8")
    return config


def _sold(log: Path) -> tuple[list[str], int]:
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return ([ln.split()[1] for ln in lines if ln.startswith("SOLD ")],
            sum(ln.startswith("REFUSED") for ln in lines))


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_the_unit_restarts_the_agent_through_a_full_disk_and_nothing_is_lost(
        short_dir, small_disk, tmp_path):
    staged = stage_unit(UNIT, tmp_path)
    assert verify(staged) == ""  # systemd-analyze verify: the unit as installed
    service = unit_values(staged)["Service"]
    notify = NotifyListener(str(short_dir / "notify"))
    sold_log = tmp_path / "sold.log"
    unit = UnitSupervisor(_config(short_dir, small_disk), notify, sold_log, service)
    try:
        # 1. A healthy start: ready, pinging, selling.
        unit.start()
        assert unit.ready(), unit.proc.stderr.read().decode()[-2000:]
        _wait(lambda: len(_sold(sold_log)[0]) >= 20, 30, "sales on a healthy disk")

        # 2. The disk fills up: sales are refused, the pings stop, the watchdog ends it.
        _fill(small_disk / "filler")
        status = unit.run_until_ended()
        assert unit.would_restart(status), status
        sold_before, refused = _sold(sold_log)
        assert refused > 0, "the disk never refused a sale"

        # 3. Restarted on the still-full disk: it fails again, never in a way that stops
        #    systemd from restarting it (RestartPreventExitStatus), and sells nothing.
        time.sleep(RESTART_S)
        unit.start()
        status = unit.run_until_ended()
        why = unit.proc.stderr.read().decode()
        assert unit.would_restart(status), (status, why[-2000:])
        assert status < 0 or "journal error" in why, why[-2000:]  # e.g. exit 3, one line
        assert _sold(sold_log)[0] == sold_before
        full_disk_exit = why.strip().splitlines()[-1] if why.strip() else f"signal {-status}"

        # 4. Space comes back (a log rotated): the next restart is ready and sells again.
        os.unlink(small_disk / "filler")
        time.sleep(RESTART_S)
        unit.start()
        assert unit.ready(), unit.proc.stderr.read().decode()[-2000:]
        _wait(lambda: len(_sold(sold_log)[0]) >= len(sold_before) + 20, 30,
              "sales after the space came back")
        notify.collect(lambda m: sum(x == "WATCHDOG=1" for _, x in m) >= 6, 10)
        assert unit.proc.poll() is None  # healthy: the watchdog keeps being fed
        assert unit.stop() == 0
        assert notify.collect(lambda m: any(x.startswith("STOPPING=1") for _, x in m), 5)
    finally:
        if unit.proc is not None and unit.proc.poll() is None:
            unit.proc.kill()
            unit.proc.wait()
        notify.close()

    # Nothing lost: every sale the journal acknowledged is in it, once, with its events.
    sold, _ = _sold(sold_log)
    assert len(sold) == len(set(sold))
    import asyncio

    async def check() -> None:
        async with Journal(small_disk / "journal.db", "store1", "kiosk1") as j:
            for order_no in sold:
                assert await j.committed_sale(order_no) is not None, order_no
            stats = await j.outbox_stats()
            assert stats.depth == 2 * len(sold)  # order.completed + payment.settled each

    asyncio.run(check())
    print(f"full disk: ended runs={len(unit.exits)} exits={unit.exits} "
          f"ready before the end={unit.readies} sold={len(sold)}; "
          f"start on the full disk: {full_disk_exit}")
