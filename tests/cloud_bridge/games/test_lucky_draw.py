"""The lucky draw: configuration frozen while live, server-side draws within the daily and
per-member caps, every draw audited, prizes given through the points ledger and
marketing's claim path, the fallback when stock runs out, and prize stock never oversold
by draws sent at once."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import func, select, update

from cloud_bridge.games.models import Draw, Prize
from cloud_bridge.members.models import PointsEntry

from .conftest import A, M, draw, fallback, game_body, live_game, points_prize, register, shoppers


async def test_configuration_is_frozen_once_live(client, db, people):
    body = game_body([points_prize(10, 5), fallback(90)])
    r = await client.post(A, json=body, headers=people["boss"])
    game = await r.json()
    assert game["status"] == "draft" and game["config_hash"] is None
    edited = {k: v for k, v in body.items() if k != "store"} | {"daily_cap": 2}
    r = await client.put(f"{A}/{game['id']}", json=edited, headers=people["boss"])
    assert r.status == 200 and (await r.json())["daily_cap"] == 2
    r = await client.post(f"{A}/{game['id']}/start", headers=people["boss"])
    live = await r.json()
    assert live["status"] == "live" and len(live["config_hash"]) == 64
    for path, body_ in ((f"{A}/{game['id']}", edited), (f"{A}/{game['id']}/start", None)):
        r = await client.request("PUT" if body_ else "POST", path, json=body_,
                                 headers=people["boss"])
        assert r.status == 409, await r.text()
    assert (await client.post(f"{A}/{game['id']}/end", headers=people["boss"])).status == 200
    r = await client.put(f"{A}/{game['id']}", json=edited, headers=people["boss"])
    assert r.status == 409
    await register(client, people["alice"])
    assert (await draw(client, people["alice"], game["id"], "late")).status == 409
    # The prizes are as they were when it went live.
    got = await (await client.get(f"{A}/{game['id']}", headers=people["boss"])).json()
    assert got["config_hash"] == live["config_hash"] and got["daily_cap"] == 2


async def test_caps_idempotent_retries_and_the_audit(client, db, people):
    game = await live_game(client, people["boss"], [points_prize(1, 100), fallback(0)],
                           daily_cap=2, member_cap=3)
    await register(client, people["alice"])
    r = await draw(client, people["alice"], game["id"], "r1")
    assert r.status == 201, await r.text()
    first = await r.json()
    assert first["outcome"] == "won" and first["points_won"] == 50
    again = await (await draw(client, people["alice"], game["id"], "r1")).json()
    assert again == first
    assert (await draw(client, people["alice"], game["id"], "r2")).status == 201
    r = await draw(client, people["alice"], game["id"], "r3")
    assert r.status == 409 and "today" in await r.text()
    async with db.session() as s:  # those two were yesterday's
        await s.execute(update(Draw).values(day="2000-01-01"))
    assert (await draw(client, people["alice"], game["id"], "r3")).status == 201
    r = await draw(client, people["alice"], game["id"], "r4")
    assert r.status == 409 and "all your draws" in await r.text()
    me = await (await client.get("/api/v1/mp/member", headers=people["alice"])).json()
    assert me["points"] == 150

    audit = await (await client.get(f"{A}/{game['id']}/draws", headers=people["boss"])).json()
    assert audit["total"] == 3
    for row in audit["items"]:
        assert 0 <= row["roll"] < row["total_weight"] == 1
        assert row["config_hash"] == game["config_hash"] and row["member_id"]
    mine = await (await client.get(f"{M}/{game['id']}/draws", headers=people["alice"])).json()
    assert mine["total"] == 3 and mine["items"][0].get("roll") is None  # staff only
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(PointsEntry).where(
            PointsEntry.source_type == "game")) == 3


async def test_coupon_prize_points_cost_and_fallback(client, db, people):
    r = await client.post("/api/v1/admin/marketing/coupon-templates", headers=people["boss"],
                          json={"name_zh": "抽奖券", "kind": "fixed", "value": 300,
                                "total_limit": 1, "valid_days": 7})
    template = (await r.json())["id"]
    coupon_prize = {"name_zh": "3元券", "name_en": "3 off", "kind": "coupon",
                    "coupon_template_id": template, "weight": 1, "stock": 5}
    game = await live_game(client, people["boss"], [coupon_prize, fallback(0)],
                           points_cost=10, daily_cap=3)
    me = await register(client, people["alice"])
    # Not enough points for a draw: refused, nothing drawn.
    assert (await draw(client, people["alice"], game["id"], "poor")).status == 409
    await client.post("/api/v1/admin/members/points/adjustments", headers=people["boss"],
                      json={"member_id": me["member_id"], "points": 30, "reason": "t",
                            "key": "t"})
    won = await (await draw(client, people["alice"], game["id"], "c1")).json()
    assert won["outcome"] == "won" and won["coupon_id"] and won["points_spent"] == 10
    wallet = await (await client.get("/api/v1/mp/coupons", headers=people["alice"])).json()
    assert [(c["id"], c["channel"]) for c in wallet["items"]] == [(won["coupon_id"], "game")]
    # The template's one coupon is gone: the prize goes back, the fallback is given.
    second = await (await draw(client, people["alice"], game["id"], "c2")).json()
    assert second["outcome"] == "unavailable" and second["prize_kind"] == "nothing"
    async with db.read() as s:
        prize = await s.scalar(select(Prize).where(Prize.kind == "coupon"))
        assert prize.issued == 1
    assert (await (await client.get("/api/v1/mp/member", headers=people["alice"])).json()
            )["points"] == 10


async def test_weights_decide_the_draw(client, db, people):
    game = await live_game(client, people["boss"], [points_prize(3, 1000, pts=1), fallback(1)],
                           daily_cap=100, member_cap=100)
    await register(client, people["alice"])
    outcomes = Counter()
    for i in range(80):
        outcomes[(await (await draw(client, people["alice"], game["id"], f"w{i}")).json()
                  )["outcome"]] += 1
    # 3:1 — a fair server draw lands in this range with overwhelming probability.
    assert 40 <= outcomes["won"] <= 75 and outcomes["won"] + outcomes["fallback"] == 80


async def test_prize_stock_never_oversold_by_draws_at_once(client, db, people):
    game = await live_game(client, people["boss"], [points_prize(1, 5), fallback(0)])
    crowd = await shoppers(client, db, 12)
    rs = await asyncio.gather(*[draw(client, h, game["id"], f"x{i}-{j}")
                                for i, h in enumerate(crowd) for j in range(2)])
    assert {r.status for r in rs} <= {201, 409}
    outcomes = Counter([(await r.json())["outcome"] for r in rs if r.status == 201])
    assert outcomes["won"] == 5  # the stock, exactly
    assert set(outcomes) <= {"won", "out_of_stock", "fallback"}  # the rest: the fallback
    async with db.read() as s:
        prize = await s.scalar(select(Prize).where(Prize.game_id == game["id"],
                                                   Prize.fallback.is_(False)))
        assert prize.issued == 5
        draws = await s.scalar(select(func.count()).select_from(Draw))
        assert draws == sum(r.status == 201 for r in rs)  # a row per draw
        assert await s.scalar(select(func.count()).select_from(PointsEntry).where(
            PointsEntry.source_type == "game")) == 5


async def test_refusals(client, db, people):
    good = [points_prize(1, 5), fallback(1)]
    bad = {
        "no fallback": [points_prize(1, 5)],
        "two fallbacks": [fallback(1), fallback(1)],
        "fallback with stock": [points_prize(1, 5), {**fallback(1), "stock": 3}],
        "prize without stock": [{**points_prize(1, 5), "stock": None}, fallback(1)],
        "coupon without template": [{**points_prize(1, 5), "kind": "coupon"}, fallback(1)],
        "no weight": [points_prize(0, 5), fallback(0)],
    }
    for why, prizes in bad.items():
        r = await client.post(A, json=game_body(prizes), headers=people["boss"])
        assert r.status == 400, why
    r = await client.post(A, json=game_body(good, daily_cap=5, member_cap=2),
                          headers=people["boss"])
    assert r.status == 400
    # Store staff: their own store only.
    assert (await client.post(A, json=game_body(good), headers=people["clerk1"])).status == 403
    assert (await client.post(A, json=game_body(good, store="s2"),
                              headers=people["clerk1"])).status == 403
    mine = await (await client.post(A, json=game_body(good, store="s1"),
                                    headers=people["clerk1"])).json()
    assert (await client.post(f"{A}/{mine['id']}/start", headers=people["clerk2"])).status == 404
    chain = await live_game(client, people["boss"], good)
    assert (await client.post(f"{A}/{chain['id']}/end", headers=people["clerk1"])).status == 403
    assert (await client.get(f"{A}/{chain['id']}/draws", headers=people["clerk1"])).status == 403
    # Shoppers: members only; a draft cannot be drawn.
    assert (await draw(client, people["bob"], chain["id"], "x")).status == 404
    await register(client, people["bob"])
    assert (await draw(client, people["bob"], mine["id"], "x")).status == 409
    assert (await draw(client, people["bob"], 999, "x")).status == 404
    listed = await (await client.get(M, headers=people["bob"])).json()
    assert [g["id"] for g in listed["items"]] == [chain["id"]]
    assert listed["items"][0]["prizes"][0].get("weight") is None  # chances, not weights
