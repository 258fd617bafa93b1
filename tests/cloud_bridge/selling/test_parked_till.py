"""A parked cart (挂单) paid at a staffed till, through the broker: kiosk1 parks a cart
(its ``order.parked`` event reaches the bridge), staff find it by its number through the
admin API and settle it once, or the TUI of kiosk2 of the same store takes it over (RPC
``parked.take``) and sells it there. Another store can neither see nor take it; nothing
settles twice. A real bridge app, a real Mosquitto, the agents' Link, outbox and control
API."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest

import cloud_bridge.selling.rpc_handlers  # noqa: F401 - registers parked.take
from cloud_bridge import auth
from contract.wire.rpc import PARKED_TAKE
from kiosk_agent import assembly
from kiosk_agent.agent import Agent
from kiosk_agent.checkout import State
from kiosk_agent.config import AgentConfig
from kiosk_agent.control import control_component, hash_pin
from kiosk_agent.link import Link, RpcFailed
from tests.cloud_bridge.security.test_catalog_credentials import _bridge
from tests.kiosk_agent.sales import FakePayments, make_book
from tests.support.link_helpers import mqtt_section, shrink_timings
from tui.client import ControlClient, ControlError

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
PIN = "9753"


async def start(tmp_path: Path, port: int, kiosk: str, sock: Path, pin_hash: str):
    cfg = AgentConfig.model_validate({
        "kiosk": {"store_id": "store1", "kiosk_id": kiosk},
        "journal": {"path": str(tmp_path / f"{kiosk}.db")},
        "mqtt": {"host": "127.0.0.1", "port": port, "username": f"store1-{kiosk}"},
        "outbox": {"ack_timeout_s": 1.0},
        "control": {"socket_path": str(sock / f"{kiosk}.sock"), "staff_pin_hash": pin_hash,
                    "socket_group": None}})
    agent = Agent(cfg, payments=FakePayments(), book=make_book())
    agent.add_component("link", assembly.link_component(agent))
    agent.add_component("outbox", assembly.outbox_component(agent))
    agent.add_component("control", control_component(agent))
    task = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.started.wait(), 10)
    return agent, task


async def park(agent: Agent) -> str:
    for code in ("SKU-WATER", "SKU-CHIPS", "SKU-CHIPS"):
        await agent.handle_scan(SimpleNamespace(kind="product", text=code))
    return (await agent.checkout.park()).park_no


async def test_parked_cart_settled_once_at_a_till_or_another_kiosk(db, broker, tmp_path,
                                                                   monkeypatch):
    shrink_timings(monkeypatch)
    runner, b = await _bridge(db, broker, tmp_path, monkeypatch, signing_key=False)
    async with db.session() as s:
        await auth.create_admin_user(s, "clerk1", "secret-clerk1", auth.STORE_STAFF, "store1")
        await auth.create_admin_user(s, "clerk2", "secret-clerk2", auth.STORE_STAFF, "store2")
    sock = Path(tempfile.mkdtemp(prefix="kpark", dir="/tmp"))
    pin_hash = hash_pin(PIN)
    k1, t1 = await start(tmp_path, broker.port, "kiosk1", sock, pin_hash)
    k2, t2 = await start(tmp_path, broker.port, "kiosk2", sock, pin_hash)
    try:
        async with aiohttp.ClientSession(base_url=b.base) as http:
            heads = {}
            for user in ("clerk1", "clerk2"):
                async with http.post("/api/v1/admin/session",
                                     json={"username": user, "secret": f"secret-{user}"}) as r:
                    heads[user] = {"Authorization": "Bearer " + (await r.json())["token"]}

            async def call(method, path, user="clerk1", body=None):
                async with http.request(method, path, headers=heads[user], json=body) as r:
                    return r.status, await r.json()

            async def found(park_no: str) -> dict:
                path = f"/api/v1/admin/stores/store1/parked/{park_no}"
                async with asyncio.timeout(15):
                    while (got := await call("GET", path))[0] == 404:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)  # the event is on its way through MQTT
                assert got[0] == 200, got
                return got[1]

            # 1. Parked at kiosk1, paid at a staffed till (admin API), once.
            first = await park(k1)
            assert first.startswith("P") and "-kiosk1-" in first
            cart = await found(first)
            assert (cart["kiosk"], cart["status"], cart["total"]) == ("kiosk1", "parked",
                                                                      200 + 2 * 650)
            assert [ln["qty"] for ln in cart["cart"]["lines"]] == [1, 2]
            settle = f"/api/v1/admin/stores/store1/parked/{first}/settle"
            assert (await call("GET", f"/api/v1/admin/stores/store1/parked/{first}",
                               "clerk2"))[0] == 403  # another store's staff
            assert (await call("POST", settle, body={"method": "cash", "amount": 1}))[0] == 400
            status, done = await call("POST", settle, body={"method": "cash", "amount": 1500,
                                                            "reference": "TILL3-0081"})
            assert status == 200 and done["status"] == "settled"
            assert (done["settlement"]["how"], done["settlement"]["by"]) == ("till", "admin:clerk1")
            assert (await call("POST", settle, body={"method": "cash", "amount": 1500}))[0] \
                == 409  # never twice

            # 2. Parked at kiosk1 again, taken over by kiosk2's TUI and sold there.
            await k1.checkout.cancel()
            second = await park(k1)
            await found(second)
            async with ControlClient(k2.config.control.socket_path) as tui:
                with pytest.raises(ControlError) as err:
                    await tui.take_parked(second)  # no staff session
                assert err.value.status == 401
                await tui.login(PIN)
                with pytest.raises(ControlError) as err:  # the till already settled it
                    await tui.take_parked(first)
                assert err.value.status == 409 and "already_settled" in str(err.value)
                taken = await tui.take_parked(second)
                assert taken["taken"]["from_kiosk"] == "kiosk1"
                assert [(ln["product_id"], ln["qty"]) for ln in taken["cart"]["lines"]] == [
                    ("P1", 1), ("P2", 2)]
                assert k2.checkout.state == State.SCANNING and k2.checkout.priced.total == 1500
                await k2.checkout.cancel()
                with pytest.raises(ControlError) as err:  # once only
                    await tui.take_parked(second)
                assert err.value.status == 409
            status, again = await call("GET", f"/api/v1/admin/stores/store1/parked/{second}")
            assert (again["status"], again["settlement"]["how"], again["settlement"]["by"]) == (
                "settled", "kiosk", "kiosk2")
            assert (await call("POST", f"/api/v1/admin/stores/store1/parked/{second}/settle",
                               body={"method": "card", "amount": 1500}))[0] == 409

            # 3. A kiosk of another store cannot take store1's cart.
            await k1.checkout.cancel()
            third = await park(k1)
            await found(third)
            other = Link(mqtt_section(broker.port, username="store2-kiosk2"), "store2",
                         "kiosk2")
            async with other:
                with pytest.raises(RpcFailed) as err:
                    await other.request(PARKED_TAKE, {"park_no": third}, 5)
                assert err.value.code == "not_found"
            assert (await found(third))["status"] == "parked"
    finally:
        for agent, task in ((k1, t1), (k2, t2)):
            agent.stop()
            await asyncio.wait_for(task, 15)
        await runner.cleanup()
        shutil.rmtree(sock, ignore_errors=True)
