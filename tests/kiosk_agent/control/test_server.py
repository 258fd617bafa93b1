"""The local control API, served on a real Unix socket over a real journal."""

from __future__ import annotations

import grp
import json
import logging
import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path

import pytest

from kiosk_agent.config import AgentConfig
from kiosk_agent.control import (
    AgentFacade,
    ControlApiError,
    ControlServer,
    JournalControl,
    StaffSessions,
    describe_config,
    hash_pin,
)
from kiosk_agent.control import sessions as control_sessions
from kiosk_agent.logbuffer import RecentLogHandler
from tests.kiosk_agent.sales import make_order
from tui.client import AgentUnavailable, ControlClient, ControlError

PIN = "2468"
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def pin_hash() -> str:
    """An argon2 hash of the test PIN (hashing is slow: once per module)."""
    return hash_pin(PIN)


@pytest.fixture
def sock_dir():
    """A short directory for sockets (AF_UNIX paths are limited to 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="kctl", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


class FakeDevices:
    """The agent's device side: status, health, maintenance, printer and camera calls."""

    def __init__(self) -> None:
        self.maintenance = False
        self.test_pages = 0
        self.display_tests = 0

    async def status(self) -> dict:
        return {"state": "idle", "maintenance": self.maintenance, "link": {"connected": True}}

    async def health(self) -> dict:
        return {"printer": {"state": "ok", "paper": "near_end"}, "camera": {"state": "ok", "fps": 14.8}}

    async def set_maintenance(self, on: bool, reason: str) -> None:
        self.maintenance = on

    async def display_test(self) -> dict:
        self.display_tests += 1
        return {"lines": ["显示测试", "DISPLAY TEST"]}

    async def camera_snapshot(self) -> bytes:
        return PNG_1PX


def make_config(sock: Path, **control) -> AgentConfig:
    cfg = AgentConfig()
    cfg.control.socket_path = sock
    cfg.control.socket_group = control.pop("socket_group", None)
    for key, value in control.items():
        setattr(cfg.control, key, value)
    return cfg


@pytest.fixture
async def served(journal, sock_dir, pin_hash):
    """A control server over the journal + fake devices, and a client; yields (server, client, devices)."""
    devices = FakeDevices()
    cfg = make_config(sock_dir / "control.sock", staff_pin_hash=pin_hash)
    handler = RecentLogHandler(100)
    async with ControlServer(AgentFacade(devices, JournalControl(journal)), cfg, log_handler=handler) as server:
        async with ControlClient(server.socket_path) as client:
            yield server, client, devices


async def test_socket_is_0660_and_reads_need_no_pin(served):
    server, client, _ = served
    mode = stat.S_IMODE(os.stat(server.socket_path).st_mode)
    assert mode == 0o660
    status = await client.status()
    assert status == {"state": "idle", "maintenance": False, "link": {"connected": True}}
    health = await client.health()
    assert health["printer"]["paper"] == "near_end"
    outbox = await client.outbox()
    assert outbox["stats"]["depth"] == 0 and outbox["dead_letters"] == []


async def test_socket_group_applied_when_it_exists_and_skipped_with_warning_when_not(
    sock_dir, pin_hash, caplog
):
    group = grp.getgrgid(os.getgid()).gr_name if os.getuid() != 0 else "lp"
    cfg = make_config(sock_dir / "a.sock", socket_group=group, staff_pin_hash=pin_hash)
    async with ControlServer(FakeDevices(), cfg, log_handler=RecentLogHandler()) as server:
        assert os.stat(server.socket_path).st_gid == grp.getgrnam(group).gr_gid
    assert not (sock_dir / "a.sock").exists(), "socket removed on stop"
    cfg = make_config(sock_dir / "b.sock", socket_group="no-such-group-kx", staff_pin_hash=pin_hash)
    with caplog.at_level(logging.WARNING, logger="kiosk_agent.control"):
        async with ControlServer(FakeDevices(), cfg, log_handler=RecentLogHandler()) as server:
            async with ControlClient(server.socket_path) as client:
                assert (await client.status())["state"] == "idle"
    assert "no-such-group-kx" in caplog.text


async def test_state_changes_need_a_pin_session(served):
    _, client, devices = served
    with pytest.raises(ControlError) as err:
        await client.set_maintenance(True)
    assert err.value.locked and devices.maintenance is False
    with pytest.raises(ControlError) as err:
        await client.login("0000")
    assert err.value.status == 401 and err.value.code == "wrong_pin"
    await client.login(PIN)
    assert client.unlocked
    await client.set_maintenance(True, "cleaning")
    assert devices.maintenance is True
    assert (await client.status())["maintenance"] is True
    await client.display_test()
    assert devices.display_tests == 1
    await client.logout()
    with pytest.raises(ControlError) as err:
        await client.set_maintenance(False)
    assert err.value.locked and devices.maintenance is True


async def test_wrong_pins_are_rate_limited(served, monkeypatch):
    monkeypatch.setattr(control_sessions, "PIN_LOCKOUT_BASE_S", 60.0)
    _, client, _ = served
    for _ in range(control_sessions.PIN_FREE_ATTEMPTS):
        with pytest.raises(ControlError) as err:
            await client.login("1111")
        assert err.value.code == "wrong_pin"
    # Locked out now: even the right PIN is refused until the lockout ends.
    with pytest.raises(ControlError) as err:
        await client.login(PIN)
    assert err.value.status == 429 and "retry" in str(err.value)
    assert (await client.session())["retry_after"] > 50


async def test_session_locks_after_idle(sock_dir, pin_hash):
    cfg = make_config(sock_dir / "c.sock", staff_pin_hash=pin_hash, idle_lock_s=0.3)
    devices = FakeDevices()
    async with ControlServer(devices, cfg, log_handler=RecentLogHandler()) as server:
        async with ControlClient(server.socket_path) as client:
            await client.login(PIN)
            session = await client.session()
            assert session["authenticated"] and 0 < session["expires_in"] <= 0.3
            server.sessions._clock = lambda: 10**9  # far in the future: idle for ages
            with pytest.raises(ControlError) as err:
                await client.set_maintenance(True)
            assert err.value.locked and not client.unlocked
            assert devices.maintenance is False


def test_session_idle_timer_restarts_on_use():
    import asyncio

    now = [0.0]
    sessions = StaffSessions(hash_pin("1"), idle_lock_s=10, clock=lambda: now[0])
    token = asyncio.run(sessions.login("1"))
    now[0] = 9
    assert sessions.touch(token)
    now[0] = 18  # 9 s after the last use: still open
    assert sessions.touch(token)
    now[0] = 28.5
    assert not sessions.touch(token)


async def test_no_pin_configured_refuses_sessions(sock_dir, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("KIOSK_STAFF_PIN_HASH", raising=False)
    cfg = make_config(sock_dir / "d.sock")
    async with ControlServer(FakeDevices(), cfg, log_handler=RecentLogHandler()) as server:
        async with ControlClient(server.socket_path) as client:
            with pytest.raises(ControlError) as err:
                await client.login(PIN)
            assert err.value.code == "pin_not_configured"
            assert (await client.session())["pin_configured"] is False


async def test_pin_hash_from_credentials_directory(sock_dir, pin_hash, monkeypatch, tmp_path):
    (tmp_path / "staff_pin_hash").write_text(pin_hash + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    cfg = make_config(sock_dir / "e.sock")
    async with ControlServer(FakeDevices(), cfg, log_handler=RecentLogHandler()) as server:
        async with ControlClient(server.socket_path) as client:
            await client.login(PIN)
            assert client.unlocked
            values = {row["key"]: row for row in await client.config()}
            assert values["control.staff_pin_hash"] == {
                "key": "control.staff_pin_hash", "value": "***", "source": "credential"
            }


async def test_dead_letter_retry_and_discard(served, journal):
    _, client, _ = served
    ids = await journal.append_events([("order.completed", {"n": 1}), ("print.failed", {"n": 2})])
    await journal.outbox_reject(ids[0], "schema: missing field total")
    await journal.outbox_reject(ids[1], "unknown store")
    outbox = await client.outbox()
    assert outbox["stats"]["dead_letters"] == 2
    letters = {d["event_id"]: d for d in outbox["dead_letters"]}
    assert letters[ids[0]]["reason"] == "schema: missing field total"
    assert json.loads(letters[ids[0]]["payload"])["event_id"] == ids[0]

    await client.login(PIN)
    await client.retry_dead_letter(ids[0])
    pending = await journal.outbox_pending(10)
    assert [row.event_id for row in pending] == [ids[0]]
    with pytest.raises(ControlError) as err:
        await client.discard_dead_letter(ids[1], "  ")
    assert err.value.code == "reason_required"
    await client.discard_dead_letter(ids[1], "store closed, re-entered by hand")
    outbox = await client.outbox()
    assert outbox["dead_letters"] == [] and outbox["stats"]["depth"] == 1
    with pytest.raises(ControlError) as err:
        await client.retry_dead_letter(ids[1])
    assert err.value.status == 404


async def test_reprint_and_test_page_queue_print_jobs(served, journal):
    _, client, _ = served
    await client.login(PIN)
    await client.print_test_page()
    with pytest.raises(ControlError) as err:
        await client.reprint("kiosk1-20990101-0001")
    assert err.value.status == 404
    jobs = await journal.print_jobs_pending()
    assert [job.kind for job in jobs] == ["test"]
    sale = await journal.commit_sale(make_order())
    await client.reprint(sale.order_no)
    jobs = await journal.print_jobs_pending()
    assert [(job.order_no, job.kind) for job in jobs][-2:] == [
        (sale.order_no, "receipt"), (sale.order_no, "reprint")]
    found = await client.orders(sale.order_no)
    assert [o["order_no"] for o in found] == [sale.order_no] and found[0]["total"] == 2100
    detail = await client.order(sale.order_no)
    assert detail["lines"][0]["name_zh"] == "商品1"
    assert (await client.sales_today())["orders"] == 1


async def test_logs_follow_from_ring_buffer(served):
    _, client, _ = served
    logger = logging.getLogger("kiosk_agent.test_control")
    logger.setLevel(logging.INFO)
    logger.addHandler(served[0].log_handler)
    try:
        logger.info("打印机缺纸 printer paper out %d", 1)
        first = await client.logs()
        assert first["lines"][-1]["message"] == "打印机缺纸 printer paper out 1"
        logger.warning("second line")
        more = await client.logs(after=first["last_seq"])
        assert [line["message"] for line in more["lines"]] == ["second line"]
        assert (await client.logs(after=more["last_seq"]))["lines"] == []
        warn_only = await client.logs(level="WARNING")
        assert all(line["level"] != "INFO" for line in warn_only["lines"])
    finally:
        logger.removeHandler(served[0].log_handler)


async def test_camera_snapshot_needs_a_session_then_png_and_base64(served):
    _, client, _ = served
    with pytest.raises(ControlError) as err:
        await client.snapshot()  # a frame may show a shopper's payment code
    assert err.value.locked
    await client.login(PIN)
    content_type, image = await client.snapshot()
    assert content_type == "image/png" and image == PNG_1PX


async def test_missing_agent_method_is_501_not_a_crash(served):
    _, client, _ = served
    with pytest.raises(ControlError) as err:
        await client.decode_check()  # needs a session first
    assert err.value.locked
    await client.login(PIN)
    with pytest.raises(ControlError) as err:
        await client.decode_check()
    assert err.value.status == 501 and "decode_check" in str(err.value)


async def test_orders_search_and_sales_today_on_empty_journal(served):
    _, client, _ = served
    assert await client.orders("") == []
    sales = await client.sales_today()
    assert sales["orders"] == 0 and sales["total"] == 0


async def test_client_reports_agent_not_running(sock_dir):
    async with ControlClient(sock_dir / "missing.sock") as client:
        with pytest.raises(AgentUnavailable) as err:
            await client.status()
        assert "not running" in str(err.value)
    # A socket file left behind by a dead agent: connection refused.
    stale = sock_dir / "stale.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(stale))
    s.close()
    async with ControlClient(stale) as client:
        with pytest.raises(AgentUnavailable) as err:
            await client.status()
        assert "refused" in str(err.value)


def test_describe_config_names_each_source(tmp_path, pin_hash):
    path = tmp_path / "kiosk.toml"
    path.write_text('[mqtt]\nhost = "mq.example"\n[receipt]\nfooter = "x"\n', encoding="utf-8")
    cfg = AgentConfig.model_validate({"mqtt": {"host": "mq.example"}, "receipt": {"footer": "欢迎"}})
    cfg.control.staff_pin_hash = pin_hash
    rows = {r["key"]: r for r in describe_config(
        cfg, path, shadow={"receipt": {"footer": "欢迎"}}, env={"logging.level": "DEBUG"}
    )}
    assert rows["mqtt.host"] == {"key": "mqtt.host", "value": "mq.example", "source": "file"}
    assert rows["receipt.footer"]["source"] == "shadow" and rows["receipt.footer"]["value"] == "欢迎"
    assert rows["logging.level"]["source"] == "env"
    assert rows["mqtt.port"] == {"key": "mqtt.port", "value": 1883, "source": "default"}
    assert rows["control.staff_pin_hash"]["value"] == "***"


def test_control_api_error_carries_status():
    err = ControlApiError(409, "refused", "sale in progress")
    assert (err.status, err.code, str(err)) == (409, "refused", "sale in progress")


class FakeSpooler:
    """A component with health(), like the print spooler."""

    def health(self) -> dict:
        return {"state": "error", "reason": "paper out", "paper": "out"}

    async def run(self, stop) -> None:
        await stop.wait()


async def test_control_component_serves_a_running_agent(sock_dir, pin_hash, tmp_path):
    import asyncio

    from kiosk_agent.agent import Agent
    from kiosk_agent.control import control_component

    cfg = make_config(sock_dir / "agent.sock", staff_pin_hash=pin_hash)
    cfg.journal.path = tmp_path / "journal.db"
    cfg.mqtt.enabled = False
    agent = Agent(cfg)
    agent.add_component("printer", FakeSpooler())
    agent.add_component("control", control_component(agent))
    task = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.started.wait(), 10)
        async with ControlClient(cfg.control.socket_path) as client:
            status = await client.status()
            assert (status["kiosk_id"], status["state"], status["maintenance"]) == (
                "kiosk1", "idle", False)
            health = await client.health()
            assert health["printer"]["reason"] == "paper out"
            assert health["agent"]["state"] == "ok"
            await client.login(PIN)
            await client.set_maintenance(True, "cleaning the camera window")
            assert (await client.status())["state"] == "maintenance"
            await client.set_maintenance(False)
            assert (await client.status())["state"] == "idle"
            await client.print_test_page()
            assert [job.kind for job in await agent.journal.print_jobs_pending()] == ["test"]
            with pytest.raises(ControlError) as err:
                await client.snapshot()
            assert err.value.status == 501
            keys = {row["key"]: row["source"] for row in await client.config()}
            assert keys["kiosk.kiosk_id"] == "default"
    finally:
        agent.stop()
        await asyncio.wait_for(task, 15)
    assert not cfg.control.socket_path.exists()


async def test_a_second_server_does_not_steal_a_live_socket(sock_dir, pin_hash):
    cfg = make_config(sock_dir / "f.sock", staff_pin_hash=pin_hash)
    async with ControlServer(FakeDevices(), cfg, log_handler=RecentLogHandler()) as server:
        with pytest.raises(ControlApiError) as err:
            await ControlServer(FakeDevices(), cfg, log_handler=RecentLogHandler()).start()
        assert err.value.code == "in_use"
        async with ControlClient(server.socket_path) as client:
            assert (await client.status())["state"] == "idle"
    # A stale socket file (no listener) is replaced.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(cfg.control.socket_path))
    stale.close()
    async with ControlServer(FakeDevices(), cfg, log_handler=RecentLogHandler()) as server:
        async with ControlClient(server.socket_path) as client:
            assert (await client.status())["state"] == "idle"
