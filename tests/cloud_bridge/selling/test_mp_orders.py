"""New mini-program orders for the store's kiosks (cloud_bridge.selling.mp_orders), on both
databases: the retained list per store (same bytes from any worker, published only when it
changed), and ``mp_order.ack`` from a kiosk, which resolves only its own store's order
alerts and publishes the shorter list at once. Through a real broker, agent and TUI:
tests/tui/test_tui_mp_orders.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cloud_bridge import rpc
from cloud_bridge.models import Alert
from cloud_bridge.selling import mp_orders, rpc_handlers
from contract.wire.base import decode, utcnow
from contract.wire.mp_orders import MpOrderAlerts
from contract.wire.topics import store_mp_orders


class Broker:
    """Collects what would be published (topic -> the retained payload)."""

    def __init__(self) -> None:
        self.retained: dict[str, bytes] = {}
        self.count = 0

    async def publish(self, topic: str, payload: bytes, qos: int = 1,
                      retain: bool = False) -> None:
        assert qos == 1 and retain
        self.retained[topic] = payload
        self.count += 1

    def items(self, store: str) -> list[str]:
        return [i.order_no for i in decode(MpOrderAlerts, self.retained[store_mp_orders(store)])
                .items]


async def add_alert(db, store: str, order_no: str, kind: str = "mp_order") -> int:
    async with db.session() as s:
        alert = Alert(kind=kind, store=store, order_no=order_no,
                      detail={"fulfillment": "delivery", "total": 1290, "currency": "CNY",
                              "products": 2})
        s.add(alert)
        await s.flush()
        return alert.id


def kiosk(db, broker: Broker, store: str = "s1") -> rpc.RpcContext:
    return rpc.RpcContext(store=store, kiosk="k1", request_id="r1", method="mp_order.ack",
                          deadline=utcnow() + timedelta(seconds=10), db=db,
                          publish=broker.publish)


async def test_each_store_gets_its_open_orders_when_they_change(db):
    broker, sent, seen = Broker(), {}, []
    first = await add_alert(db, "s1", "MP-1")
    await add_alert(db, "s1", "MP-2")
    await add_alert(db, "s2", "MP-9")
    await add_alert(db, "s1", "S1-OVERSELL", kind="oversell")     # not an order: not listed
    assert await mp_orders.publish_changed(db, broker.publish, sent, seen) == ["s1", "s2"]
    assert broker.items("s1") == ["MP-1", "MP-2"] and broker.items("s2") == ["MP-9"]
    item = decode(MpOrderAlerts, broker.retained[store_mp_orders("s1")]).items[0]
    assert (item.id, item.fulfillment, item.total, item.products) == (first, "delivery", 1290, 2)
    # Another worker builds the same bytes; nothing changed: nothing is published again.
    other = Broker()
    await mp_orders.publish_changed(db, other.publish, {}, [])
    assert other.retained == broker.retained
    assert await mp_orders.publish_changed(db, broker.publish, sent, seen) == []
    # Resolved in the console: the store's list shrinks; the other store's is not re-sent.
    async with db.session() as s:
        (await s.get(Alert, first)).resolved = True
    assert await mp_orders.publish_changed(db, broker.publish, sent, seen) == ["s1"]
    assert broker.items("s1") == ["MP-2"]


async def test_a_kiosk_acknowledges_only_its_own_stores_orders(db):
    broker = Broker()
    mine = await add_alert(db, "s1", "MP-1")
    theirs = await add_alert(db, "s2", "MP-9")
    not_an_order = await add_alert(db, "s1", "S1-X", kind="oversell")
    k1 = kiosk(db, broker)
    for params, code in [({"alert_id": theirs}, "not_found"),
                         ({"alert_id": not_an_order}, "not_found"),
                         ({"alert_id": 10**9}, "not_found"),
                         ({"alert_id": "x"}, "bad_request"),
                         ({"alert_id": mine, "by": ""}, "bad_request")]:
        with pytest.raises(rpc.RpcFailure) as err:
            await rpc_handlers.ack_mp_order(k1, params)
        assert err.value.code == code, params
    assert broker.count == 0
    out = await rpc_handlers.ack_mp_order(k1, {"alert_id": mine, "by": "e5"})
    assert (out["order_no"], out["resolved"], out["already"]) == ("MP-1", True, False)
    assert broker.items("s1") == []                      # the store's kiosks: at once
    async with db.session() as s:
        acked, other, kept = [await s.get(Alert, i) for i in (mine, theirs, not_an_order)]
        assert acked.resolved and acked.detail["acknowledged_by"] == "k1:e5"
        assert not other.resolved and not kept.resolved
    again = await rpc_handlers.ack_mp_order(kiosk(db, broker), {"alert_id": mine})
    assert again["already"] is True and broker.count == 1   # a second kiosk's ack: no change
