"""sd_notify: the datagrams a Type=notify service sends, and a watchdog that stops on a hang."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import common.sdnotify as common_sdnotify
from common.sdnotify import SystemdNotifier, Watchdog
from kiosk_agent import sdnotify

ROOT = Path(__file__).resolve().parents[2]


class NotifyListener:
    """A NOTIFY_SOCKET like systemd's: collects (monotonic time, message) datagrams."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.messages: list[tuple[float, str]] = []

    def collect(self, until, timeout: float) -> bool:
        """Receive until ``until(messages)`` is true or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not until(self.messages):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                return False
            self.messages.append((time.monotonic(), data.decode()))
        return True

    def texts(self) -> list[str]:
        return [m for _, m in self.messages]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def short_dir():
    """A short directory for sockets (AF_UNIX paths are limited to 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="kntf", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("abstract", [False, True])
def test_ready_status_watchdog_stopping_datagrams(short_dir, abstract):
    address = f"@kiosk-test-{os.getpid()}-{time.monotonic_ns()}" if abstract else str(short_dir / "n")
    listener = NotifyListener(address)
    try:
        notifier = SystemdNotifier(env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "2000000"})
        assert notifier.enabled and notifier.watchdog_interval == 2.0
        assert notifier.ready("serving  store1/kiosk1\nqueue 0")
        assert notifier.status("queue 3")
        assert notifier.watchdog()
        assert notifier.stopping()
        assert listener.collect(lambda m: len(m) == 4, 2)
        ready, status, ping, stopping = listener.texts()
        assert ready.splitlines()[0] == "READY=1"
        assert f"MAINPID={os.getpid()}" in ready.splitlines()
        assert "STATUS=serving store1/kiosk1 queue 0" in ready.splitlines()
        assert (status, ping, stopping) == ("STATUS=queue 3", "WATCHDOG=1", "STOPPING=1")
    finally:
        listener.close()


def test_without_notify_socket_everything_is_a_no_op():
    notifier = SystemdNotifier(env={})
    assert not notifier.enabled and notifier.watchdog_interval is None
    assert notifier.ready() is False and notifier.watchdog() is False


def test_watchdog_usec_only_for_our_pid():
    assert SystemdNotifier(env={"WATCHDOG_USEC": "500000", "WATCHDOG_PID": "1"}).watchdog_interval is None
    mine = {"WATCHDOG_USEC": "500000", "WATCHDOG_PID": str(os.getpid())}
    assert SystemdNotifier(env=mine).watchdog_interval == 0.5
    assert SystemdNotifier(env={"WATCHDOG_USEC": "junk"}).watchdog_interval is None


def test_missing_socket_warns_once_and_does_not_raise(short_dir, caplog):
    notifier = SystemdNotifier(str(short_dir / "absent"))
    assert notifier.watchdog() is False and notifier.watchdog() is False
    assert caplog.text.count("sd_notify") == 1


async def test_watchdog_pings_only_while_beating_and_healthy(short_dir, monkeypatch):
    listener = NotifyListener(str(short_dir / "w"))
    healthy = [True]
    clock = [1000.0]  # the watchdog's monotonic clock, moved by the test
    monkeypatch.setattr(common_sdnotify, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    env = {"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "100000"}  # 0.1 s
    notifier = SystemdNotifier(env=env)
    try:
        async with Watchdog(notifier, [lambda: healthy[0]], stale_after=0.3) as wd:
            assert wd.interval == pytest.approx(0.05)
            rounds = asyncio.Queue()  # one (healthy, pings) item per ping round
            judge = wd.healthy

            def judged() -> bool:
                verdict = judge()
                rounds.put_nowait(verdict)
                return verdict

            wd.healthy = judged  # the ping loop calls it once per round

            async def next_round() -> bool:
                while not rounds.empty():  # only rounds that start from now count
                    rounds.get_nowait()
                return await asyncio.wait_for(rounds.get(), 2)

            async def pings_in_next_round() -> int:
                # A round judges and pings in one step of the loop: once its verdict is
                # in, its ping (if any) has been sent.
                before = wd.pings
                await next_round()
                return wd.pings - before

            wd.beat()
            assert await pings_in_next_round() >= 1
            healthy[0] = False  # a component died: no more pings
            await next_round()
            for _ in range(3):
                wd.beat()
                assert await next_round() is False
            assert await pings_in_next_round() == 0
            healthy[0] = True
            clock[0] += 0.4  # no beats for longer than stale_after: the heartbeat is stale
            assert await next_round() is False and not wd.healthy()
            assert await pings_in_next_round() == 0
            wd.beat()
            assert await next_round() is True
            assert await pings_in_next_round() >= 1
        assert listener.collect(lambda m: len(m) >= 2, 1)
        assert set(listener.texts()) == {"WATCHDOG=1"}
    finally:
        listener.close()


def _write_config(tmp: Path) -> Path:
    config = tmp / "kiosk.toml"
    config.write_text(
        f"""
[journal]
path = "{tmp / 'journal.db'}"
[mqtt]
enabled = false
[camera]
kind = "none"
[printer]
kind = "none"
[control]
socket_path = "{tmp / 'control.sock'}"
""",
        encoding="utf-8",
    )
    return config


# `kiosk-agent run --config FILE`, with only the `run` subcommand registered.
RUN_CLI = (
    "import sys; from kiosk_agent.cli import build_parser; "
    "a = build_parser(('kiosk_agent.cli_run',)).parse_args(sys.argv[1:]); sys.exit(a.func(a))"
)


def _spawn_agent(
    tmp: Path, notify: str, watchdog_usec: int, *, real_cli: bool = False
) -> subprocess.Popen:
    env = dict(os.environ, NOTIFY_SOCKET=notify, WATCHDOG_USEC=str(watchdog_usec),
               PYTHONPATH=str(ROOT))
    env.pop("WATCHDOG_PID", None)
    config = str(_write_config(tmp))
    argv = (
        [sys.executable, "-c", RUN_CLI, "run", "--config", config] if real_cli
        else [sys.executable, "-m", "tests.kiosk_agent.notify_child", config]
    )
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def test_agent_notifies_ready_pings_and_stopping(short_dir, monkeypatch):
    listener = NotifyListener(str(short_dir / "notify"))
    # The real `kiosk-agent run`: build_agent brings the control API and sd_notify.
    proc = _spawn_agent(short_dir, listener.address, 400_000, real_cli=True)
    try:
        assert listener.collect(lambda m: any("READY=1" in x for _, x in m), 20), (
            proc.poll(), listener.texts())
        ready = next(x for x in listener.texts() if "READY=1" in x)
        assert "STATUS=serving store1/kiosk1" in ready
        assert (short_dir / "control.sock").is_socket(), "control API serving before READY"
        assert listener.collect(lambda m: sum(x == "WATCHDOG=1" for _, x in m) >= 3, 5)
        proc.send_signal(signal.SIGTERM)
        assert listener.collect(lambda m: any(x.startswith("STOPPING=1") for _, x in m), 10)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()


def test_hung_main_loop_stops_the_watchdog_pings(short_dir):
    listener = NotifyListener(str(short_dir / "notify"))
    proc = _spawn_agent(short_dir, listener.address, 300_000)  # pings every 0.15 s
    try:
        assert listener.collect(lambda m: sum(x == "WATCHDOG=1" for _, x in m) >= 3, 20), (
            listener.texts(), proc.stderr.read1() if proc.poll() is not None else "")
        proc.send_signal(signal.SIGUSR1)  # the loop now blocks in time.sleep
        hung_at = time.monotonic()
        listener.collect(lambda m: False, 1.2)  # four times the watchdog timeout
        late = [t for t, x in listener.messages if x == "WATCHDOG=1" and t > hung_at + 0.2]
        assert late == [], "pings went on while the main loop was hung"
        assert proc.poll() is None  # alive but hung: systemd would now kill and restart it
    finally:
        proc.kill()
        proc.wait()
        listener.close()


def test_agent_notify_component_is_silent_without_systemd():
    agent = type("A", (), {})()
    component = sdnotify.AgentNotifyComponent(agent, SystemdNotifier(env={}))

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(component.run(stop))
        await asyncio.sleep(0)
        stop.set()
        await asyncio.wait_for(task, 1)

    asyncio.run(go())
