"""The analytics HTTP API as the console and the mini-program meet it."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from cloud_bridge import auth
from cloud_bridge.analytics.generator import ChainSpec, generate
from cloud_bridge.analytics.jobs import run_nightly
from cloud_bridge.analytics.seed import write_chain
from tests.cloud_bridge.test_api import add_user, client, login, mp_login

__all__ = ["client"]

A = "/api/v1/admin/analytics"


@pytest.fixture(scope="module")
def tiny_year():
    """A 35-day, 2-store chain of ~1,200 lines: enough for every table, quick to write."""
    return generate(35, ChainSpec(stores=2, products=25, members=60, days=35, lines=1200,
                                  start=date(2026, 1, 5)))


@pytest.fixture
async def chain(db, tiny_year):
    """The tiny chain in the database, one nightly run done, and users of every role."""
    await write_chain(db, tiny_year)
    as_of = tiny_year.spec.start + timedelta(days=tiny_year.spec.days - 1)
    await run_nightly(db, as_of=as_of)
    await add_user(db, "boss", auth.HEAD_OFFICE)
    await add_user(db, "clerk1", auth.STORE_STAFF, "S1")
    await add_user(db, "fin", auth.FINANCE)
    await add_user(db, "buyer", auth.BUYER)
    return as_of


def period(as_of, days=14) -> str:
    return f"start={as_of - timedelta(days=days - 1)}&end={as_of}"


async def test_metrics_json_csv_xlsx_chart_agree(client, chain):
    boss = await login(client, "boss")
    q = period(chain)
    r = await client.get(f"{A}/metrics/sales_by_store?{q}", headers=boss)
    assert r.status == 200, await r.text()
    body = await r.json()
    assert {row["key"] for row in body["rows"]} == {"S1", "S2"}
    total = sum(row["revenue"] for row in body["rows"])
    csv = await (await client.get(f"{A}/metrics/sales_by_store/csv?{q}", headers=boss)).read()
    lines = csv.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("key,revenue") and len(lines) == 3
    assert sum(int(x.split(",")[1]) for x in lines[1:]) == total
    r = await client.get(f"{A}/metrics/sales_by_store/xlsx?{q}", headers=boss)
    wb = load_workbook(io.BytesIO(await r.read()))
    ws = wb["sales_by_store"]
    assert sum(row[1] for row in ws.iter_rows(min_row=2, values_only=True)) == total
    r = await client.get(f"{A}/metrics/sales_by_store/chart?{q}", headers=boss)
    svg = await r.text()
    assert r.content_type == "image/svg+xml" and svg.startswith("<svg") and "S1" in svg
    for metric in ("sales_by_product", "sales_by_category", "sales_by_day", "sales_by_hour",
                   "average_order_value", "payment_mix", "repurchase_rate",
                   "retention_cohorts", "conversion_funnel"):
        r = await client.get(f"{A}/metrics/{metric}?{q}&by=store", headers=boss)
        assert r.status == 200, (metric, await r.text())
        r = await client.get(f"{A}/metrics/{metric}/chart?{q}", headers=boss)
        assert r.status == 200, (metric, await r.text())


async def test_store_staff_see_their_store_and_roles_are_enforced(client, chain):
    clerk = await login(client, "clerk1")
    q = period(chain)
    body = await (await client.get(f"{A}/metrics/sales_by_store?{q}", headers=clerk)).json()
    assert [row["key"] for row in body["rows"]] == ["S1"] and body["store"] == "S1"
    r = await client.get(f"{A}/metrics/sales_by_store?{q}&store=S2", headers=clerk)
    assert r.status == 403
    members = await (await client.get(f"{A}/members?limit=1000", headers=clerk)).json()
    assert members["rows"] and {m["preferred_store"] for m in members["rows"]} == {"S1"}
    assert (await client.get(f"{A}/win-back", headers=clerk)).status == 403
    assert (await client.post(f"{A}/runs", json={}, headers=clerk)).status == 403
    fin = await login(client, "fin")
    assert (await client.get(f"{A}/metrics/payment_mix?{q}", headers=fin)).status == 200
    assert (await client.get(f"{A}/members", headers=fin)).status == 403
    buyer = await login(client, "buyer")
    assert (await client.get(f"{A}/metrics/payment_mix?{q}", headers=buyer)).status == 403
    r = await client.get(f"{A}/forecasts?store=S2&days=3", headers=buyer)
    assert r.status == 200 and {row["store"] for row in (await r.json())["rows"]} == {"S2"}


@pytest.mark.parametrize("query,status", [
    ("start=2026-02-30&end=2026-03-01", 400), ("start=2026-03-02&end=2026-03-01", 400),
    ("start=2020-01-01&end=2026-03-01", 400), ("by=weekday", 400),
])
async def test_bad_filters_are_400(client, db, query, status):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    boss = await login(client, "boss")
    r = await client.get(f"{A}/metrics/sales_by_day?{query}", headers=boss)
    assert r.status == status and r.content_type == "application/problem+json"
    assert (await client.get(f"{A}/metrics/nonsense", headers=boss)).status == 404


async def test_mini_program_events_dedupe_mask_phones_and_feed_keywords(client, chain):
    headers, openid = await mp_login(client, "shopper")
    today = datetime.now(UTC)
    events = [{"event_id": f"e{i}", "type": "search", "at": today.isoformat(),
               "keyword": kw, "result_count": n, "channel": "search"}
              for i, (kw, n) in enumerate([("进口牛奶", 5), ("牛奶 1L", 3), ("有机牛奶", 0),
                                           ("有机牛奶", 0), ("电话13812345678牛奶", 1)])]
    events.append({"event_id": "e9", "type": "share", "at": today.isoformat(),
                   "sharer": openid, "page": "/pages/item?id=P1", "newer_field": 1})
    r = await client.post("/api/v1/mp/analytics/events", json={"v": 1, "events": events},
                          headers=headers)
    assert r.status == 200, await r.text()
    assert await r.json() == {"stored": 6, "duplicates": 0}
    r = await client.post("/api/v1/mp/analytics/events", json={"v": 1, "events": events[:2]},
                          headers=headers)
    assert await r.json() == {"stored": 0, "duplicates": 2}
    bad = {"v": 1, "events": [{**events[0], "event_id": "x", "at": "2026-01-01T00:00:00"}]}
    assert (await client.post("/api/v1/mp/analytics/events", json=bad,
                              headers=headers)).status == 400  # no time zone
    boss = await login(client, "boss")
    day = today.astimezone(auth_tz()).date()
    report = await (await client.get(f"{A}/keywords?start={day}&end={day}",
                                     headers=boss)).json()
    top = {row["term"]: row["searches"] for row in report["top"]["rows"]}
    assert top["牛奶"] == 5 and "13812345678" not in str(report)
    assert report["zero_result"]["rows"][0] == {"keyword": "有机牛奶", "searches": 2}


def auth_tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


async def test_competitor_price_index(client, chain, tiny_year):
    boss = await login(client, "boss")
    p = tiny_year.products.sort("product_id").head(3).to_dicts()
    csv = "barcode,price,observed_on\n" + "\n".join(
        f"{x['barcode']},{x['list_price'] / 100 * f:.2f},2026-02-01"
        for x, f in zip(p, (2, 1, 0.5), strict=True))
    r = await client.post(f"{A}/competitors/rival/prices", data=csv.encode(), headers={
        **boss, "Content-Type": "text/csv"})
    assert r.status == 201, await r.text()
    assert (await r.json())["rows"] == 3
    body = await (await client.get(f"{A}/competitors/price-index", headers=boss)).json()
    above = body["above_market"]["rows"]
    assert [a["product_id"] for a in above] == [p[2]["product_id"]]  # we are 2x the rival
    assert above[0]["above_by"] == pytest.approx(1.0, abs=0.01)
    assert sum(c["matched"] for c in body["categories"]["rows"]) == 3
    r = await client.post(f"{A}/competitors/rival/prices", data=b"barcode,price\nabc,1",
                          headers={**boss, "Content-Type": "text/csv"})
    assert r.status == 400 and "line 2" in (await r.json())["detail"]


async def test_on_demand_run_reports_progress_until_done(client, chain):
    boss = await login(client, "boss")
    r = await client.post(f"{A}/runs", json={"as_of": chain.isoformat()}, headers=boss)
    assert r.status == 202, await r.text()
    run = await r.json()
    assert run["status"] == "running" and run["trigger"] == "on_demand"
    second = await client.post(f"{A}/runs", json={}, headers=boss)
    assert second.status == 409
    for _ in range(600):
        run = await (await client.get(f"{A}/runs/{run['id']}", headers=boss)).json()
        if run["status"] != "running":
            break
        await asyncio.sleep(0.05)
    assert run["status"] == "done" and run["progress"] == 1.0
    assert run["detail"]["rows"]["sales_daily"] > 0
    runs = await (await client.get(f"{A}/runs", headers=boss)).json()
    assert runs["runs"][0]["id"] == run["id"]
    r = await client.post(f"{A}/campaign-effect", headers=boss, json={
        "start": (chain - timedelta(days=6)).isoformat(), "end": chain.isoformat(),
        "stores": ["S1"], "control_stores": ["S2"]})
    assert r.status == 200 and (await r.json())["rows"][0]["revenue"] > 0


async def test_png_charts_show_the_metric_and_refuse_what_they_must(client, chain):
    from cloud_bridge.analytics import service

    from .test_charts import bar_lengths, decode

    boss = await login(client, "boss")
    q = period(chain)
    table = await (await client.get(f"{A}/metrics/sales_by_store?{q}", headers=boss)).json()
    r = await client.get(f"{A}/metrics/sales_by_store/chart.png?{q}", headers=boss)
    assert r.status == 200 and r.content_type == "image/png"
    bars = bar_lengths(decode(await r.read()))
    (top, second) = (row["revenue"] for row in table["rows"])  # sorted by revenue
    assert len(bars) == 2 and bars[0] / bars[1] == pytest.approx(top / second, rel=0.03)
    for metric in service.METRICS:  # every metric has its picture
        r = await client.get(f"{A}/metrics/{metric}/chart.png?{q}", headers=boss)
        assert r.status == 200, (metric, await r.text())
        assert decode(await r.read()).size[1] > 100
    clerk = await login(client, "clerk1")
    r = await client.get(f"{A}/metrics/sales_by_store/chart.png?{q}&store=S2", headers=clerk)
    assert r.status == 403
    r = await client.get(f"{A}/metrics/sales_by_store/chart.png?{q}", headers=clerk)
    assert len(bar_lengths(decode(await r.read()))) == 1  # their own store only
    assert (await client.get(f"{A}/metrics/no_such/chart.png?{q}", headers=boss)).status == 404
    r = await client.get(f"{A}/metrics/sales_by_store/chart.png?start=2026-02-02&end=2026-02-01",
                         headers=boss)
    assert r.status == 400
    assert (await client.get(f"{A}/metrics/sales_by_store/chart.png?{q}")).status == 401
    buyer = await login(client, "buyer")
    r = await client.get(f"{A}/metrics/sales_by_store/chart.png?{q}", headers=buyer)
    assert r.status == 403
