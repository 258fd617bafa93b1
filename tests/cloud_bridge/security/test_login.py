"""Admin login under attack, over HTTP: floods, guessing, lockout, logout, disabled users."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from cloud_bridge import auth
from cloud_bridge.security.models import AuditLine
from cloud_bridge.security.runtime import GUARD_KEY
from cloud_bridge.security.service import LoginLimits

from .conftest import add_user, login

SESSION = "/api/v1/admin/session"
# A write on the money path must never wait on logins; on the old code 60 bad
# logins pushed it to seconds. The bound is generous so a busy CI box never flakes.
WRITE_BOUND_S = 2.0


@pytest.mark.real_argon2  # the flood's cost is the production hash's
async def test_login_flood_does_not_stall_writes_and_never_500s(client, db):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    boss = await login(client, "boss")
    # Let every attempt reach argon2 (no source throttle, no lockout): the flood is the
    # worst case for the database, bounded only by the hash pool's queue.
    client.app[GUARD_KEY].apply(LoginLimits(max_failures=10**3, source_burst=10**4,
                                            user_burst=10**4))

    async def bad_login(i: int):
        r = await client.post(SESSION, json={"username": "boss" if i % 2 else f"u{i}",
                                             "secret": f"wrong-{i}"})
        return r.status, r.headers.get("Retry-After")

    flood = [asyncio.create_task(bad_login(i)) for i in range(80)]
    await asyncio.sleep(0.05)  # the flood is in flight
    took = []
    for n in range(5):
        started = time.perf_counter()
        r = await client.put("/api/v1/admin/stock/s1/p-milk", json={"on_hand": 10 + n},
                             headers=boss)
        took.append(time.perf_counter() - started)
        assert r.status == 200, await r.text()
    answers = await asyncio.gather(*flood)
    statuses = {status for status, _ in answers}
    assert statuses <= {401, 429}, answers
    assert 401 in statuses  # the flood really reached argon2
    assert all(after and int(after) >= 1 for status, after in answers if status == 429)
    # The median: one scheduling hiccup of a shared CI box is not the flood's doing.
    median = sorted(took)[len(took) // 2]
    assert median < WRITE_BOUND_S, f"writes took {took} s during the login flood"


async def test_lockout_refuses_the_right_secret_until_it_ends(client, db):
    secret = await add_user(db, "clerk", auth.STORE_STAFF, "s1")
    # 3 s: the right secret right after the third failure must still find the lockout on
    # a loaded machine (at 1 s one login request was nearly all the margin).
    client.app[GUARD_KEY].apply(LoginLimits(max_failures=3, lockout_s=3, user_burst=100))
    for i in range(3):
        r = await client.post(SESSION, json={"username": "clerk", "secret": f"guess-{i}x"})
        assert r.status == 401
    r = await client.post(SESSION, json={"username": "clerk", "secret": secret})
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
    assert (await r.json())["title"] == "Too many requests"
    async with db.read() as s:
        lines = list(await s.scalars(select(AuditLine).where(AuditLine.action == "login.lockout")))
    assert [(a.subject, a.source) for a in lines] == [("clerk", "127.0.0.1")]
    deadline = time.monotonic() + 30
    while True:  # the lockout ends by itself
        r = await client.post(SESSION, json={"username": "clerk", "secret": secret})
        if r.status == 200 or time.monotonic() > deadline:
            break
        assert r.status == 429
        await asyncio.sleep(0.25)
    assert r.status == 200


async def test_one_source_is_throttled_with_retry_after(client, db):
    client.app[GUARD_KEY].apply(LoginLimits(source_burst=5, source_per_min=1))
    statuses = []
    for i in range(8):  # different usernames: only the source ties them together
        r = await client.post(SESSION, json={"username": f"name{i}", "secret": "wrong-one"})
        statuses.append(r.status)
        if r.status == 429:
            assert int(r.headers["Retry-After"]) >= 1
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}


async def test_logout_disable_enable_and_purge(client, db):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    await add_user(db, "clerk", auth.STORE_STAFF, "s1")
    boss, clerk = await login(client, "boss"), await login(client, "clerk")

    # Store staff cannot disable anybody.
    r = await client.post("/api/v1/admin/users/boss/disable", headers=clerk)
    assert r.status == 403
    # Logout ends the token at once.
    second = await login(client, "clerk")
    assert (await client.delete(SESSION, headers=second)).status == 204
    assert (await client.get("/api/v1/admin/me", headers=second)).status == 401
    assert (await client.get("/api/v1/admin/me", headers=clerk)).status == 200

    # Head office disables the clerk: every session ends, the login is refused.
    r = await client.post("/api/v1/admin/users/clerk/disable", headers=boss)
    assert r.status == 200 and (await r.json())["disabled"] is True
    assert (await client.get("/api/v1/admin/me", headers=clerk)).status == 401
    r = await client.post(SESSION, json={"username": "clerk", "secret": "secret-clerk"})
    assert r.status == 401
    assert (await client.post("/api/v1/admin/users/boss/disable", headers=boss)).status == 409
    assert (await client.post("/api/v1/admin/users/ghost/disable", headers=boss)).status == 404
    r = await client.post("/api/v1/admin/users/clerk/enable", headers=boss)
    assert r.status == 200 and (await r.json())["disabled"] is False
    await login(client, "clerk")

    audit = await (await client.get("/api/v1/admin/security/audit", headers=boss)).json()
    actions = [(a["action"], a["subject"]) for a in audit["items"]]
    assert ("user.disable", "clerk") in actions and ("user.enable", "clerk") in actions
    assert ("logout", "admin:clerk") in actions

    # Expired sessions are purged (made expired by shortening one in the database).
    from sqlalchemy import update

    from cloud_bridge.models import ApiSession, now

    async with db.session() as s:
        await s.execute(update(ApiSession).values(expires_at=now()))
    boss = await login(client, "boss")
    r = await client.post("/api/v1/admin/security/purge", headers=boss)
    assert r.status == 200 and (await r.json())["deleted"]["api_sessions"] >= 2
