"""The kiosk's update steps in one process: download (with resume), install, switch when
idle, health check, commit or roll back, and what is reported to the bridge."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer

from contract.signing import generate_signing_key
from kiosk_agent.updates import guard
from kiosk_agent.updates.updater import (
    Paths,
    Updater,
    UpdateRefused,
    in_window,
    parse_window,
)

from .support import BundleServer, config_bundle


class Kiosk:
    """An updater with its reports and restarts recorded."""

    def __init__(self, root: Path, keys, **kw) -> None:
        self.reports: list[tuple[str, bool, dict]] = []
        self.restarts = 0
        self.root = root
        link = root / "etc" / "kiosk.toml"
        self.link = link

        async def report(cmd_id, ok, result):
            self.reports.append((cmd_id, ok, result))

        async def restart():
            self.restarts += 1

        self.updater = Updater(Paths(root, link), keys, report=report, restart=restart, **kw)

    def states(self) -> list[str]:
        return [r[2]["state"] for r in self.reports]


@pytest.fixture
def key():
    return generate_signing_key()


@pytest.fixture
def root(tmp_path):
    """A kiosk whose config link points at release 1."""
    root = tmp_path / "kiosk"
    (root / "config-releases" / "1").mkdir(parents=True)
    (root / "config-releases" / "1" / "kiosk.toml").write_text("[kiosk]\nstore_id = 's1'\n")
    (root / "etc").mkdir()
    os.symlink("../config-releases/1/kiosk.toml", root / "etc" / "kiosk.toml")
    return root


async def serve(folder: Path, **kw):
    server = BundleServer(folder, **kw)
    ts = TestServer(server.app())
    await ts.start_server()
    return server, ts


def args(info: dict, ts, name: str, job_id: int = 7) -> dict:
    return {**info, "job_id": job_id, "url": str(ts.make_url(f"/b/{name}")),
            "report_id": f"cmd-{job_id}"}


async def wait_for(updater: Updater, phase: str) -> None:
    async with asyncio.timeout(20):
        while (updater.state() or {}).get("phase") != phase:  # noqa: ASYNC110 - a file
            await asyncio.sleep(0.02)


async def test_config_update_commits_after_a_healthy_start(tmp_path, root, key):
    info = config_bundle(tmp_path / "c2.tar", key, "2", name="new")
    server, ts = await serve(tmp_path, cut_after=300)  # the first download is cut
    try:
        k = Kiosk(root, [key.public_key()])
        assert (await k.updater.accept(args(info, ts, "c2.tar")))["state"] == "queued"
        await k.updater.task
        assert k.restarts == 1 and k.updater.state()["phase"] == "trial"
        assert server.ranges == [None, "bytes=300-"]  # resumed where the cut left it
        assert 'store_name = "new"' in k.link.read_text()  # the link names the new config
        # The next start: the new release passes its health check and is committed.
        healthy = Kiosk(root, [key.public_key()], health=lambda base: _ok())
        await healthy.updater.resume()
        assert healthy.updater.state()["phase"] == "committed"
        assert k.states() + healthy.states() == [
            "downloading", "installing", "health_checking", "succeeded"]
        assert healthy.reports[-1][0] == "cmd-7.4" and healthy.reports[-1][1] is True
    finally:
        await ts.close()


async def _ok():
    return None


async def test_failed_health_check_switches_back_and_says_why(tmp_path, root, key):
    info = config_bundle(tmp_path / "c2.tar", key, "2")
    _, ts = await serve(tmp_path)
    try:
        k = Kiosk(root, [key.public_key()])
        await k.updater.accept(args(info, ts, "c2.tar"))
        await k.updater.task

        async def bad(baseline):
            return "broker not connected within 30 s"

        after = Kiosk(root, [key.public_key()], health=bad)
        await after.updater.resume()
        assert os.readlink(k.link) == "../config-releases/1/kiosk.toml"
        assert after.updater.state()["phase"] == "rolled_back" and after.restarts == 1
        cmd_id, ok, result = after.reports[-1]
        assert (cmd_id, ok, result["state"]) == ("cmd-7.5", False, "rolled_back")
        assert result["reason"] == "health check: broker not connected within 30 s"
    finally:
        await ts.close()


async def test_invalid_config_is_refused_before_switching(tmp_path, root, key):
    info = config_bundle(tmp_path / "bad.tar", key, "3", name="BROKEN")
    _, ts = await serve(tmp_path)
    try:
        k = Kiosk(root, [key.public_key()])
        await k.updater.accept(args(info, ts, "bad.tar"))
        await k.updater.task
        assert k.states()[-1] == "failed" and "config invalid" in k.reports[-1][2]["reason"]
        assert os.readlink(k.link) == "../config-releases/1/kiosk.toml" and k.restarts == 0
        assert not (root / "config-releases" / "3").exists()
    finally:
        await ts.close()


async def test_bundle_not_signed_by_head_office_is_refused(tmp_path, root, key):
    info = config_bundle(tmp_path / "f.tar", generate_signing_key(), "4")
    _, ts = await serve(tmp_path)
    try:
        k = Kiosk(root, [key.public_key()])
        await k.updater.accept(args(info, ts, "f.tar"))
        await k.updater.task
        assert k.states()[-1] == "failed" and "signature" in k.reports[-1][2]["reason"]
        assert k.restarts == 0
    finally:
        await ts.close()


async def test_a_tampered_download_is_refused(tmp_path, root, key):
    info = config_bundle(tmp_path / "c.tar", key, "5")
    _, ts = await serve(tmp_path)
    try:
        k = Kiosk(root, [key.public_key()])
        await k.updater.accept({**args(info, ts, "c.tar"), "sha256": "0" * 64})
        await k.updater.task
        assert "sha256" in k.reports[-1][2]["reason"] and k.restarts == 0
    finally:
        await ts.close()


async def test_never_during_a_sale(tmp_path, root, key):
    info = config_bundle(tmp_path / "c.tar", key, "2")
    _, ts = await serve(tmp_path)
    selling = True
    try:
        k = Kiosk(root, [key.public_key()], is_idle=lambda: not selling)
        await k.updater.accept(args(info, ts, "c.tar"))
        await wait_for(k.updater, "installed")
        await asyncio.sleep(1.5)
        assert k.updater.state()["phase"] == "installed" and k.restarts == 0
        with pytest.raises(UpdateRefused):  # one update at a time
            await k.updater.accept(args(info, ts, "c.tar", job_id=8))
        selling = False
        await asyncio.wait_for(k.updater.task, 10)
        assert k.restarts == 1
    finally:
        await ts.close()


def test_selling_window():
    w = parse_window("08:00-22:00")
    assert in_window(w, datetime(2026, 1, 1, 12, 0))
    assert not in_window(w, datetime(2026, 1, 1, 23, 0))
    night = parse_window("22:00-06:00")
    assert in_window(night, datetime(2026, 1, 1, 23, 0)) and not in_window(night, datetime(
        2026, 1, 1, 12, 0))
    assert parse_window("") is None and w == (time(8), time(22))


async def test_window_forbids_switching(tmp_path, root, key):
    info = config_bundle(tmp_path / "c.tar", key, "2")
    _, ts = await serve(tmp_path)
    try:
        # Forbidden from an hour ago to an hour from now (in the updater's zone): a
        # whole-day "00:00-23:59:59" left the last second of the day open.
        now = datetime.now(ZoneInfo("Asia/Shanghai"))
        window = (f"{(now - timedelta(hours=1)).time():%H:%M:%S}-"
                  f"{(now + timedelta(hours=1)).time():%H:%M:%S}")
        k = Kiosk(root, [key.public_key()], forbid_window=parse_window(window),
                  tz="Asia/Shanghai")
        await k.updater.accept(args(info, ts, "c.tar"))
        await wait_for(k.updater, "installed")
        await asyncio.sleep(1.2)
        assert k.restarts == 0 and k.updater.state()["phase"] == "installed"
        k.updater.task.cancel()
    finally:
        await ts.close()


def test_guard_rolls_back_a_release_that_never_gets_healthy(tmp_path, root, key):
    from kiosk_agent.updates.state import switch_link, write_json

    (root / "config-releases" / "2").mkdir()
    (root / "config-releases" / "2" / "kiosk.toml").write_text("[kiosk]\n")
    link = root / "etc" / "kiosk.toml"
    switch_link(link, "../config-releases/2/kiosk.toml")
    write_json(root / "updates" / "state.json", {
        "job_id": 1, "cmd_id": "c", "phase": "trial", "trials": 0, "link": str(link),
        "previous": "../config-releases/1/kiosk.toml", "new": "../config-releases/2/kiosk.toml"})
    for n in range(1, 4):  # three crashing starts of the new release
        assert guard.settle(root) == f"trial start {n}"
    assert guard.settle(root) == "rolled back"
    assert os.readlink(link) == "../config-releases/1/kiosk.toml"
    assert guard.settle(root) == "nothing to settle (rolled_back)"
    # The link changed outside the updater: the guard's line says what will start.
    switch_link(link, "../config-releases/2/kiosk.toml")
    assert guard.settle(root) == (
        f"nothing to settle (rolled_back), but {link} names ../config-releases/2/kiosk.toml, "
        "not ../config-releases/1/kiosk.toml")


async def test_a_late_final_report_does_not_hide_the_next_release_on_trial(
        tmp_path, root, key, monkeypatch):
    """Issue 20's crash loop, step by step: job 6 was rolled back and the restarted old
    release resends its final report; the link is down at first, so the report waits and
    retries. Meanwhile the link brings job 7, which is installed and switched to (on trial).
    The retry of job 6's report goes out only then. Job 7's ``trial`` must stay in
    ``state.json``: its release crashes at every start, and only the boot guard can switch
    back from it."""
    from kiosk_agent.updates import updater as updater_module
    from kiosk_agent.updates.state import write_json

    monkeypatch.setattr(updater_module, "REPORT_RETRY_S", 0.01)
    link = root / "etc" / "kiosk.toml"
    write_json(root / "updates" / "state.json", {
        "job_id": 6, "cmd_id": "cmd-6", "kind": "config", "version": "9", "trials": 1,
        "phase": "rolled_back", "link": str(link), "previous": "../config-releases/1/kiosk.toml",
        "new": "../config-releases/9/kiosk.toml", "reason": "health check: x",
        "final_reported": False})
    info = config_bundle(tmp_path / "c2.tar", key, "2", name="new")
    _, ts = await serve(tmp_path)
    retrying, link_up = asyncio.Event(), asyncio.Event()
    sent: list[tuple[int, str]] = []

    async def report(cmd_id, ok, result):
        if result["job_id"] == 6:
            if not retrying.is_set():
                retrying.set()
                raise ConnectionError("not connected")
            await link_up.wait()
        sent.append((result["job_id"], result["state"]))

    restarts: list[str] = []

    async def restart():
        restarts.append((updater.state() or {}).get("phase"))

    updater = Updater(Paths(root, link), [key.public_key()], report=report, restart=restart)
    try:
        old = asyncio.create_task(updater.resume())
        await retrying.wait()
        await updater.accept(args(info, ts, "c2.tar"))
        await asyncio.wait_for(updater.task, 20)
        assert os.readlink(link) == "../config-releases/2/kiosk.toml" and restarts == ["trial"]
        link_up.set()  # job 6's retry goes out now, before the agent has stopped
        await asyncio.wait_for(old, 5)
        assert (6, "rolled_back") in sent
        st = updater.state()
        assert (st["job_id"], st["phase"]) == (7, "trial")
        # Release 2 crashes at every start: three trials, then the guard switches back.
        assert [guard.settle(root) for _ in range(4)] == [
            "trial start 1", "trial start 2", "trial start 3", "rolled back"]
        assert os.readlink(link) == "../config-releases/1/kiosk.toml"
    finally:
        await ts.close()


async def test_a_job_already_finished_here_is_not_run_again(tmp_path, root, key):
    info = config_bundle(tmp_path / "c2.tar", key, "2")
    _, ts = await serve(tmp_path)
    try:
        k = Kiosk(root, [key.public_key()])
        await k.updater.accept(args(info, ts, "c2.tar"))
        await k.updater.task
        await Kiosk(root, [key.public_key()], health=lambda base: _ok()).updater.resume()
        again = Kiosk(root, [key.public_key()])
        assert (await again.updater.accept(args(info, ts, "c2.tar"))) == {
            "job_id": 7, "state": "committed"}
        assert again.updater.task is None and again.reports == []
    finally:
        await ts.close()


async def test_a_final_report_goes_out_when_the_link_comes_up(root, key, monkeypatch):
    """Not at the next retry: the restarted release tries before its link is up."""
    from kiosk_agent.updates import updater as updater_module
    from kiosk_agent.updates.state import write_json

    monkeypatch.setattr(updater_module, "REPORT_RETRY_S", 60.0)
    write_json(root / "updates" / "state.json", {
        "job_id": 6, "cmd_id": "cmd-6", "kind": "config", "version": "9", "trials": 4,
        "phase": "rolled_back", "reason": "new release did not pass its health check in 3 starts",
        "final_reported": False})
    connected, sent = asyncio.Event(), []

    async def report(cmd_id, ok, result):
        if not connected.is_set():
            raise ConnectionError("not connected")
        sent.append((cmd_id, ok, result["state"]))

    async def restart():
        raise AssertionError("no restart")

    updater = Updater(Paths(root, root / "etc" / "kiosk.toml"), [key.public_key()],
                      report=report, restart=restart, connected=connected)
    resumed = asyncio.create_task(updater.resume())
    await asyncio.sleep(0.05)
    connected.set()
    await asyncio.wait_for(resumed, 10)
    assert sent == [("cmd-6.5", False, "rolled_back")] and updater.state()["final_reported"]
