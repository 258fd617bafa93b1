"""A dishonest clerk and stored value, over HTTP: scope, caps per call and per day, a second
person above the threshold, and who did it recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cloud_bridge import auth
from cloud_bridge.security.models import TopUpRecord
from cloud_bridge.security.topups import LIMITS
from tests.cloud_bridge.payments_fixtures import sandbox, sandbox_keys
from tests.cloud_bridge.test_payments_api import pay_client

from .conftest import add_user, login

__all__ = ["pay_client", "sandbox", "sandbox_keys"]  # fixtures
pytestmark = pytest.mark.timeout(60)
URL = "/api/v1/admin/members/{}/balance/topups"


async def _topup(client, headers, member: str, amount: int, key: str, **extra):
    return await client.post(URL.format(member), headers=headers,
                             json={"amount": amount, "key": key, **extra})


async def test_clerk_topups_are_scoped_capped_and_need_a_second_person(pay_client, db):
    c = pay_client
    await add_user(db, "clerk1", auth.STORE_STAFF, "s1")
    await add_user(db, "clerk1b", auth.STORE_STAFF, "s1")
    await add_user(db, "clerk2", auth.STORE_STAFF, "s2")
    clerk = await login(c, "clerk1")
    small, big = 5_000, LIMITS.second_person_fen

    r = await _topup(c, clerk, "m1", small, "k1")
    assert r.status == 201 and (await r.json())["balance"] == small
    assert (await _topup(c, clerk, "m1", small, "k1")).status == 201  # a retry: once
    # Another store's counter: refused.
    assert (await _topup(c, clerk, "m1", small, "k2", store="s2")).status == 403
    # Past the per-call cap of store staff: refused whatever the approval.
    r = await _topup(c, clerk, "m1", LIMITS.per_call[auth.STORE_STAFF] + 1, "k3",
                     approver="clerk1b", approver_secret="secret-clerk1b")
    assert r.status == 400
    # At the threshold: a second person is needed, not yourself, not another store's staff,
    # and with the right secret.
    assert (await _topup(c, clerk, "m1", big, "k4")).status == 403
    r = await _topup(c, clerk, "m1", big, "k4", approver="clerk1",
                     approver_secret="secret-clerk1")
    assert r.status == 403 and "another person" in (await r.json())["detail"]
    r = await _topup(c, clerk, "m1", big, "k4", approver="clerk2",
                     approver_secret="secret-clerk2")
    assert r.status == 403
    r = await _topup(c, clerk, "m1", big, "k4", approver="clerk1b", approver_secret="wrong-1")
    assert r.status == 403
    r = await _topup(c, clerk, "m1", big, "k4", approver="clerk1b",
                     approver_secret="secret-clerk1b")
    assert r.status == 201 and (await r.json())["balance"] == small + big
    # The daily cap: the clerk's total today cannot pass it, however it is split.
    left = LIMITS.per_day[auth.STORE_STAFF] - small - big
    statuses = []
    for i in range(left // LIMITS.per_call[auth.STORE_STAFF] + 2):
        r = await _topup(c, clerk, "m2", LIMITS.per_call[auth.STORE_STAFF], f"d{i}",
                         approver="clerk1b", approver_secret="secret-clerk1b")
        statuses.append(r.status)
    assert statuses[-1] == 403 and 201 in statuses
    async with db.read() as s:
        rows = list(await s.scalars(select(TopUpRecord).order_by(TopUpRecord.created_at)))
    assert sum(r.amount for r in rows) <= LIMITS.per_day[auth.STORE_STAFF]
    assert {r.requested_by for r in rows} == {"admin:clerk1"}
    assert [(r.entry_key, r.store, r.approved_by) for r in rows[:2]] == [
        ("topup:k1", "s1", None), ("topup:k4", "s1", "admin:clerk1b")]
