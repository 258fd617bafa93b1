"""Appointments: 100 shoppers book 10 places at once -> exactly 10 bookings, never more;
booking and cancellation rules."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from cloud_bridge import auth
from cloud_bridge.service.models_more import Booking, Slot

from .conftest import A, M

SHOPPERS = 100
PLACES = 10


async def _service(client, people, **rules) -> tuple[int, int]:
    r = await client.post(f"{A}/stores/s1/appointment-services", headers=people["clerk1"],
                          json={"name": "生日蛋糕自提", **rules})
    assert r.status == 201, await r.text()
    svc = (await r.json())["id"]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    r = await client.post(f"{A}/appointment-services/{svc}/slots", headers=people["clerk1"],
                          json={"slots": [{"starts_at": start.isoformat(),
                                           "ends_at": (start + timedelta(hours=1)).isoformat(),
                                           "capacity": PLACES}]})
    assert r.status == 201, await r.text()
    return svc, (await r.json())["slots"][0]["id"]


async def test_hundred_concurrent_bookings_for_ten_places(client, people, db):
    svc, slot = await _service(client, people)
    tokens = []
    async with db.session() as s:
        for i in range(SHOPPERS):
            token, _ = await auth.mp_login(s, f"o-shopper-{i:03d}", 3600)
            tokens.append({"Authorization": f"Bearer {token}"})

    async def one(headers):
        r = await client.post(f"{M}/appointments", json={"slot_id": slot}, headers=headers)
        return r.status, await r.json()

    results = await asyncio.gather(*(one(h) for h in tokens))
    statuses = sorted(s for s, _ in results)
    assert statuses.count(201) == PLACES, statuses
    assert statuses.count(409) == SHOPPERS - PLACES, statuses
    assert all("full" in body["detail"] for s, body in results if s == 409)
    async with db.session() as s:
        assert (await s.get(Slot, slot)).booked == PLACES
        assert await s.scalar(select(func.count()).select_from(Booking).where(
            Booking.status == "booked")) == PLACES
    r = await client.get(f"{A}/appointment-services/{svc}/bookings", headers=people["clerk1"])
    assert len((await r.json())["items"]) == PLACES
    # One cancels: a place is free again, and exactly one more shopper gets it.
    winner = next(h for h, (s, _) in zip(tokens, results, strict=True) if s == 201)
    mine = (await (await client.get(f"{M}/appointments", headers=winner)).json())["items"]
    r = await client.post(f"{M}/appointments/{mine[0]['id']}/cancel", headers=winner)
    assert r.status == 200 and (await r.json())["slot"]["free"] == 1
    losers = [h for h, (s, _) in zip(tokens, results, strict=True) if s == 409][:5]
    again = await asyncio.gather(*(one(h) for h in losers))
    assert sorted(s for s, _ in again) == [201, 409, 409, 409, 409]


async def test_booking_and_cancellation_rules(client, people):
    svc, slot = await _service(client, people, cancel_before_min=24 * 60 + 30,
                               max_active_per_member=1)
    me = people["alice"]
    r = await client.post(f"{M}/appointments", json={"slot_id": slot}, headers=me)
    assert r.status == 201
    booking = (await r.json())["id"]
    r = await client.post(f"{M}/appointments", json={"slot_id": slot}, headers=me)
    assert r.status == 409  # once per slot
    r = await client.post(f"{M}/appointments/{booking}/cancel", headers=people["bob"])
    assert r.status == 404  # not bob's
    r = await client.post(f"{M}/appointments/{booking}/cancel", headers=me)
    assert r.status == 409 and "cancelled up to" in (await r.json())["detail"]  # too late
    r = await client.post(f"{M}/appointments", json={"slot_id": 10**9}, headers=me)
    assert r.status == 404
    r = await client.get(f"{M}/stores/s1/appointment-services", headers=people["bob"])
    items = (await r.json())["items"]
    assert items[0]["slots"][0]["free"] == PLACES - 1
    r = await client.post(f"{A}/appointment-services/{svc}/slots", headers=people["clerk2"],
                          json={"slots": [{"starts_at": "2030-01-01T10:00:00+08:00",
                                           "ends_at": "2030-01-01T11:00:00+08:00",
                                           "capacity": 1}]})
    assert r.status == 404  # another store's staff
