"""Console security over HTTP: CSRF, store scope by URL, session fixation, escaping, timeouts."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from sqlalchemy import func, select, update

from cloud_bridge import auth
from cloud_bridge.console.models import ConsoleAudit, ConsoleSession
from cloud_bridge.console.sessions import hash_id
from cloud_bridge.ingest import store_events
from cloud_bridge.models import Order, OrderLine, RefundRequest, now

from ..bridge_helpers import order_event
from .conftest import add_user, csrf_of, login, page_csrf


async def seed(db) -> None:
    """Orders S1-0..2 in store s1 and S2-0 in s2 (kiosk events through the real ingest)."""
    items = [("s1", "k1", order_event("s1", "k1", i, order_no=f"S1-{i}").encode())
             for i in range(3)]
    await store_events(db, items, worker="t", tz="Asia/Shanghai")
    await store_events(db, [("s2", "k1", order_event("s2", "k1", 0, order_no="S2-0").encode())],
                       worker="t", tz="Asia/Shanghai")


def cookie(client, name: str = "cb_console") -> str | None:
    """The value the console set (path /console/), not one planted for another path."""
    for c in client.session.cookie_jar:
        if c.key == name and c["path"] == "/console/":
            return c.value
    return None


async def refunds(db) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(RefundRequest)))


async def test_login_needs_its_csrf_token_and_the_right_secret(console, db):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    r = await console.post("/console/login", data={"username": "boss", "secret": "secret-boss"})
    assert r.status == 403 and cookie(console) is None
    r = await login(console, "boss", secret="wrong-secret")
    assert r.status == 401 and cookie(console) is None
    assert "用户名或密码错误" in await r.text()
    r = await login(console, "boss")
    assert r.status == 200 and str(r.url).endswith("/console/")
    set_cookie = r.history[0].headers.getall("Set-Cookie")
    session_cookie = next(c for c in set_cookie if c.startswith("cb_console="))
    assert "HttpOnly" in session_cookie and "SameSite=Strict" in session_cookie
    assert "Path=/console/" in session_cookie and "Secure" not in session_cookie  # plain http
    # Behind a TLS-terminating proxy the cookie is Secure.
    page = await console.get("/console/login")
    r = await console.post("/console/login", allow_redirects=False,
                           headers={"X-Forwarded-Proto": "https"},
                           data={"csrf": csrf_of(await page.text()), "username": "boss",
                                 "secret": "secret-boss"})
    assert r.status == 303
    assert any("Secure" in c for c in r.headers.getall("Set-Cookie") if c.startswith("cb_console="))


async def test_session_fixation_impossible_and_logout_ends_the_session(console, db):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    planted = "attacker-chosen-session-id-0123456789"
    console.session.cookie_jar.update_cookies({"cb_console": planted})
    page = await console.get("/console/login")
    token = csrf_of(await page.text())
    r = await console.post("/console/login", data={"csrf": token, "username": "boss",
                                                   "secret": "secret-boss"})
    assert r.status == 200
    issued = cookie(console)
    assert issued and issued != planted
    # The planted id is nobody's session: it gets the login form, not the console.
    async with aiohttp.ClientSession(cookies={"cb_console": planted}) as attacker:
        r = await attacker.get(console.make_url("/console/orders"), allow_redirects=False)
        assert r.status == 303 and "/console/login" in r.headers["Location"]
    # Logging in again rotates the id and the old one dies.
    first = issued
    page = await console.get("/console/login")  # same browser, still holding `first`
    r = await console.post("/console/login", data={"csrf": csrf_of(await page.text()),
                                                   "username": "boss", "secret": "secret-boss"})
    assert r.status == 200 and cookie(console) not in (first, None)
    async with db.session() as s:
        assert await s.get(ConsoleSession, hash_id(first)) is None
        assert await s.get(ConsoleSession, hash_id(cookie(console))) is not None
    # Logout needs the CSRF token, then the session is gone.
    token = await page_csrf(console)
    live = cookie(console)
    r = await console.post("/console/logout", data={"csrf": "nope"})
    assert r.status == 403
    r = await console.post("/console/logout", data={"csrf": token})
    assert r.status == 200 and "/console/login" in str(r.url)
    r = await console.get("/console/", cookies={"cb_console": live}, allow_redirects=False)
    assert r.status == 303
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(ConsoleSession)) == 0


async def test_idle_session_ends(console, db):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    await login(console, "boss")
    assert (await console.get("/console/", allow_redirects=False)).status == 200
    async with db.session() as s:
        await s.execute(update(ConsoleSession).values(last_seen=now() - timedelta(hours=1)))
    r = await console.get("/console/orders", allow_redirects=False)
    assert r.status == 303 and "expired=1" in r.headers["Location"]
    r = await console.get(r.headers["Location"])
    assert "会话已过期" in await r.text()


async def test_csrf_refused_on_every_action(console, db):
    await seed(db)
    await add_user(db, "clerk", auth.STORE_STAFF, "s1")
    await login(console, "clerk")
    token = await page_csrf(console, "/console/orders/S1-0")
    form = {"amount": "1.00", "reason": "damaged"}
    for data, headers in [(form, {}), ({**form, "csrf": "forged"}, {}),
                          ({**form, "csrf": token}, {"Origin": "http://evil.example"})]:
        r = await console.post("/console/orders/S1-0/refund/execute", data=data,
                               headers=headers)
        assert r.status == 403, data
        assert "CSRF" in await r.text()
    assert await refunds(db) == 0
    # The same request with the token goes through.
    r = await console.post("/console/orders/S1-0/refund/execute", data={**form, "csrf": token})
    assert r.status == 200, await r.text()
    assert await refunds(db) == 1


async def test_store_staff_cannot_reach_another_store_by_url(console, db):
    await seed(db)
    await add_user(db, "clerk", auth.STORE_STAFF, "s1")
    await login(console, "clerk")
    token = await page_csrf(console)
    assert (await console.get("/console/orders/S2-0")).status == 404
    assert (await console.get("/console/orders?store=s2")).status == 403
    assert (await console.get("/console/?store=s2")).status == 403
    r = await console.post("/console/orders/S2-0/refund/execute",
                           data={"csrf": token, "amount": "1.00", "reason": "x"})
    assert r.status == 404
    r = await console.post("/console/orders/S2-0/refund",
                           data={"csrf": token, "amount": "1.00", "reason": "x"})
    assert r.status == 404
    assert await refunds(db) == 0
    text = await (await console.get("/console/orders")).text()
    assert "S1-0" in text and "S2-0" not in text


async def test_roles_without_a_page_get_403(console, db):
    await seed(db)
    await add_user(db, "buyer", auth.BUYER)
    await add_user(db, "fin", auth.FINANCE)
    await login(console, "buyer")
    assert (await console.get("/console/orders")).status == 403
    await login(console, "fin")
    assert (await console.get("/console/orders/S2-0")).status == 200
    token = await page_csrf(console)
    r = await console.post("/console/orders/S2-0/refund/execute",
                           data={"csrf": token, "amount": "1.00", "reason": "x"})
    assert r.status == 403 and await refunds(db) == 0


async def test_user_text_is_escaped(console, db):
    await seed(db)
    async with db.session() as s:
        await s.execute(update(OrderLine).values(name_zh="<script>alert(1)</script>",
                                                 name_en="<script>alert(2)</script>"))
        await s.execute(update(Order).where(Order.order_no == "S1-0")
                        .values(details={"tenders": [{"method": "<img src=x onerror=1>",
                                                      "amount": 1200}]}))
    await add_user(db, "boss", auth.HEAD_OFFICE)
    await login(console, "boss")
    r = await console.get("/console/orders/S1-0")
    text = await r.text()
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=x" not in text and "&lt;img src=x onerror=1&gt;" in text
    r = await console.get("/console/orders?q=%3Cscript%3E")
    text = await r.text()
    assert r.status == 200 and 'value="&lt;script&gt;"' in text and "<script>" not in text
    r = await console.get("/console/?date=2026-03-01")
    assert "<img src=x" not in await r.text()
    token = await page_csrf(console, "/console/orders/S1-0")
    r = await console.post("/console/orders/S1-0/refund",
                           data={"csrf": token, "amount": "1", "reason": "<b>bold</b>"})
    assert "<b>bold</b>" not in await r.text() and "&lt;b&gt;bold&lt;/b&gt;" in await r.text()


async def test_refund_is_confirmed_then_executed_and_audited(console, db):
    await seed(db)
    await add_user(db, "clerk", auth.STORE_STAFF, "s1")
    await login(console, "clerk")
    token = await page_csrf(console, "/console/orders/S1-0")
    r = await console.post("/console/orders/S1-0/refund",
                           data={"csrf": token, "amount": "99.00", "reason": "x"})
    assert r.status == 400 and "¥17.00" in await r.text()  # more than the order total
    r = await console.post("/console/orders/S1-0/refund",
                           data={"csrf": token, "amount": "2.5", "reason": "破损"})
    text = await r.text()
    assert r.status == 200 and "¥2.50" in text and "/refund/execute" in text
    assert await refunds(db) == 0  # nothing happens before the confirmation
    r = await console.post("/console/orders/S1-0/refund/execute",
                           data={"csrf": token, "amount": "2.50", "reason": "破损"})
    assert r.status == 200 and "¥2.50" in await r.text()
    async with db.session() as s:
        req = (await s.scalars(select(RefundRequest))).one()
        audit = (await s.scalars(select(ConsoleAudit))).all()
    assert req.amount == 250 and req.requested_by == "admin:clerk"
    assert [(a.action, a.target, a.actor, a.store) for a in audit] == [
        ("refund", "S1-0", "admin:clerk", "s1")]
    assert audit[0].detail["amount"] == 250
