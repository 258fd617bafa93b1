"""The member programs' rows of the members domain's cross-store and other-shopper tables
(paid membership, referrals, surveys, points exchange), and the store-s1 things they reach."""

from __future__ import annotations

from typing import Any

from .conftest import A, M

S = "/api/v1/mp/surveys"
PLAN = {"code": "gold-year", "name_zh": "金卡年卡", "name_en": "Gold, a year", "level": "gold",
        "price": 9900, "renewal_price": 8800, "duration_days": 365}
SURVEY = {"kind": "nps", "title_zh": "推荐意愿", "title_en": "Recommend us",
          "question_zh": "您会推荐我们吗？", "question_en": "Would you recommend us?"}
ITEM = {"kind": "product", "product_id": "P-TEA", "name_zh": "绿茶", "name_en": "Green tea",
        "points": 10, "stock": 5}

# (method, route path, concrete path with store s1's things, body, allowed statuses)
PROGRAMS_CROSS_STORE: list[tuple[str, str, str, Any, set[int]]] = [
    ("POST", f"{A}/plans", f"{A}/plans", PLAN, {403}),
    ("PUT", f"{A}/plans/{{plan_id}}", f"{A}/plans/{{plan}}", {"price": 1}, {403}),
    ("GET", f"{A}/paid", f"{A}/paid?store=s1", None, {403}),
    ("POST", f"{A}/programs/sync", f"{A}/programs/sync", None, {403}),
    ("POST", f"{A}/points/adjustments", f"{A}/points/adjustments",
     {"member_id": "m0", "points": 5, "reason": "x", "key": "k"}, {403}),
    ("PUT", f"{A}/referrals/rules", f"{A}/referrals/rules", {"items": []}, {403}),
    ("GET", f"{A}/referrals", f"{A}/referrals?store=s1", None, {403}),
    ("POST", f"{A}/surveys", f"{A}/surveys", {**SURVEY, "store": "s1"}, {403}),
    ("GET", f"{A}/surveys", f"{A}/surveys?store=s1", None, {403}),
    ("GET", f"{A}/surveys/{{survey_id}}/results", f"{A}/surveys/{{survey}}/results", None,
     {404}),
    ("POST", f"{A}/surveys/{{survey_id}}/close", f"{A}/surveys/{{survey}}/close", None, {404}),
    ("POST", f"{A}/exchange/items", f"{A}/exchange/items", {**ITEM, "store": "s1"}, {403}),
    ("GET", f"{A}/exchange/items", f"{A}/exchange/items?store=s1", None, {403}),
    ("PUT", f"{A}/exchange/items/{{item_id}}/status", f"{A}/exchange/items/{{item}}/status",
     {"status": "paused"}, {404}),
    ("GET", f"{A}/exchange/redemptions", f"{A}/exchange/redemptions?store=s1", None, {403}),
    ("POST", f"{A}/exchange/redemptions/{{exchange_id}}/hand-over",
     f"{A}/exchange/redemptions/{{exchange}}/hand-over", None, {404}),
]

# Mini-program routes that act on the caller's own membership and name nothing of another
# shopper's (plans, surveys and items are the chain's; request ids are per member).
PROGRAMS_NOT_USER_SCOPED = {
    ("GET", f"{M}/plans"), ("POST", f"{M}/plans/{{plan_id}}/purchase"), ("GET", f"{M}/paid"),
    ("GET", f"{M}/referral"), ("POST", f"{M}/referral/accept"), ("GET", S),
    ("GET", f"{S}/answers"), ("GET", f"{M}/exchange/items"), ("POST", f"{M}/exchange"),
    ("GET", f"{M}/exchange"),
}
# Routes that name a thing of one shopper (an order): checked against another shopper.
PROGRAMS_USER_SCOPED = {("POST", f"{S}/{{survey_id}}/answers")}


async def seed_store_one(client: Any, db: Any, people: dict[str, Any]) -> dict[str, Any]:
    """A plan, a survey of s1, a product item of s1 and alice's exchange of it."""
    plan = await (await client.post(f"{A}/plans", json=PLAN, headers=people["boss"])).json()
    survey = await (await client.post(f"{A}/surveys", json={**SURVEY, "store": "s1"},
                                      headers=people["clerk1"])).json()
    item = await (await client.post(f"{A}/exchange/items", json={**ITEM, "store": "s1"},
                                    headers=people["clerk1"])).json()
    me = await (await client.post(f"{M}/register", json={}, headers=people["alice"])).json()
    r = await client.post(f"{A}/points/adjustments", headers=people["boss"],
                          json={"member_id": me["member_id"], "points": 10, "reason": "seed",
                                "key": "seed"})
    assert r.status == 200, await r.text()
    ex = await (await client.post(f"{M}/exchange", json={"item_id": item["id"],
                                                         "request_id": "seed"},
                                  headers=people["alice"])).json()
    return {"plan": plan["id"], "survey": survey["id"], "item": item["id"],
            "exchange": ex["id"], "member": me["member_id"]}
