"""The supply admin API as its users meet it: a buyer, head office, a store clerk and a
finance clerk take an order from proposal to paid; what each may not do is refused."""

from __future__ import annotations

from cloud_bridge import auth

from ..test_api import add_user, client, login

__all__ = ["client"]

A = "/api/v1/admin/supply"


async def test_order_to_payment_through_the_api_with_each_role(client, db):
    for name, role, store in (("hq", auth.HEAD_OFFICE, None), ("buyer", auth.BUYER, None),
                              ("clerk", auth.STORE_STAFF, "s1"), ("fin", auth.FINANCE, None)):
        await add_user(db, name, role, store)
    hq, buyer, clerk, fin = [await login(client, n) for n in ("hq", "buyer", "clerk", "fin")]

    async def call(method, path, who, body=None, status=200):
        r = await client.request(method, A + path, json=body, headers=who)
        assert r.status == status, (method, path, r.status, await r.text())
        return await r.json()

    await call("PUT", "/suppliers/dairy", buyer, {"name": "光明乳业", "lead_time_days": 1})
    await call("PUT", "/suppliers/dairy/qualifications/food_licence", buyer,
               {"number": "JY1", "expires_on": "2099-12-31"})
    await call("PUT", "/products/milk", buyer, {"name_zh": "鲜牛奶", "shelf_life_days": 7,
                                                "vat_rate_bp": 900})
    await call("PUT", "/suppliers/dairy/products/milk", buyer, {"cost_fen": 500, "pack_size": 6})
    await call("PUT", "/suppliers/dairy/products/milk", clerk, {"cost_fen": 1}, status=403)
    po = await call("POST", "/purchase-orders", buyer,
                    {"store": "s1", "supplier_id": "dairy",
                     "lines": [{"product_id": "milk", "qty": 12000}]}, status=201)
    act = f"/purchase-orders/{po['id']}/actions"
    # 6,000,000 fen is above the default 5,000,000 limit: the buyer may not approve.
    await call("POST", act, buyer, {"action": "approve"}, status=403)
    await call("POST", act, clerk, {"action": "approve"}, status=403)
    await call("POST", act, buyer, {"action": "send"}, status=409)  # not approved yet
    await call("POST", act, hq, {"action": "approve"})
    sent = await call("POST", act, buyer, {"action": "send"})
    assert sent["status"] == "sent" and sent["expected_on"]
    rec = f"/purchase-orders/{po['id']}/receipts"
    await call("POST", rec, clerk, {"lots": [{"product_id": "milk", "lot_no": "L1",
                                              "qty": 10, "expiry_date": "2026-02-30"}]},
               status=400)
    await call("POST", rec, clerk, {"lots": [{"product_id": "milk", "lot_no": "L1",
                                              "qty": 10}]}, status=400)  # no expiry
    got = await call("POST", rec, clerk, {"lots": [
        {"product_id": "milk", "lot_no": "L1", "qty": 12000, "expiry_date": "2099-01-07",
         "defects": 5}]}, status=201)
    ins = got["lines"][0]["inspection"]
    # 12,000 units: code letter M, n=315, AQL 1.0 -> Ac 7 Re 8: five defects pass.
    assert (ins["code_letter"], ins["sample_size"], ins["ac"], ins["re"],
            ins["decision"]) == ("M", 315, 7, 8, "accept")
    assert got["po_status"] == "received"
    lots = await call("GET", "/lots?store=s1", clerk)
    assert [(x["lot_no"], x["qty"]) for x in lots["items"]] == [("L1", 12000)]
    bill = f"/purchase-orders/{po['id']}/bills"
    body = {"bill_no": "INV-1", "vat_fen": 540000,
            "lines": [{"product_id": "milk", "qty": 12000, "unit_cost_fen": 500}]}
    await call("POST", bill, clerk, body, status=403)
    billed = await call("POST", bill, fin, body, status=201)
    assert billed["status"] == "matched" and billed["problems"] == []
    await call("POST", f"/bills/{billed['id']}/pay", buyer, status=403)
    paid = await call("POST", f"/bills/{billed['id']}/pay", fin)
    assert paid["status"] == "paid"
    await call("POST", f"/bills/{billed['id']}/pay", fin, status=409)
    done = await call("GET", f"/purchase-orders/{po['id']}", clerk)
    assert done["status"] == "closed"
    assert [h["to"] for h in done["history"]] == ["proposal", "approved", "sent", "received",
                                                  "billed", "closed"]
    sup = await call("GET", "/suppliers/dairy", buyer)
    assert sup["scorecard"]["receipts"] == 1 and sup["balance_fen"] == 0


async def test_a_sale_takes_the_lot_and_alerts_move_through_their_states(client, db):
    await add_user(db, "hq", auth.HEAD_OFFICE)
    await add_user(db, "clerk", auth.STORE_STAFF, "s1")
    hq, clerk = await login(client, "hq"), await login(client, "clerk")
    r = await client.put(f"{A}/rules/s1/milk", json={"min_qty": 10}, headers=hq)
    assert r.status == 200
    r = await client.post(f"{A}/stores/s1/counts", headers=clerk, json={"lines": [
        {"product_id": "milk", "lot_no": "C1", "expiry_date": "2026-12-06", "counted": 8}]})
    assert r.status == 201 and (await r.json())["lines"][0]["variance"] == 8
    # The core stock adjustment (a sale-like removal) takes the lot first.
    r = await client.post("/api/v1/admin/stock/s1/milk/adjust", headers=clerk,
                          json={"delta": -3, "reason": "damaged"})
    assert r.status == 200
    moves = await (await client.get(f"{A}/movements?store=s1", headers=clerk)).json()
    assert [(m["kind"], m["lot_no"], m["qty"]) for m in moves["items"]] == [
        ("adjustment", "C1", -3), ("count_variance", "C1", 8)]
    r = await client.post(f"{A}/stores/s1/alerts/scan", headers=clerk,
                          json={"date": "2026-12-05"})
    assert r.status == 200
    kinds = {a["kind"]: a for a in (await r.json())["items"]}
    assert set(kinds) == {"below_reorder_point", "near_expiry"}
    aid = kinds["near_expiry"]["id"]
    r = await client.post(f"{A}/alerts/{aid}/state", json={"state": "acknowledged"},
                          headers=clerk)
    assert r.status == 200 and (await r.json())["state"] == "acknowledged"
    r = await client.post(f"{A}/alerts/{aid}/state", json={"state": "acknowledged"},
                          headers=clerk)
    assert r.status == 409
    r = await client.post(f"{A}/alerts/{aid}/state", json={"state": "reopened"},
                          headers=clerk)
    assert r.status == 400
    r = await client.get(f"{A}/alerts?state=acknowledged", headers=clerk)
    assert [a["id"] for a in (await r.json())["items"]] == [aid]
