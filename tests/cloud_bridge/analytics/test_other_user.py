"""The mini-program analytics route, called by another user: it can never touch the first
user's events (an event id already stored is a duplicate, whoever sends it)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from cloud_bridge.analytics.models import BehaviourEvent

from ..test_api import client, mp_login

__all__ = ["client"]

M = "/api/v1/mp/analytics/events"


async def test_another_user_cannot_overwrite_or_claim_events(client, db):
    alice, alice_id = await mp_login(client, "alice")
    bob, _ = await mp_login(client, "bob")
    at = datetime.now(UTC).isoformat()
    ev = {"event_id": "ev-1", "type": "page_view", "at": at, "page": "/pages/home"}
    assert (await (await client.post(M, json={"v": 1, "events": [ev]}, headers=alice)).json()
            == {"stored": 1, "duplicates": 0})
    forged = {**ev, "page": "/pages/forged", "type": "search", "keyword": "x"}
    r = await client.post(M, json={"v": 1, "events": [forged]}, headers=bob)
    assert await r.json() == {"stored": 0, "duplicates": 1}
    async with db.session() as s:
        rows = (await s.scalars(select(BehaviourEvent))).all()
    assert [(e.openid, e.page, e.type) for e in rows] == [(alice_id, "/pages/home",
                                                           "page_view")]
    assert (await client.post(M, json={"v": 1, "events": [ev]})).status == 401
