"""Chain-wide numbers on the bridge: orders and payments of two stores whose kiosks share an
id land apart; another store's number is a hard conflict, never a replay."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cloud_bridge.ingest import store_events
from cloud_bridge.models import Alert, Order
from contract.wire.payments import ChargeParams, SettleParams
from tests.cloud_bridge.payments_fixtures import wechat_code

from ..bridge_helpers import order_event

pytestmark = pytest.mark.timeout(60)
TZ = "Asia/Shanghai"


async def _orders(db) -> dict[str, tuple[str, str]]:
    async with db.session() as s:
        return {o.order_no: (o.store, o.kiosk) for o in await s.scalars(select(Order))}


async def test_legacy_numbers_of_two_stores_land_on_their_own_store(db):
    # Journals written before the switch number sales {kiosk}-{day}-{seq}: both stores'
    # kiosk1 sent "kiosk1-20261205-0001". Each lands once, on its store.
    a = order_event("S1", "kiosk1", 1, order_no="kiosk1-20261205-0001")
    b = order_event("S2", "kiosk1", 1, order_no="kiosk1-20261205-0001")
    new = order_event("S2", "kiosk1", 2, order_no="S2-kiosk1-20261205-0002")
    out = await store_events(db, [(e.store, e.kiosk, e.encode()) for e in (a, b, new)],
                             worker="w", tz=TZ)
    assert out.stored == 3 and not out.rejected
    assert await _orders(db) == {
        "S1-kiosk1-20261205-0001": ("S1", "kiosk1"),
        "S2-kiosk1-20261205-0001": ("S2", "kiosk1"),
        "S2-kiosk1-20261205-0002": ("S2", "kiosk1"),
    }
    async with db.session() as s:
        assert (await s.scalars(select(Alert).where(Alert.kind == "duplicate_order_no"))).all() == []


async def test_an_order_under_another_stores_number_is_rejected(db):
    forged = order_event("S2", "kiosk1", 1, order_no="S1-kiosk1-20261205-0009")
    out = await store_events(db, [("S2", "kiosk1", forged.encode())], worker="w", tz=TZ)
    assert out.stored == 0
    assert [r.event_id for r in out.rejected[("S2", "kiosk1")]] == [forged.event_id]
    assert "belongs to S1/kiosk1" in out.rejected[("S2", "kiosk1")][0].reason
    assert await _orders(db) == {}


async def test_payment_number_of_another_store_is_a_conflict_not_a_replay(
        pay_service, sandbox):
    no = "kiosk1-20261205-0001-1"  # a legacy number both stores' kiosk1 could send
    params = ChargeParams(order_no="kiosk1-20261205-0001", out_trade_no=no, method="wechat",
                          amount=4500, auth_code=wechat_code())
    paid = await pay_service.charge("S1", "kiosk1", params, 10)
    assert paid["status"] == "paid"
    # Store B's kiosk1, same number and amount: refused without calling the provider.
    again = await pay_service.charge("S2", "kiosk1", params.model_copy(
        update={"auth_code": wechat_code()}), 10)
    assert (again["status"], again["reason"]) == ("failed", "number_conflict")
    assert "provider_ref" not in again
    assert len(sandbox.wechat.ledger.trades) == 1
    settle = SettleParams(out_trade_no=no, order_no=params.order_no, method="wechat",
                          amount=4500)
    assert (await pay_service.settle("S2", "kiosk1", settle, 10))["reason"] == "number_conflict"
    # payment.status answers only the kiosk's own attempts.
    assert await pay_service.status(no, "S2", "kiosk1") is None
    assert await pay_service.status(no, "S1", "kiosk2") is None
    assert (await pay_service.status(no, "S1", "kiosk1"))["status"] == "paid"
    # The row keeps its store, and its order number is the chain-wide one.
    row = await pay_service.store.get(no)
    assert (row["store"], row["kiosk"], row["order_no"]) == (
        "S1", "kiosk1", "S1-kiosk1-20261205-0001")
