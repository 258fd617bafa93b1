"""Satisfaction surveys: NPS and CSAT about the member's own paid orders, one answer per
(member, survey, order) even when sent at once, results per store and month with NPS as
% promoters - % detractors, store staff limited to their store."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from sqlalchemy import update

from cloud_bridge.members.models_programs import SurveyAnswer
from cloud_bridge.models import Order, now

from .conftest import A, register

S = "/api/v1/mp/surveys"
NPS = {"kind": "nps", "title_zh": "推荐意愿", "title_en": "Would you recommend us",
       "question_zh": "您有多大可能向朋友推荐我们？", "question_en": "How likely are you to "
       "recommend us to a friend?", "answer_days": 14}
CSAT = {**NPS, "kind": "csat", "title_zh": "满意度", "title_en": "Satisfaction",
        "question_zh": "您对本次购物满意吗？", "question_en": "Were you satisfied?"}


async def alices_orders(db, member_id: str, orders=("S1-0", "S1-1", "S2-0")) -> None:
    async with db.session() as s:
        await s.execute(update(Order).where(Order.order_no.in_(orders))
                        .values(member_id=member_id, paid_at=now()))


async def answer(client, headers, survey: int, order_no: str, score: int):
    return await client.post(f"{S}/{survey}/answers", headers=headers,
                             json={"order_no": order_no, "score": score, "comment": "不错"})


async def test_answers_and_results_per_store_and_month(client, db, people):
    nps = await (await client.post(f"{A}/surveys", json=NPS, headers=people["boss"])).json()
    r = await client.post(f"{A}/surveys", json={**CSAT, "store": "s1"},
                          headers=people["clerk1"])
    assert r.status == 201, await r.text()
    csat = await r.json()
    me = await register(client, people["alice"])
    await alices_orders(db, me["member_id"])

    todo = await (await client.get(S, headers=people["alice"])).json()
    pairs = {(x["survey"]["id"], x["order_no"]) for x in todo["items"]}
    assert pairs == {(nps["id"], "S1-0"), (nps["id"], "S1-1"), (nps["id"], "S2-0"),
                     (csat["id"], "S1-0"), (csat["id"], "S1-1")}

    for survey, order_no, score in ((nps, "S1-0", 10), (nps, "S1-1", 3), (nps, "S2-0", 8),
                                    (csat, "S1-0", 5), (csat, "S1-1", 2)):
        r = await answer(client, people["alice"], survey["id"], order_no, score)
        assert r.status == 201, await r.text()
    assert (await (await client.get(S, headers=people["alice"])).json())["items"] == []
    mine = await (await client.get(f"{S}/answers", headers=people["alice"])).json()
    assert len(mine["items"]) == 5

    month = now().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")  # store time
    res = await (await client.get(f"{A}/surveys/{nps['id']}/results",
                                  headers=people["boss"])).json()
    by_store = {x["store"]: x for x in res["items"]}
    assert by_store["s1"]["promoters"] == 1 and by_store["s1"]["detractors"] == 1
    assert by_store["s1"]["nps"] == 0.0 and by_store["s1"]["responses"] == 2
    assert by_store["s2"]["passives"] == 1 and by_store["s2"]["nps"] == 0.0
    assert {x["month"] for x in res["items"]} == {month}
    res = await (await client.get(f"{A}/surveys/{csat['id']}/results",
                                  headers=people["clerk1"])).json()
    assert [(x["store"], x["csat"], x["mean"]) for x in res["items"]] == [("s1", 50.0, 3.5)]

    # Another month's answer is its own row; a month filter picks one.
    async with db.session() as s:
        await s.execute(update(SurveyAnswer).where(SurveyAnswer.order_no == "S1-1",
                                                   SurveyAnswer.survey_id == nps["id"])
                        .values(month="2020-01"))
    res = await (await client.get(f"{A}/surveys/{nps['id']}/results",
                                  headers=people["boss"])).json()
    rows = [(x["store"], x["month"], x["nps"]) for x in res["items"]]
    assert rows[0] == ("s1", "2020-01", -100.0) and ("s1", month, 100.0) in rows
    res = await (await client.get(f"{A}/surveys/{nps['id']}/results?month=2020-01",
                                  headers=people["boss"])).json()
    assert len(res["items"]) == 1

    # Store staff see their store's answers of a chain-wide survey, never another's.
    res = await (await client.get(f"{A}/surveys/{nps['id']}/results",
                                  headers=people["clerk2"])).json()
    assert {x["store"] for x in res["items"]} == {"s2"}
    listed = await (await client.get(f"{A}/surveys", headers=people["clerk2"])).json()
    assert [x["id"] for x in listed["items"]] == [nps["id"]]


async def test_one_answer_per_member_survey_order_even_at_once(client, db, people):
    nps = await (await client.post(f"{A}/surveys", json=NPS, headers=people["boss"])).json()
    me = await register(client, people["alice"])
    await alices_orders(db, me["member_id"])
    rs = await asyncio.gather(*[answer(client, people["alice"], nps["id"], "S1-0", 9)
                                for _ in range(6)])
    assert sorted(r.status for r in rs) == [201] + [409] * 5
    res = await (await client.get(f"{A}/surveys/{nps['id']}/results",
                                  headers=people["boss"])).json()
    assert res["items"][0]["responses"] == 1


async def test_refusals(client, db, people):
    nps = await (await client.post(f"{A}/surveys", json=NPS, headers=people["boss"])).json()
    csat = await (await client.post(f"{A}/surveys", json={**CSAT, "store": "s1"},
                                    headers=people["boss"])).json()
    assert (await client.post(f"{A}/surveys", json=NPS, headers=people["clerk1"])).status == 403
    assert (await client.post(f"{A}/surveys", json={**NPS, "store": "s1"},
                              headers=people["clerk2"])).status == 403
    me = await register(client, people["alice"])
    await alices_orders(db, me["member_id"], ("S1-0", "S2-0"))
    # Off the scale; another store's order for a store survey; an order not mine.
    assert (await answer(client, people["alice"], nps["id"], "S1-0", 11)).status == 400
    assert (await answer(client, people["alice"], csat["id"], "S1-0", 0)).status == 400
    assert (await answer(client, people["alice"], csat["id"], "S2-0", 4)).status == 409
    assert (await answer(client, people["alice"], nps["id"], "S1-2", 9)).status == 404
    await register(client, people["bob"])
    assert (await answer(client, people["bob"], nps["id"], "S1-0", 9)).status == 404
    assert (await answer(client, people["alice"], 999, "S1-0", 9)).status == 404
    # A closed survey takes no answers; store staff cannot close a chain-wide one.
    assert (await client.post(f"{A}/surveys/{nps['id']}/close",
                              headers=people["clerk1"])).status == 403
    assert (await client.post(f"{A}/surveys/{csat['id']}/close",
                              headers=people["clerk2"])).status == 404
    assert (await client.post(f"{A}/surveys/{nps['id']}/close",
                              headers=people["boss"])).status == 200
    assert (await answer(client, people["alice"], nps["id"], "S1-0", 9)).status == 409
    assert (await client.get(f"{A}/surveys/{csat['id']}/results",
                             headers=people["clerk2"])).status == 404
    assert (await client.get(f"{A}/surveys/{nps['id']}/results?store=s2",
                             headers=people["clerk1"])).status == 403
    # Not a member: nothing to answer.
    from ..test_api import mp_login

    eve, _ = await mp_login(client, "eve-code")
    assert (await client.get(S, headers=eve)).status == 404
