"""Demographics: opt-in fields only, every group shown has at least the minimum of members,
a selection too small to show is refused."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cloud_bridge import auth
from cloud_bridge.analytics.demographics import MIN_GROUP_SIZE, age_band
from cloud_bridge.analytics.models import MemberProfile
from cloud_bridge.analytics.service import STORE_TZ
from cloud_bridge.members.models import MemberRecord
from tests.cloud_bridge.test_api import add_user, client, login

from .test_charts import bar_lengths, decode

__all__ = ["client"]

A = "/api/v1/admin/analytics/demographics"


def born(age: int) -> str:
    """A birthday that makes the member ``age`` today (1 January of that year)."""
    return date(datetime.now(STORE_TZ).date().year - age, 1, 1).isoformat()


def member(i: int) -> MemberRecord:
    """Member ``i`` of the hand case (see ``people``)."""
    if i < 12:
        gender, age = "female", 30
    elif i < 23:
        gender, age = "male", 40
    elif i < 26:
        gender, age = "other", 20
    else:
        gender, age = None, None
    if i < 12:
        region = "上海"
    elif i < 22:
        region = "北京"
    elif i < 26:
        region = "杭州"
    elif i < 29:
        region = "南京"
    else:
        region = "苏州"
    if i >= 30:  # two members who gave their region only
        gender, age = None, None
    return MemberRecord(id=f"M{i:03d}", appid="wxapp", openid=f"o{i}", gender=gender,
                        birthday=born(age) if age else None, region=region)


@pytest.fixture
async def people(db):
    """32 members: 12 women (30), 11 men (40), 3 'other' (20), 6 without gender/birthday;
    regions 上海 12, 北京 10, 杭州 4, 南京 3, 苏州 3. Profiles for M000-M019 (store S1) and
    M026-M031 (store S2): 2 orders and 10 yuan each, LTV 50 yuan, every other one churned."""
    async with db.session() as s:
        s.add_all(member(i) for i in range(32))
        s.add(MemberRecord(id="M999", appid="wxapp", openid="o999"))  # gave nothing
        for i in [*range(20), *range(26, 32)]:
            s.add(MemberProfile(
                member_id=f"M{i:03d}", first_date="2026-01-01", last_date="2026-02-01",
                orders=2, revenue=1000, recency_days=5, r_score=3, f_score=3, m_score=3,
                segment="loyal" if i < 5 else "potential", ltv=5000,
                preferred_category="snacks", preferred_store="S1" if i < 20 else "S2",
                promo_share=0.1, expected_gap_days=7.0, p_alive=0.9, churned=i % 2 == 0))
    for name, role, store in (("boss", auth.HEAD_OFFICE, None),
                              ("clerk1", auth.STORE_STAFF, "S1"),
                              ("clerk2", auth.STORE_STAFF, "S2"), ("fin", auth.FINANCE, None)):
        await add_user(db, name, role, store)


def test_age_bands():
    today = date(2026, 6, 15)
    assert age_band("2008-06-16", today) == "under_18"  # 17 until tomorrow
    assert age_band("2008-06-15", today) == "18-24"
    assert age_band("1991-06-15", today) == "35-44"
    assert age_band("1961-06-16", today) == "55-64"
    assert age_band("1961-06-15", today) == "65+"
    assert age_band(None, today) is None and age_band("1990-02-30", today) is None


async def test_groups_below_the_minimum_are_withheld(client, people):
    boss = await login(client, "boss")
    r = await client.get(f"{A}?by=gender", headers=boss)
    assert r.status == 200, await r.text()
    body = await r.json()
    assert (body["min_group"], body["withheld_groups"]) == (MIN_GROUP_SIZE, 1)
    rows = {row["key"]: row for row in body["rows"]}
    assert set(rows) == {"female", "male"}  # the 3 'other' are not shown, not even as other
    f, m = rows["female"], rows["male"]
    assert (f["members"], f["buyers"], f["orders"], f["revenue"], f["aov"]) == (
        12, 12, 24, 12000, 500)
    assert (f["avg_ltv"], f["churn_rate"], f["share"]) == (5000, 0.5, pytest.approx(12 / 23))
    assert (m["members"], m["buyers"], m["orders"], m["churn_rate"]) == (11, 8, 16, 0.5)
    assert sum(row["share"] for row in body["rows"]) == pytest.approx(1)  # of those shown

    body = await (await client.get(f"{A}?by=region", headers=boss)).json()
    # 杭州 4, 南京 3, 苏州 3: withheld, not folded into an "other" row
    assert [(r["key"], r["members"]) for r in body["rows"]] == [("上海", 12), ("北京", 10)]
    assert body["withheld_groups"] == 3
    body = await (await client.get(f"{A}?by=age_band", headers=boss)).json()
    assert [(r["key"], r["members"]) for r in body["rows"]] == [("25-34", 12), ("35-44", 11)]
    body = await (await client.get(f"{A}?by=gender&min_group=12", headers=boss)).json()
    assert [r["key"] for r in body["rows"]] == ["female"]  # men (11) and 'other' (3) withheld
    assert body["withheld_groups"] == 2
    body = await (await client.get(f"{A}?by=gender&store=S1", headers=boss)).json()
    assert [(r["key"], r["members"]) for r in body["rows"]] == [("female", 12)]  # 8 men: no
    body = await (await client.get(f"{A}?by=gender&segment=loyal", headers=boss)).text()
    assert "fewer than 10 members" in body  # 5 loyal members: refused as a whole


async def test_small_selections_and_wrong_callers_are_refused(client, people):
    boss = await login(client, "boss")
    r = await client.get(f"{A}?by=gender&store=S2", headers=boss)
    assert r.status == 400 and "fewer than 10" in (await r.text())  # S2: 6 members, none gave it
    r = await client.get(f"{A}?by=gender&min_group=3", headers=boss)
    assert r.status == 400  # the minimum cannot be lowered by asking
    assert (await client.get(f"{A}?by=phone", headers=boss)).status == 400
    assert (await client.get(f"{A}", headers=boss)).status == 400
    clerk2 = await login(client, "clerk2")
    r = await client.get(f"{A}?by=region", headers=clerk2)  # their store only: too few
    assert r.status == 400
    assert (await client.get(f"{A}?by=gender&store=S1", headers=clerk2)).status == 403
    clerk1 = await login(client, "clerk1")
    body = await (await client.get(f"{A}?by=gender", headers=clerk1)).json()
    assert body["store"] == "S1" and [r["key"] for r in body["rows"]] == ["female"]
    fin = await login(client, "fin")
    assert (await client.get(f"{A}?by=gender", headers=fin)).status == 403
    assert (await client.get(f"{A}?by=gender")).status == 401


async def test_demographics_chart_is_a_png_of_the_groups_shown(client, people):
    boss = await login(client, "boss")
    r = await client.get(f"{A}/chart.png?by=gender", headers=boss)
    assert r.status == 200 and r.content_type == "image/png"
    bars = bar_lengths(decode(await r.read()))
    assert len(bars) == 2 and bars[0] / bars[1] == pytest.approx(12 / 11, rel=0.03)
    r = await client.get(f"{A}/chart.png?by=gender&store=S2", headers=boss)
    assert r.status == 400
