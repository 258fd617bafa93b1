"""The members part of the OpenAPI success walk (``test_openapi_fuzz``)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import update

from cloud_bridge.db import Database

A = "/api/v1/admin/members"
M = "/api/v1/mp/member"
S = "/api/v1/mp/surveys"


def walk(call: Any, ctx: dict[str, Any]) -> None:
    call("POST", "/sandbox/wxa/business/getuserphonenumber",
         query={"access_token": "sandbox-access-token"}, body={"code": "walker-phone"})
    call("POST", f"{M}/register", body={"phone_code": "walker-phone", "home_store": "s1"})
    call("GET", M)
    call("PUT", f"{M}/profile", body={"birthday": "1992-05-20", "region": "上海",
                                      "gender": "female"})
    call("GET", f"{M}/code")
    call("GET", f"{M}/points", query={"limit": 10})
    program = call("GET", f"{A}/program")
    call("PUT", f"{A}/program", body=program)
    call("GET", A, query={"store": "s1"})
    call("POST", f"{A}/sync")
    walk_programs(call, ctx)


def _inviter_and_fresh_order(db_url: str) -> str:
    """Another member whose invitation code the walker accepts, and the walker's kiosk
    order paid today (so that a survey can be about it): the code."""
    from cloud_bridge.members.models import MemberRecord
    from cloud_bridge.members.models_programs import ReferralCode
    from cloud_bridge.models import Order, now

    async def add() -> None:
        async with Database(db_url) as db, db.session() as s:
            s.add(MemberRecord(id="mwalkinviter", appid="walk", openid="walk-inviter",
                               home_store="s1"))
            await s.flush()
            s.add(ReferralCode(member_id="mwalkinviter", code="WALK2345"))
            await s.execute(update(Order).where(Order.order_no == "S1-0").values(paid_at=now()))

    asyncio.run(add())
    return "WALK2345"


def walk_programs(call: Any, ctx: dict[str, Any]) -> None:
    """Paid membership, referrals, surveys and the points exchange."""
    plan = call("POST", f"{A}/plans", body={
        "code": "walk-gold", "name_zh": "金卡年卡", "name_en": "Gold, a year", "level": "gold",
        "price": 9900, "renewal_price": 8800, "duration_days": 365})
    pid = {"plan_id": plan["id"]}
    call("GET", f"{A}/plans")
    call("PUT", f"{A}/plans/{{plan_id}}", path_parameters=pid, body={"renewal_price": 8000})
    call("GET", f"{M}/plans")
    call("POST", f"{M}/plans/{{plan_id}}/purchase", path_parameters=pid, body={"store": "s1"})
    call("GET", f"{M}/paid")
    call("GET", f"{A}/paid", query={"store": "s1"})
    call("POST", f"{A}/programs/sync")
    me = call("GET", M)
    call("POST", f"{A}/points/adjustments", body={"member_id": me["member_id"], "points": 100,
                                                   "reason": "走查", "key": "walk"})

    code = _inviter_and_fresh_order(ctx["db_url"])
    call("PUT", f"{A}/referrals/rules", body={"items": [
        {"event": "register", "beneficiary": "invitee", "points": 5},
        {"event": "first_purchase", "beneficiary": "inviter", "points": 50}]})
    call("GET", f"{A}/referrals/rules")
    call("GET", f"{M}/referral")
    call("POST", f"{M}/referral/accept", body={"code": code})
    call("GET", f"{A}/referrals", query={"store": "s1"})

    survey = call("POST", f"{A}/surveys", body={
        "kind": "nps", "title_zh": "推荐意愿", "title_en": "Recommend us",
        "question_zh": "您会推荐我们吗？", "question_en": "Would you recommend us?"})
    sid = {"survey_id": survey["id"]}
    call("GET", f"{A}/surveys", query={"store": "s1"})
    todo = call("GET", S)
    order_no = next(x["order_no"] for x in todo["items"] if x["survey"]["id"] == survey["id"])
    call("POST", f"{S}/{{survey_id}}/answers", path_parameters=sid,
         body={"order_no": order_no, "score": 9, "comment": "很方便"})
    call("GET", f"{S}/answers")
    call("GET", f"{A}/surveys/{{survey_id}}/results", path_parameters=sid,
         query={"store": "s1"})
    call("POST", f"{A}/surveys/{{survey_id}}/close", path_parameters=sid)

    item = call("POST", f"{A}/exchange/items", body={
        "store": "s1", "kind": "product", "product_id": ctx["product"], "name_zh": "绿茶",
        "name_en": "Green tea", "points": 10, "stock": 5})
    iid = {"item_id": item["id"]}
    call("GET", f"{A}/exchange/items", query={"store": "s1"})
    call("PUT", f"{A}/exchange/items/{{item_id}}/status", path_parameters=iid,
         body={"status": "active"})
    call("GET", f"{M}/exchange/items", query={"store": "s1"})
    ex = call("POST", f"{M}/exchange", body={"item_id": item["id"], "request_id": "walk-1"})
    call("GET", f"{M}/exchange")
    call("GET", f"{A}/exchange/redemptions", query={"store": "s1"})
    call("POST", f"{A}/exchange/redemptions/{{exchange_id}}/hand-over",
         path_parameters={"exchange_id": ex["id"]})
