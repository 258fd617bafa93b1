"""Coupons through the HTTP API: templates by head office and store staff, batch issue,
claiming in the mini-program (members only, level restriction, limits), my coupons."""

from __future__ import annotations

from .conftest import TEMPLATE, A, M, register


async def _make(client, headers, **over) -> dict:
    r = await client.post(f"{A}/coupon-templates", json={**TEMPLATE, **over}, headers=headers)
    assert r.status == 201, await r.text()
    return await r.json()


async def test_claim_and_my_coupons(client, people):
    t = await _make(client, people["boss"], total_limit=1)
    r = await client.post(f"{M}/claim", json={"template_id": t["id"]}, headers=people["alice"])
    assert r.status == 404  # members only
    await register(client, people["alice"])
    await register(client, people["bob"])
    r = await client.post(f"{M}/claim", json={"template_id": t["id"]}, headers=people["alice"])
    assert r.status == 201, await r.text()
    coupon = await r.json()
    assert (coupon["status"], coupon["value"], coupon["threshold"]) == ("unused", 1000, 5000)
    r = await client.post(f"{M}/claim", json={"template_id": t["id"]}, headers=people["alice"])
    assert r.status == 409  # per-user limit
    r = await client.post(f"{M}/claim", json={"template_id": t["id"]}, headers=people["bob"])
    assert r.status == 409  # all claimed
    mine = await (await client.get(M, headers=people["alice"])).json()
    assert [c["id"] for c in mine["items"]] == [coupon["id"]]
    assert (await (await client.get(M, headers=people["bob"])).json())["total"] == 0
    got = await (await client.get(f"{A}/coupon-templates/{t['id']}",
                                  headers=people["boss"])).json()
    assert got["issued"] == 1


async def test_level_restricted_coupon(client, people):
    t = await _make(client, people["boss"], min_level="gold")
    await register(client, people["alice"])
    r = await client.post(f"{M}/claim", json={"template_id": t["id"]}, headers=people["alice"])
    assert r.status == 403


async def test_bad_templates_are_refused(client, people):
    for over in ({"kind": "percentage", "value": 20000}, {"kind": "fixed", "cap": 100},
                 {"value": 6000}, {"valid_until": "2030-01-01T00:00:00+08:00"},
                 {"per_user_limit": 5, "total_limit": 2}):
        r = await client.post(f"{A}/coupon-templates", json={**TEMPLATE, **over},
                              headers=people["boss"])
        assert r.status == 400, (over, r.status)


async def test_store_staff_make_coupons_for_their_store_only(client, people):
    r = await client.post(f"{A}/coupon-templates", json=TEMPLATE, headers=people["clerk1"])
    assert r.status == 403  # chain-wide is head office's
    own = await _make(client, people["clerk1"], store="s1")
    chain = await _make(client, people["boss"])
    other = await _make(client, people["clerk2"], store="s2")
    listed = await (await client.get(f"{A}/coupon-templates", headers=people["clerk1"])).json()
    assert {t["id"] for t in listed["items"]} == {own["id"], chain["id"]}
    r = await client.get(f"{A}/coupon-templates/{other['id']}", headers=people["clerk1"])
    assert r.status == 404


async def test_batch_issue(client, people):
    t = await _make(client, people["boss"], total_limit=2)
    a = await register(client, people["alice"])
    b = await register(client, people["bob"])
    r = await client.post(f"{A}/coupon-templates/{t['id']}/issue", headers=people["boss"],
                          json={"member_ids": [a["member_id"], b["member_id"], "mnobody"]})
    body = await r.json()
    assert body["issued"] == 2 and set(body["refused"]) == {"mnobody"}
    mine = await (await client.get(M, headers=people["bob"])).json()
    assert mine["items"][0]["channel"] == "batch"
