"""呼叫店员 through the broker: a kiosk's call is a retained message the bridge shows in the
fleet view and ``GET /api/v1/admin/staff-calls`` until staff answer it at the kiosk (the
TUI's control API with a badge). A real bridge app, a real Mosquitto, the agent's Link."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import aiohttp
import aiomqtt
import pytest

from cloud_bridge import auth
from contract.signing import public_key_pem
from contract.wire.base import decode
from contract.wire.staff import StaffCall
from contract.wire.topics import KioskTopics
from kiosk_agent import assembly
from kiosk_agent.agent import Agent
from kiosk_agent.config import AgentConfig
from kiosk_agent.control import control_component, hash_pin
from kiosk_agent.staff_calls import staff_calls
from tests.cloud_bridge.security.test_catalog_credentials import _bridge
from tests.kiosk_agent.sales import FakePayments, make_book
from tests.kiosk_agent.test_cart_edits import KEY, badge
from tests.support.link_helpers import shrink_timings
from tui.client import ControlClient, ControlError

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
PIN = "8642"
TOPIC = KioskTopics("store1", "kiosk1").staff_call


async def _until(check, limit_s: float = 10.0):
    """Poll the bridge's HTTP API (another process's view: no event to wait on)."""
    async with asyncio.timeout(limit_s):
        while not (result := await check()):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return result


async def _retained(port: int) -> StaffCall:
    async with aiomqtt.Client("127.0.0.1", port) as c:
        await c.subscribe(TOPIC, qos=1)
        async for msg in c.messages:
            assert msg.retain
            return decode(StaffCall, msg.payload)
    raise AssertionError("no retained staff call")


async def test_staff_call_reaches_the_fleet_view_until_answered(db, broker, tmp_path: Path,
                                                                monkeypatch):
    shrink_timings(monkeypatch)
    monkeypatch.setenv("KIOSK_BADGE_PUBKEY", public_key_pem(KEY).decode())
    runner, b = await _bridge(db, broker, tmp_path, monkeypatch, signing_key=False)
    async with db.session() as s:
        await auth.create_admin_user(s, "clerk2", "secret-clerk2", auth.STORE_STAFF, "store2")
    sock = Path(tempfile.mkdtemp(prefix="kcall", dir="/tmp"))
    cfg = AgentConfig.model_validate({
        "journal": {"path": str(tmp_path / "j.db")},
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "username": "store1-kiosk1"},
        "control": {"socket_path": str(sock / "a.sock"), "staff_pin_hash": hash_pin(PIN),
                    "socket_group": None}})
    agent = Agent(cfg, payments=FakePayments(), book=make_book())
    agent.add_component("link", assembly.link_component(agent))
    agent.add_component("control", control_component(agent))
    staff_calls(agent)
    task = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.started.wait(), 10)
        async with aiohttp.ClientSession(base_url=b.base) as http:
            heads = {}
            for user in ("boss", "clerk2"):
                async with http.post("/api/v1/admin/session",
                                     json={"username": user, "secret": f"secret-{user}"}) as r:
                    heads[user] = {"Authorization": "Bearer " + (await r.json())["token"]}

            async def get(path, user="boss", status=200):
                async with http.get(path, headers=heads[user]) as r:
                    assert r.status == status, await r.text()
                    return await r.json()

            async def open_calls():
                return (await get("/api/v1/admin/staff-calls"))["items"]

            assert await open_calls() == []
            # The shopper shows the 呼叫店员 card.
            await assembly.ScanComponent._action(agent.runtime.scans or type(
                "S", (), {"agent": agent})(), assembly.ACTION_CALL_STAFF)
            (call,) = await _until(open_calls)
            assert (call["store"], call["kiosk"], call["active"]) == ("store1", "kiosk1", True)
            fleet = (await get("/api/v1/admin/fleet"))["items"]
            row = next(r for r in fleet if r["kiosk"] == "kiosk1")
            assert row["staff_call"]["call_id"] == call["call_id"]
            assert (await _retained(broker.port)).active  # retained: a new viewer sees it
            # Another store's staff do not see it, nor may they ask for it.
            assert (await get("/api/v1/admin/staff-calls", "clerk2"))["items"] == []
            await get("/api/v1/admin/staff-calls?store=store1", "clerk2", status=403)

            async with ControlClient(cfg.control.socket_path) as tui:
                assert (await tui.status())["staff_call"]["active"] is True
                with pytest.raises(ControlError) as err:  # no staff session: refused
                    await tui.answer_staff_call()
                assert err.value.status == 401
                await tui.login(PIN)
                with pytest.raises(ControlError) as err:
                    await tui.answer_staff_call(badge(store="store2"))
                assert err.value.code == "badge_wrong_store"
                assert (await _retained(broker.port)).active  # still open
                answered = (await tui.answer_staff_call(badge("e2")))["call"]
                assert (answered["active"], answered["answered_by"]) == (False, "e2")
                with pytest.raises(ControlError) as err:  # nothing open any more
                    await tui.answer_staff_call()
                assert err.value.status == 404

            await _until(lambda: _none_open(open_calls))
            latest = (await get("/api/v1/admin/staff-calls?all=true"))["items"]
            assert [(c["active"], c["answered_by"]) for c in latest] == [(False, "e2")]
            retained = await _retained(broker.port)
            assert (retained.active, retained.answered_by) == (False, "e2")
    finally:
        agent.stop()
        await asyncio.wait_for(task, 15)
        await runner.cleanup()
        shutil.rmtree(sock, ignore_errors=True)


async def _none_open(open_calls) -> bool:
    return await open_calls() == []
