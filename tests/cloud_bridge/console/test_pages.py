"""Every console page answers each role as its declaration says, shows the database's
figures, and the actions work over HTTP (exports, alerts, users, live fleet, price books)."""

from __future__ import annotations

import asyncio
import io
import json
import re

import pytest
from sqlalchemy import func, select

from cloud_bridge import auth, catalog
from cloud_bridge.console.models import ConsoleAudit, ConsoleSession
from cloud_bridge.console.pages import registry
from cloud_bridge.models import AdminUser, Alert, Order

from .conftest import login, page_csrf
from .seed import BOOK, seed

DETAIL = {"orders/{order_no}": "orders/S1-0", "fleet/{store}/{kiosk}": "fleet/s1/k1"}
# Text that is a label key (``dash.orders``) means a label missing from i18n.
RAW_KEY = re.compile(r">\s*(?:[a-z]+\.)+[a-z_]+\s*<")


def get_pages():
    return [p for p in registry().pages if p.method == "GET" and p.domain == "console"
            and "events" not in p.path and "jobs" not in p.path]


@pytest.mark.parametrize("username", ["boss", "clerk", "fin", "buyer"])
async def test_every_page_for_every_role(console, db, db_url, username):
    if username != "boss" and db_url.startswith("postgresql"):
        pytest.skip("the same queries as boss's walk on PostgreSQL; roles are checked on SQLite")
    await seed(db)
    await login(console, username)
    async with db.session() as s:
        role = (await s.scalars(select(AdminUser.role).where(
            AdminUser.username == username))).one()
    # Both languages for the role that sees every page; the others' pages are the same
    # templates, so one language checks what they may see (and keeps the file fast).
    for lang in ("zh", "en") if username == "boss" else ("en",):
        token = await page_csrf(console)
        r = await console.post("/console/lang", data={"csrf": token, "lang": lang,
                                                      "next": "/console/"})
        assert r.status == 200
        for page in get_pages():
            path = "/console/" + DETAIL.get(page.path, page.path)
            r = await console.get(path)
            text = await r.text()
            expected = 200 if role in page.roles else 403
            assert r.status == expected, (path, username, text[:300])
            assert not RAW_KEY.search(text), (path, RAW_KEY.search(text).group(0))
            if r.status == 200:
                assert f'lang="{"zh-CN" if lang == "zh" else "en"}"' in text
                assert page.title(lang) in text
                nav = re.findall(r'<nav class="side".*?</nav>', text, re.S)[0]
                for other in get_pages():
                    listed = f'href="/console/{other.path}"' in nav
                    assert listed == (other.nav and role in other.roles), (other.path, username)


async def test_pages_show_the_database(console, db):
    await seed(db)
    await login(console, "boss")
    text = await (await console.get("/console/?date=2026-03-01")).text()
    # 4 orders, 3 x ¥17.00 in s1 + ¥17.00 in s2 (bridge_helpers' default lines)
    assert re.search(r'id="kpi-orders">4<', text)
    assert 'id="kpi-revenue">¥68.00<' in text and 'id="kpi-kiosks">2 / 3<' in text
    assert "微信支付" in text and "100.0%" in text  # every tender was WeChat Pay
    # s1 orders at 12:00, 13:00, 14:00 Shanghai time, s2's at 12:00: bars by hour
    assert "12: ¥34.00" in text and "13: ¥17.00" in text and "14: ¥17.00" in text
    assert "11: ¥0.00" in text
    text = await (await console.get("/console/orders?store=s1&sort=oldest")).text()
    assert text.index("S1-0") < text.index("S1-2") and "S2-0" not in text
    assert "2026-03-01 12:00" in text  # created_at 04:00 UTC in Asia/Shanghai
    text = await (await console.get("/console/orders?sort=newest&size=20&q=S1-1")).text()
    assert "S1-1" in text and "S1-0" not in text
    text = await (await console.get("/console/fleet")).text()
    assert text.count('data-key="s1/') == 2 and "s2/k1" in text and "1.4.2" in text
    # queued 3, oldest unsent 42 s at the telemetry, older by now (the bridge ages it)
    assert re.search(r'data-cell="queue">3<', text)
    assert re.search(r'data-cell="oldest">(4\d|5\d)秒<', text)
    text = await (await console.get("/console/payments?date=2026-03-01")).text()
    assert "T0" in text and "T2" in text and "¥12.00" in text
    text = await (await console.get("/console/catalog")).text()
    assert "v1" in text and "admin:boss" in text
    async with db.session() as s:
        oversold = (await s.scalars(select(Alert).where(Alert.kind == "oversell"))).all()
    text = await (await console.get("/console/stock")).text()
    assert len(oversold) > 0 and text.count("/resolve") == len(oversold)


async def test_store_time_zone_from_config(db, db_url):
    from aiohttp.test_utils import TestClient, TestServer

    from ..test_api import api_config
    from .conftest import console_app

    await seed(db)
    cfg = api_config(db_url)
    cfg.console.store_timezones = {"s1": "Asia/Urumqi"}  # UTC+6
    async with TestClient(TestServer(console_app(cfg, db))) as client:
        await login(client, "boss")
        text = await (await client.get("/console/orders?store=s1&sort=oldest")).text()
    # 04:00, 05:00, 06:00 UTC: 10-12 o'clock in Urumqi (12-14 in Shanghai)
    assert [f"2026-03-01 {h}:00" in text for h in (10, 11, 12, 13, 14)] == [
        True, True, True, False, False]


async def _finish(console, location: str) -> str:
    for _ in range(200):
        r = await console.get(location, headers={"Accept": "application/json"})
        job = await r.json()
        if job["status"] != "running":
            assert job["status"] == "done", job
            return await (await console.get(location)).text()
        await asyncio.sleep(0.05)
    raise AssertionError("export did not finish")


async def test_exports_csv_and_xlsx_hold_the_filtered_orders(console, db):
    from openpyxl import load_workbook

    await seed(db)
    await login(console, "clerk")
    token = await page_csrf(console, "/console/orders")
    for fmt in ("csv", "xlsx"):
        r = await console.post("/console/orders/export", allow_redirects=False,
                               data={"csrf": token, "format": fmt, "sort": "oldest"})
        assert r.status == 303
        page = await _finish(console, r.headers["Location"])
        link = re.search(r'href="(/console/jobs/\d+/file)"', page).group(1)
        body = await (await console.get(link)).read()
        if fmt == "csv":
            lines = body.decode("utf-8-sig").strip().splitlines()
            assert lines[0].startswith("订单号,门店")
            assert [ln.split(",")[0] for ln in lines[1:]] == ["S1-0", "S1-1", "S1-2"]
            assert lines[1].split(",")[6] == "17.00"
        else:
            ws = load_workbook(io.BytesIO(body)).active
            rows = list(ws.iter_rows(values_only=True))
            assert [r[0] for r in rows[1:]] == ["S1-0", "S1-1", "S1-2"]
            assert float(rows[1][6]) == 17.0
    # Another user cannot fetch the job or its file.
    await login(console, "clerk2")
    assert (await console.get(link)).status == 404


async def test_alert_resolve_and_users_are_audited(console, db):
    await seed(db)
    await login(console, "boss")
    token = await page_csrf(console)
    async with db.session() as s:
        alert = (await s.scalars(select(Alert).limit(1))).one()
    r = await console.post(f"/console/stock/alerts/{alert.id}/resolve", data={"csrf": token})
    assert r.status == 200
    r = await console.post("/console/users/add", data={
        "csrf": token, "username": "newclerk", "role": "store_staff", "store": "s1",
        "secret": "long-enough-secret"})
    assert r.status == 200 and "newclerk" in await r.text()
    r = await console.post("/console/users/add", data={
        "csrf": token, "username": "nostore", "role": "store_staff", "secret": "long-enough"})
    assert r.status == 400
    async with db.session() as s:
        clerk = (await s.scalars(select(AdminUser).where(AdminUser.username == "clerk"))).one()
    await login(console, "clerk")
    await login(console, "boss")
    token = await page_csrf(console)
    r = await console.post(f"/console/users/{clerk.id}/toggle", data={"csrf": token})
    assert r.status == 200
    async with db.session() as s:
        assert (await s.get(AdminUser, clerk.id)).disabled
        assert await s.scalar(select(func.count()).select_from(ConsoleSession).where(
            ConsoleSession.admin_id == clerk.id)) == 0
        assert (await s.get(Alert, alert.id)).resolved
        audit = [(a.action, a.target, a.outcome) for a in
                 (await s.scalars(select(ConsoleAudit).order_by(ConsoleAudit.id))).all()]
    assert audit == [("alert.resolve", f"alert {alert.id}", "ok"),
                     ("user.add", "newclerk", "ok"), ("user.add", "nostore", "refused"),
                     ("user.disable", "clerk", "ok")]
    r = await login(console, "clerk")
    assert r.status == 401
    await login(console, "boss")
    text = await (await console.get("/console/audit")).text()
    assert "user.disable" in text
    await login(console, "clerk2")
    assert "user.disable" not in await (await console.get("/console/audit")).text()


async def test_fleet_live_stream_sends_the_rows_and_changes(console, db):
    await seed(db)
    await login(console, "clerk")
    async with console.get("/console/fleet/events",
                           headers={"Accept": "text/event-stream"}) as r:
        assert r.status == 200 and r.content_type == "text/event-stream"
        first = await _event(r)
        assert {row["key"] for row in first} == {"s1/k1", "s1/k2"}  # not s2
        async with db.session() as s:
            from cloud_bridge import fleet
            from contract.wire.presence import KioskStatus

            await fleet.apply_status(s, "s1", "k2", KioskStatus(state="online",
                                                                ts=_now(), version="1.5.0"))
        second = await _event(r)
        k2 = next(row for row in second if row["key"] == "s1/k2")
        assert k2["state"] == "online" and k2["cells"]["version"] == "1.5.0"


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def _event(resp) -> list:
    data = None
    while True:
        line = (await asyncio.wait_for(resp.content.readline(), 10)).decode().strip()
        if line.startswith("data:"):
            data = json.loads(line[5:])
        elif not line and data is not None:
            return data


async def test_price_book_publish_with_confirmation(console, db):
    await seed(db)
    await login(console, "boss")
    token = await page_csrf(console, "/console/catalog")
    book = dict(BOOK, version="v2")
    from aiohttp import FormData

    form = FormData()
    form.add_field("csrf", token)
    form.add_field("store", "s1")
    form.add_field("book", json.dumps(book).encode(), filename="book.json",
                   content_type="application/json")
    r = await console.post("/console/catalog/publish", data=form)
    text = await r.text()
    assert r.status == 200 and "v2" in text and "catalog/publish/execute" in text
    async with db.session() as s:
        assert (await catalog.current_info(s, "s1")).version == "v1"  # not before confirming
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', text))
    r = await console.post("/console/catalog/publish/execute", data=fields)
    text = await r.text()
    assert r.status == 200 and 'id="published"' in text
    async with db.session() as s:
        assert (await catalog.current_info(s, "s1")).version == "v2"
        audit = (await s.scalars(select(ConsoleAudit))).one()
    assert (audit.action, audit.target, audit.detail["version"]) == ("catalog.publish", "s1", "v2")
    # A bad book is refused with the field named; store staff cannot publish.
    bad = FormData()
    bad.add_field("csrf", token)
    bad.add_field("store", "s1")
    bad.add_field("book", b'{"version": "v3", "products": [{"product_id": "x"}]}',
                  filename="bad.json")
    r = await console.post("/console/catalog/publish", data=bad)
    assert r.status == 422
    await login(console, "clerk")
    token = await page_csrf(console, "/console/catalog")
    r = await console.post("/console/catalog/publish/execute", data={**fields, "csrf": token})
    assert r.status == 403


async def test_command_without_broker_is_refused_and_audited(console, db):
    await seed(db)
    await login(console, "clerk")
    token = await page_csrf(console, "/console/fleet/s1/k1")
    r = await console.post("/console/fleet/s1/k1/command",
                           data={"csrf": token, "name": "ping", "args": "{}"})
    assert r.status == 200 and "ping" in await r.text()
    r = await console.post("/console/fleet/s1/k1/command/send",
                           data={"csrf": token, "name": "ping", "args": "{}"})
    assert r.status == 503
    r = await console.post("/console/fleet/s2/k1/command/send",
                           data={"csrf": token, "name": "ping", "args": "{}"})
    assert r.status == 403
    r = await console.post("/console/fleet/s1/k1/command",
                           data={"csrf": token, "name": "format_disk", "args": "{}"})
    assert r.status == 400
    async with db.session() as s:
        rows = (await s.scalars(select(ConsoleAudit))).all()
    assert [(a.action, a.outcome) for a in rows] == [("kiosk.command", "failed")]
    assert (await console.get("/console/fleet/s2/k1")).status == 403
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Order)) == 4
    assert auth.STORE_STAFF


async def test_stock_cover_from_the_last_four_weeks_of_sales(console, db):
    from cloud_bridge import inventory
    from cloud_bridge.models import OrderLine

    from .seed import seed_today

    await seed(db)
    await seed_today(db)  # today's sales of p-milk and p-bread in s1 and s2
    async with db.session() as s:
        await inventory.set_on_hand(s, "s1", "p-milk", 100)
        await inventory.set_on_hand(s, "s1", "p-bread", 0)
        sold = await s.scalar(select(func.sum(OrderLine.qty)).join(
            Order, Order.id == OrderLine.order_id).where(
            Order.store == "s1", Order.order_no.like("S1-T%"),
            OrderLine.product_id == "p-milk"))
    await login(console, "clerk")
    text = await (await console.get("/console/stock")).text()
    tenths = 100 * 28 * 10 // sold
    # bread sells and has none: it runs out first (0.0 days), then milk at today's rate
    chart = text.split("<figcaption>可售天数")[1].split("</figure>")[0]
    assert chart.index(">p-bread<") < chart.index(">p-milk<")
    assert ">0.0 天<" in chart and f">{tenths // 10}.{tenths % 10} 天<" in chart
    assert "p-eggs" not in chart  # counted stock but no sales: no cover to show


async def test_fleet_samples_one_row_per_period_and_charts_over_the_day(console, db):
    from datetime import UTC, datetime, timedelta

    from cloud_bridge import fleet
    from cloud_bridge.console.models import FleetSample
    from cloud_bridge.console.runtime import period_start, sample_fleet
    from contract.wire.presence import KioskStatus, Telemetry

    await seed(db)
    now = datetime.now(UTC)
    # the start of a period, so that one second later is still the same period
    two_hours_ago = period_start(now - timedelta(hours=2), 60)
    assert await sample_fleet(db, 60, two_hours_ago) == 2  # stores s1 and s2
    assert await sample_fleet(db, 60, two_hours_ago + timedelta(seconds=1)) == 2  # same period
    async with db.session() as s:
        await fleet.apply_status(s, "s1", "k1", KioskStatus(state="offline", ts=now))
        await fleet.apply_telemetry(s, "s1", "k2", Telemetry(
            ts=now, queue_depth=9, oldest_unsent_s=600.0, dead_letters=0, printer="ok",
            paper="ok", camera="ok", offline_health="ok"))
    await sample_fleet(db, 60, now)
    async with db.session() as s:
        rows = (await s.scalars(select(FleetSample).where(FleetSample.store == "s1")
                                .order_by(FleetSample.at))).all()
    assert [(r.online, r.total, r.queue_depth) for r in rows] == [(1, 2, 3), (1, 2, 12)]  # k1 went offline, k2 came online with 9 queued
    assert rows[0].oldest_unsent_s >= 42 and rows[1].oldest_unsent_s >= 600
    await login(console, "clerk")
    text = await (await console.get("/console/fleet")).text()
    assert "近 24 小时在线收银机" in text
    hour = lambda at: at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))  # noqa: E731
    assert f"{hour(now):%H}: 10分" in text  # the longest unsent age in this hour
    assert f"{hour(two_hours_ago):%H}: 1<" in text  # one kiosk online then
