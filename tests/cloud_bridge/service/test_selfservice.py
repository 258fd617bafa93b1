"""Self-service look-ups: my order's status and refunds in words, a store's hours."""

from __future__ import annotations

from .conftest import A, M
from .seed import give_order


async def test_order_status_and_refunds(client, people, db):
    await give_order(db, "S1-0", people["alice_openid"])
    r = await client.post("/api/v1/admin/orders/S1-0/refunds", headers=people["clerk1"],
                          json={"amount": 100, "reason": "坏了"})
    assert r.status in (200, 201), await r.text()
    r = await client.get(f"{M}/self-service/orders/S1-0", headers=people["alice"])
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["status"] == "completed" and body["status_zh"] == "已完成"
    assert [x["amount"] for x in body["refunds"]] == [100]
    assert body["refunds"][0]["status_zh"].startswith("退款")
    assert "requested_by" not in body["refunds"][0]
    r = await client.get(f"{M}/self-service/orders/S1-0", headers=people["bob"])
    assert r.status == 404
    r = await client.get(f"{M}/self-service/orders/S1-1", headers=people["alice"])
    assert r.status == 404  # not claimed: not hers


async def test_opening_hours_with_holidays(client, people):
    r = await client.get(f"{M}/stores/s1/opening-hours", headers=people["alice"])
    week = (await r.json())["week"]
    assert week[0] == {"weekday": 0, "weekday_zh": "周一", "opens": "09:00", "closes": "18:00"}
    assert week[6]["opens"] is None
    await client.put(f"{A}/stores/s1/sla", headers=people["clerk1"], json={
        "policies": [], "hours": [{"weekday": d, "opens": "08:00", "closes": "22:00"}
                                  for d in range(7)]})
    await client.put(f"{A}/stores/all/calendar/2099-01-01", headers=people["boss"],
                     json={"kind": "holiday", "name": "元旦"})
    from datetime import UTC, datetime, timedelta

    soon = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    await client.put(f"{A}/stores/s1/calendar/{soon}", headers=people["clerk1"],
                     json={"kind": "holiday", "name": "店庆休息"})
    body = await (await client.get(f"{M}/stores/s1/opening-hours",
                                   headers=people["alice"])).json()
    assert body["week"][6]["closes"] == "22:00"
    assert body["days"] == [{"day": soon, "kind": "holiday", "name": "店庆休息"}]


async def test_wallet_shows_my_points_and_stored_value_only_to_members(client, people, db):
    from cloud_bridge.payments.models import MemberBalance

    r = await client.get(f"{M}/self-service/wallet", headers=people["alice"])
    assert r.status == 404          # not a member yet
    r = await client.post("/api/v1/mp/member/register", headers=people["alice"], json={})
    assert r.status in (200, 201), await r.text()
    member_id = (await r.json())["member_id"]
    async with db.session() as s:
        s.add(MemberBalance(member_id=member_id, balance=1234))
    r = await client.get(f"{M}/self-service/wallet", headers=people["alice"])
    body = await r.json()
    assert r.status == 200 and (body["member_id"], body["stored_value"]) == (member_id, 1234)
    assert body["points"] >= 0
    assert (await client.get(f"{M}/self-service/wallet", headers=people["bob"])).status == 404
