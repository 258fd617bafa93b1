"""A coupon shown at an online kiosk, end to end through the broker: the agent scans the
member code and the coupon QR, locks the coupon to its cart's order by ``coupon.reserve``
(the real Ingest answers), and the sale's ``order.completed`` marks it used; a cancelled
cart releases it (its ``order.voided``). A replayed QR of the used coupon, another
member's coupon, a forged or expired code are refused by the cloud with a reason;
``coupon.release`` releases the kiosk's own order only."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import cloud_bridge.marketing.rpc_handlers  # noqa: F401 - registers coupon.reserve
from cloud_bridge.ingest import Ingest
from cloud_bridge.marketing.kiosk import issue_coupon_code, with_coupon_definitions
from cloud_bridge.marketing.models import Coupon
from cloud_bridge.members.member_code import issue_member_code
from cloud_bridge.members.models import MemberRecord, PointsEntry
from contract.codes import classify
from contract.signing import private_key_pem, public_key_pem
from contract.wire import rpc as wire_rpc
from kiosk_agent import assembly
from kiosk_agent.agent import Agent
from kiosk_agent.config import AgentConfig
from kiosk_agent.link import RpcFailed
from tests.cloud_bridge.security.test_member_sales import CHAIN, STRANGER, _config
from tests.kiosk_agent.sales import FakePayments, make_book
from tests.support.link_helpers import shrink_timings
from tests.support.waiting import until

from .test_kiosk_coupons import _member_with_coupon

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
STORE, KIOSK = "s1", "k1"


def scan(text: str) -> SimpleNamespace:
    return SimpleNamespace(kind=classify(text, "QRCODE"), text=text, symbology="QRCODE")


async def _status(db, coupon_id: str) -> tuple[str, str | None]:
    async with db.read() as s:
        c = await s.get(Coupon, coupon_id)
        return c.status, c.order_no


async def test_online_coupon_locked_used_once_and_released_on_cancel(
        broker, db, db_url, tmp_path: Path, monkeypatch):
    shrink_timings(monkeypatch)
    monkeypatch.setenv("BRIDGE_MEMBER_SIGNING_KEY", private_key_pem(CHAIN).decode())
    monkeypatch.setenv("KIOSK_MEMBER_PUBKEY", public_key_pem(CHAIN).decode())
    alice, coupon, tpl = await _member_with_coupon(db)
    _bob, bobs, _ = await _member_with_coupon(db, "o-bob")
    async with db.session() as s:
        await s.execute(MemberRecord.__table__.update().where(MemberRecord.id == alice)
                        .values(points=500))
        book = await with_coupon_definitions(s, STORE, make_book())
    code, _ = issue_coupon_code(CHAIN, coupon, tpl)
    cfg = AgentConfig.model_validate({
        "kiosk": {"store_id": STORE, "kiosk_id": KIOSK},
        "journal": {"path": str(tmp_path / "k1.db")},
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "username": f"{STORE}-{KIOSK}"},
        "outbox": {"ack_timeout_s": 1.0}})
    agent = Agent(cfg, payments=FakePayments(), book=book)
    agent.add_component("link", assembly.link_component(agent))
    agent.add_component("outbox", assembly.outbox_component(agent))
    async with Ingest(_config(broker, db_url), db) as ingest:
        await asyncio.wait_for(ingest.connected.wait(), 10)
        runner = asyncio.create_task(agent.run())
        try:
            await asyncio.wait_for(agent.started.wait(), 10)
            link = agent.runtime.link
            await asyncio.wait_for(link.connected.wait(), 10)
            co = agent.checkout

            async def cart() -> None:
                member = issue_member_code(CHAIN, alice, "regular", 500, 0)
                assert await agent.handle_scan(scan(member)) is None
                for sku in ("SKU-CHIPS", "SKU-CHIPS"):
                    await agent.handle_scan(SimpleNamespace(kind="product", text=sku))

            # 1. Locked to a cart that is then cancelled: the coupon goes back.
            await cart()
            assert await agent.handle_scan(scan(code)) is None
            first_order = co.order_no
            assert await _status(db, coupon.id) == ("locked", first_order)
            assert co.priced.coupons == [coupon.id] and co.priced.total == 2 * 600 - 300  # member price
            await co.cancel()

            async def released() -> bool:
                return await _status(db, coupon.id) == ("unused", None)
            await until(released, 15, what="the voided cart's coupon released")

            # 2. Locked again, paid with points too: used once by the ingested sale.
            await cart()
            assert await agent.handle_scan(scan(code)) is None
            await assembly.ScanComponent._action(SimpleNamespace(agent=agent),
                                                 assembly.ACTION_USE_POINTS)
            assert co.priced.points_redeemed > 0
            co.request_payment()
            paid = await co.pay("wechat", "134567890123456789")
            assert paid.status == "paid"
            sold = paid.sale.order.order_no

            async def used() -> bool:
                return await _status(db, coupon.id) == ("used", sold)
            await until(used, 15, what="the sale's coupon used")
            async with db.read() as s:
                taken = await s.scalar(PointsEntry.__table__.select().with_only_columns(
                    PointsEntry.points).where(PointsEntry.source_id == sold))
            assert taken == -paid.sale.order.points_redeemed < 0  # taken once, by the order

            # 3. The QR of the used coupon replayed on a new cart: refused by the cloud.
            co.print_started()
            co.print_done()
            await cart()
            refusal = await agent.handle_scan(scan(code))
            assert refusal is not None and refusal.code == "coupon_unavailable"
            assert "已使用" in refusal.zh
            # Another member's coupon on alice's cart: refused at the kiosk already.
            refusal = await agent.handle_scan(scan(issue_coupon_code(CHAIN, bobs, tpl)[0]))
            assert refusal is not None and refusal.code == "coupon_not_yours"

            # The cloud's own refusals, asked directly (a kiosk that skipped its checks).
            order_no = co.order_no or await co.order_number()
            asks = {
                "coupon_not_yours": (issue_coupon_code(CHAIN, bobs, tpl)[0], alice),
                "coupon_code_unknown_key": (issue_coupon_code(STRANGER, bobs, tpl)[0], _bob),
                "coupon_code_expired": (issue_coupon_code(CHAIN, bobs, tpl,
                                                          now=time.time() - 900)[0], _bob),
            }
            for want, (text, member_id) in asks.items():
                with pytest.raises(RpcFailed) as err:
                    await link.request(wire_rpc.COUPON_RESERVE, {
                        "code": text, "order_no": order_no, "member_id": member_id}, 10)
                assert err.value.code == want, (want, err.value)
            assert await _status(db, bobs.id) == ("unused", None)

            # coupon.release: the kiosk's own order only; the lock goes back at once.
            bobs_code = issue_coupon_code(CHAIN, bobs, tpl)[0]
            await link.request(wire_rpc.COUPON_RESERVE, {
                "code": bobs_code, "order_no": order_no, "member_id": _bob}, 10)
            assert await _status(db, bobs.id) == ("locked", order_no)
            for bad in ("../etc", "s1-k2-20260301-0001"):  # not an order number of k1
                with pytest.raises(RpcFailed) as err:
                    await link.request(wire_rpc.COUPON_RELEASE, {"order_no": bad}, 10)
                assert err.value.code == "bad_request", bad
            assert await _status(db, bobs.id) == ("locked", order_no)
            got = await link.request(wire_rpc.COUPON_RELEASE, {"order_no": order_no}, 10)
            assert got == {"released": 1} and await _status(db, bobs.id) == ("unused", None)
        finally:
            agent.stop()
            await asyncio.wait_for(runner, 10)
