"""Refunds over HTTP that must not happen twice: Idempotency-Key, double clicks, retries."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from cloud_bridge import auth
from cloud_bridge.ingest import store_events
from cloud_bridge.models import RefundRequest

from ..bridge_helpers import order_event
from .conftest import add_user, login

URL = "/api/v1/admin/orders/{}/refunds"


async def _order(db, seq: int) -> str:
    ev = order_event("s1", "k1", seq, order_no=f"s1-k1-20260301-{seq:04d}")
    await store_events(db, [("s1", "k1", ev.encode())], worker="t", tz="Asia/Shanghai")
    return ev.data["order_no"]


async def _refunds(db) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(RefundRequest)))


async def test_idempotency_key_same_answer_never_a_second_refund(client, db):
    await add_user(db, "clerk", auth.STORE_STAFF, "s1")
    h = await login(client, "clerk")
    no = await _order(db, 1)
    keyed = {**h, "Idempotency-Key": "till-7-click-1"}
    r1 = await client.post(URL.format(no), json={"amount": 100, "reason": "broken"},
                           headers=keyed)
    assert r1.status == 201, await r1.text()
    r2 = await client.post(URL.format(no), json={"amount": 100, "reason": "broken"},
                           headers=keyed)
    assert r2.status == 201 and (await r2.json())["id"] == (await r1.json())["id"]
    assert await _refunds(db) == 1
    r3 = await client.post(URL.format(no), json={"amount": 200, "reason": "broken"},
                           headers=keyed)
    assert r3.status == 409 and "different request" in (await r3.json())["detail"]
    bad = await client.post(URL.format(no), json={"amount": 1, "reason": "x"},
                            headers={**h, "Idempotency-Key": "has space"})
    assert bad.status == 400
    # Racing requests with one key (a retry fired before the first answer): one refund.
    no2 = await _order(db, 2)
    race = [client.post(URL.format(no2), json={"amount": 50, "reason": "r"},
                        headers={**h, "Idempotency-Key": "race-1"}) for _ in range(4)]
    answers = await asyncio.gather(*race)
    assert {a.status for a in answers} <= {201, 409}
    assert len({(await a.json())["id"] for a in answers if a.status == 201}) == 1
    assert await _refunds(db) == 2


async def test_identical_refund_within_a_minute_needs_confirm(client, db):
    await add_user(db, "clerk", auth.STORE_STAFF, "s1")
    h = await login(client, "clerk")
    no = await _order(db, 3)
    body = {"amount": 300, "reason": "damaged"}
    clicks = await asyncio.gather(*(client.post(URL.format(no), json=body, headers=h)
                                    for _ in range(2)))  # a double click
    assert sorted(c.status for c in clicks) == [201, 409]
    refused = next(c for c in clicks if c.status == 409)
    assert "confirm" in (await refused.json())["detail"]
    assert await _refunds(db) == 1
    r = await client.post(URL.format(no), json={**body, "amount": 301}, headers=h)
    assert r.status == 201  # a different amount is a different refund
    r = await client.post(URL.format(no), json={**body, "confirm": True}, headers=h)
    assert r.status == 201  # meant on purpose
    assert await _refunds(db) == 3
