"""The agent main: components in a TaskGroup, scans to sales, graceful stop, SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from kiosk_agent import agent as agent_mod
from kiosk_agent.agent import Agent
from kiosk_agent.checkout import State
from kiosk_agent.config import AgentConfig
from kiosk_agent.journal import Journal
from tests.kiosk_agent.sales import FakePayments, make_book
from tests.support.waiting import until

ROOT = Path(__file__).resolve().parents[2]
PAYMENT_CODE = "134567890123456789"


def make_config(tmp_path: Path, **kiosk) -> AgentConfig:
    return AgentConfig.model_validate(
        {"journal": {"path": str(tmp_path / "journal.db")}, "kiosk": kiosk,
         "mqtt": {"enabled": False}}
    )


class Spooler:
    """A component like the printer spooler: context manager + run(stop); marks jobs done."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.events: list[str] = []
        self.printed: list[str] = []

    async def __aenter__(self):
        self.events.append("enter")
        return self

    async def __aexit__(self, *exc):
        self.events.append("exit")

    async def run(self, stop: asyncio.Event) -> None:
        self.events.append("run")
        while not stop.is_set():
            # Cleared before reading, not after: a sale committed while the jobs are read
            # sets it again (cleared after, its signal was lost and the sale never printed).
            self.journal.print_signal.clear()
            for job in await self.journal.print_jobs_pending():
                self.printed.append(job.order_no)
                await self.journal.print_job_done(job.job_id)
            waiter = asyncio.ensure_future(self.journal.print_signal.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
        self.events.append("drained")


async def scans(*items: tuple[str, str]):
    for kind, text in items:
        yield SimpleNamespace(kind=kind, text=text, symbology="")
    await asyncio.Event().wait()  # a camera keeps running


async def test_scans_become_a_printed_sale_and_stop_is_graceful(tmp_path: Path):
    config = make_config(tmp_path)
    agent = Agent(config, payments=FakePayments(), book=make_book())
    spooler = Spooler(agent.journal)
    ticks: list[int] = []

    async def heartbeat(stop: asyncio.Event) -> None:
        while not stop.is_set():
            ticks.append(1)
            await asyncio.sleep(0.01)

    agent.add_component("printer", spooler)
    agent.add_component("heartbeat", heartbeat)
    agent.add_scan_source(
        scans(("product", "SKU-WATER"), ("product", "SKU-CHIPS"), ("unknown", "x"),
              ("wechat", PAYMENT_CODE))
    )
    runner = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.started.wait(), 5)
    assert agent.tasks_healthy()
    await until(lambda: agent.checkout.state == State.COMPLETED)
    assert len(spooler.printed) == 1 and ticks
    agent.stop()
    await asyncio.wait_for(runner, 5)
    assert spooler.events == ["enter", "run", "drained", "exit"]
    assert not agent.tasks_healthy()
    async with Journal(config.journal.path, "store1", "kiosk1") as j:
        (order,) = await j.orders()
        assert order.total == 850 and order.order_no == spooler.printed[0]
        assert (await j.outbox_stats()).depth == 2


async def test_crashing_component_is_restarted(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(agent_mod, "RESTART_BACKOFF_S", 0.01)
    agent = Agent(make_config(tmp_path), book=make_book())
    runs = []

    async def flaky(stop: asyncio.Event) -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError("device unplugged")
        await stop.wait()

    agent.add_component("flaky", flaky)
    runner = asyncio.create_task(agent.run())
    await until(lambda: len(runs) >= 3)
    assert agent.tasks_healthy()
    agent.stop()
    await asyncio.wait_for(runner, 5)


async def test_stuck_component_is_cancelled_after_the_drain_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(agent_mod, "DRAIN_TIMEOUT_S", 0.1)
    agent = Agent(make_config(tmp_path), book=make_book())
    cancelled = asyncio.Event()

    async def stubborn(stop: asyncio.Event) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    agent.add_component("stubborn", stubborn)
    runner = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.started.wait(), 5)
    agent.stop()
    await asyncio.wait_for(runner, 5)
    assert cancelled.is_set()


async def test_abandoned_cart_is_voided(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(agent_mod, "CART_TIMER_TICK_S", 0.01)
    agent = Agent(make_config(tmp_path, abandoned_cart_s=0.05), book=make_book())
    agent.add_scan_source(scans(("product", "SKU-WATER")))
    runner = asyncio.create_task(agent.run())
    await until(lambda: agent.checkout is not None and agent.checkout.items)
    await until(lambda: agent.checkout.state == State.IDLE and not agent.checkout.items)
    agent.stop()
    await asyncio.wait_for(runner, 5)


async def test_recovery_runs_at_start(tmp_path: Path):
    config = make_config(tmp_path)
    async with Journal(config.journal.path, "store1", "kiosk1") as j:
        await j.begin_payment_attempt("kiosk1-x-0001", "otn", "wechat", 100, "CNY")
    agent = Agent(config, book=make_book())
    runner = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.started.wait(), 5)
    assert agent.recovery.attempts_marked_unknown == ["otn"]
    agent.stop()
    await asyncio.wait_for(runner, 5)


def test_bad_component_is_refused(tmp_path: Path):
    agent = Agent(make_config(tmp_path))
    with pytest.raises(TypeError):
        agent.add_component("nothing", object())


def test_sigterm_stops_kiosk_agent_run_cleanly(tmp_path: Path):
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[journal]\npath = "{tmp_path / "j.db"}"\n[mqtt]\nenabled = false\n', encoding="utf-8"
    )
    code = (
        "import sys; from kiosk_agent.cli import build_parser; "
        "a = build_parser(('kiosk_agent.cli_run',)).parse_args(sys.argv[1:]); sys.exit(a.func(a))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "run", "--config", str(config)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 20
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "running" in line or not line:
                break
        assert any("running" in ln for ln in lines), lines
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        rest = proc.stderr.read()
        assert "agent stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (tmp_path / "j.db").exists()


async def test_seed_price_book_is_loaded_off_the_event_loop(tmp_path: Path, monkeypatch):
    """Reading and validating a price book file is I/O and CPU of size: a thread does it."""
    from contract import pricebook as catalog

    seed = ROOT / "config" / "pricebook.example.json"
    loaded_on: list[int] = []
    real_load = catalog.load_price_book

    def recording_load(path):
        loaded_on.append(threading.get_ident())
        return real_load(path)

    monkeypatch.setattr(catalog, "load_price_book", recording_load)
    config = AgentConfig.model_validate(
        {"journal": {"path": str(tmp_path / "journal.db"), "seed_price_book": str(seed)},
         "mqtt": {"enabled": False}})
    agent = Agent(config)
    runner = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.started.wait(), 5)
    agent.stop()
    await asyncio.wait_for(runner, 5)
    assert agent.book is not None and loaded_on
    assert threading.get_ident() not in loaded_on
