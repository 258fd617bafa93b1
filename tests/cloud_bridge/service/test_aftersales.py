"""After-sales: a shopper asks to return lines of an order with a photo; staff approve
(return on the order, stock back, refund asked) or reject; return periods per category,
defects taken back longer; what other shoppers and other stores' staff may not do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from cloud_bridge.models import Order, OrderHistory, RefundRequest
from cloud_bridge.service.aftersales import line_refund
from cloud_bridge.supply.models import SupplyProduct

from .conftest import A, M
from .test_tickets import png_bytes


async def _mine(db, order_no: str, openid: str, days_ago: float) -> None:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    async with db.session() as s:
        await s.execute(update(Order).where(Order.order_no == order_no)
                        .values(openid=openid, completed_at=at, paid_at=at, created_at=at))


async def _stock(client, headers, product: str) -> int:
    r = await client.get("/api/v1/admin/stock", headers=headers,
                         params={"store": "s1", "product_id": product})
    items = (await r.json())["items"]
    return items[0]["on_hand"] if items else 0


def test_a_line_returned_piece_by_piece_refunds_exactly_what_was_paid():
    amount, qty = 1000, 3            # ¥10.00 for three: 3.33 + 3.33 + 3.34
    parts = [line_refund(amount, qty, before, 1) for before in range(qty)]
    assert sum(parts) == amount and max(parts) - min(parts) <= 1
    assert line_refund(amount, qty, 0, 3) == amount


async def test_return_with_photo_approved_refund_and_stock(client, people, db):
    alice, bob = people["alice"], people["bob"]
    clerk1, clerk2 = people["clerk1"], people["clerk2"]
    await _mine(db, "S1-0", people["alice_openid"], 1)      # p-milk 2 x 450, p-bread 800
    r = await client.post(f"{M}/aftersales/photos?order_no=S1-0", data=png_bytes(),
                          headers={**alice, "Content-Type": "application/octet-stream"})
    assert r.status == 201, await r.text()
    photo = (await r.json())["id"]
    # Someone else's order is not theirs to photograph, nor their photo to use.
    r = await client.post(f"{M}/aftersales/photos?order_no=S1-0", data=png_bytes(),
                          headers={**bob, "Content-Type": "application/octet-stream"})
    assert r.status == 404
    body = {"order_no": "S1-0", "kind": "return", "reason": "quality", "description": "变质",
            "lines": [{"line_no": 1, "qty": 1}], "photo_ids": [photo]}
    assert (await client.post(f"{M}/aftersales", headers=bob, json=body)).status == 404

    r = await client.post(f"{M}/aftersales", headers=alice, json=body)
    assert r.status == 201, await r.text()
    req = await r.json()
    assert (req["status"], req["amount"], req["photos"]) == ("requested", 450, [photo])
    # Two more milks than are left once this request is counted: refused.
    r = await client.post(f"{M}/aftersales", headers=alice, json={
        **body, "lines": [{"line_no": 1, "qty": 2}], "photo_ids": []})
    assert r.status == 409 and "1 left" in (await r.json())["detail"]
    # An exchange is for a defect only.
    r = await client.post(f"{M}/aftersales", headers=alice, json={
        **body, "kind": "exchange", "reason": "changed_mind", "photo_ids": []})
    assert r.status == 400

    before = await _stock(client, clerk1, "p-milk")
    path = f"{A}/aftersales/{req['id']}/approve"
    assert (await client.post(path, headers=clerk2, json={"restock": True})).status == 404
    assert (await client.post(path, headers=alice, json={"restock": True})).status in (401, 403)
    r = await client.post(path, headers=clerk1, json={"restock": True, "note": "已核实"})
    assert r.status == 200, await r.text()
    done = await r.json()
    assert done["status"] == "approved" and done["return_id"]
    assert done["refund"]["amount"] == 450
    assert await _stock(client, clerk1, "p-milk") == before + 1
    assert (await client.post(path, headers=clerk1, json={"restock": True})).status == 409
    async with db.session() as s:
        order = await s.scalar(select(Order).where(Order.order_no == "S1-0"))
        actions = [h.action for h in await s.scalars(
            select(OrderHistory).where(OrderHistory.order_id == order.id)
            .order_by(OrderHistory.id))]
        refund = await s.get(RefundRequest, done["refund"]["id"])
    assert actions[-4:] == ["aftersales_requested", "return", "refund_requested",
                            "aftersales_approved"]
    assert refund.amount == 450 and refund.order_id == order.id
    mine = await (await client.get(f"{M}/aftersales", headers=alice)).json()
    assert [x["status"] for x in mine["items"]] == ["approved"]
    assert (await (await client.get(f"{M}/aftersales", headers=bob)).json())["items"] == []
    staff = await (await client.get(f"{A}/aftersales", headers=clerk2)).json()
    assert staff["items"] == []


async def test_return_periods_defects_reject_and_cancel(client, people, db):
    alice, boss, clerk1 = people["alice"], people["boss"], people["clerk1"]
    await _mine(db, "S1-1", people["alice_openid"], 3)
    async with db.session() as s:
        s.add(SupplyProduct(product_id="p-bread", name_zh="面包", category="bakery"))
    rules = {"bakery": 1, "*": 7}
    assert (await client.put(f"{A}/aftersales-rules", headers=clerk1,
                             json={"rules": rules})).status == 403
    r = await client.put(f"{A}/aftersales-rules", headers=boss, json={"rules": rules})
    assert r.status == 200 and (await r.json())["rules"] == rules
    assert (await client.put(f"{A}/aftersales-rules", headers=boss,
                             json={"rules": {"*": 400}})).status == 400

    bread = {"order_no": "S1-1", "kind": "return", "lines": [{"line_no": 2, "qty": 1}]}
    r = await client.post(f"{M}/aftersales", headers=alice, json={**bread,
                                                                  "reason": "changed_mind"})
    assert r.status == 409 and "1-day" in (await r.json())["detail"]
    # Mouldy bread three days on is still the shop's to take back.
    r = await client.post(f"{M}/aftersales", headers=alice, json={**bread, "reason": "quality"})
    assert r.status == 201
    bread_req = (await r.json())["id"]
    r = await client.post(f"{M}/aftersales", headers=alice, json={
        "order_no": "S1-1", "kind": "return", "reason": "changed_mind",
        "lines": [{"line_no": 1, "qty": 2}]})
    assert r.status == 201 and (await r.json())["amount"] == 900
    milk_req = (await r.json())["id"]

    r = await client.post(f"{A}/aftersales/{bread_req}/reject", headers=clerk1,
                          json={"note": "照片看不出问题"})
    assert r.status == 200 and (await r.json())["status"] == "rejected"
    r = await client.post(f"{M}/aftersales/{bread_req}/cancel", headers=alice)
    assert r.status == 409
    assert (await client.post(f"{M}/aftersales/{milk_req}/cancel",
                              headers=people["bob"])).status == 404
    r = await client.post(f"{M}/aftersales/{milk_req}/cancel", headers=alice)
    assert r.status == 200 and (await r.json())["status"] == "cancelled"
    # A cancelled request gives its units back to ask again.
    r = await client.post(f"{M}/aftersales", headers=alice, json={
        "order_no": "S1-1", "kind": "return", "reason": "changed_mind",
        "lines": [{"line_no": 1, "qty": 2}]})
    assert r.status == 201
    # Past the general period nothing goes back for a change of mind.
    await _mine(db, "S1-2", people["alice_openid"], 8)
    r = await client.post(f"{M}/aftersales", headers=alice, json={
        "order_no": "S1-2", "kind": "return", "reason": "changed_mind",
        "lines": [{"line_no": 1, "qty": 1}]})
    assert r.status == 409
