"""Every member admin route, called by store staff of ANOTHER store (or a role that may not
change chain rules): 403, and nothing stored changes. Checked against the router."""

from __future__ import annotations

import pytest

from cloud_bridge.app import all_routes

from ..domain_tests import domain_of
from ..test_api import api_config
from ..test_api_admin_scoping import _snapshot
from .conftest import A, register
from .programs_tables import PROGRAMS_CROSS_STORE, seed_store_one

# Routes with no store of their own, and why that is right.
NOT_STORE_SCOPED: dict[tuple[str, str], str] = {
    ("GET", f"{A}/program"): "the chain's level ladder: every store shows the same levels",
    ("GET", f"{A}/plans"): "the chain's paid membership plans: the same in every store",
    ("GET", f"{A}/referrals/rules"): "the chain's referral rewards: the same in every store",
}
LADDER = {"registration_growth": 1, "growth_per_yuan": 1, "points_per_yuan": 1,
          "points_expiry_days": 30, "levels": [{"code": "regular", "name_zh": "普通",
                                                 "name_en": "Regular", "min_growth": 0}]}

# (method, route path, concrete path, body, allowed statuses)
CROSS_STORE = [
    ("GET", A, f"{A}?store=s1", None, {403}),
    ("PUT", f"{A}/program", f"{A}/program", LADDER, {403}),
    ("POST", f"{A}/sync", f"{A}/sync", None, {403}),
]


def test_every_member_admin_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith("/api/v1/admin") and domain_of(r) == "members"}
    covered = {(m, p) for m, p, *_ in CROSS_STORE + PROGRAMS_CROSS_STORE} | set(NOT_STORE_SCOPED)
    assert routes == covered


@pytest.mark.parametrize("method,route,path,body,allowed", CROSS_STORE,
                         ids=[f"{m} {p}" for m, p, *_ in CROSS_STORE])
async def test_staff_of_another_store_are_refused(client, db, people, method, route, path, body,
                                                  allowed):
    await register(client, people["alice"], home_store="s1")
    await client.get(f"{A}/program", headers=people["boss"])  # the ladder exists
    before = await _snapshot(db)
    r = await client.request(method, path, headers=people["clerk2"], json=body)
    assert r.status in allowed, (r.status, await r.text())
    assert r.content_type == "application/problem+json"
    assert await _snapshot(db) == before, "a refused request changed stored data"


async def test_staff_of_another_store_reach_nothing_of_the_programs(client, db, people):
    """Every member-programs admin route in one run (one seed: the routes are many)."""
    ids = await seed_store_one(client, db, people)
    for method, _route, path, body, allowed in PROGRAMS_CROSS_STORE:
        before = await _snapshot(db)
        r = await client.request(method, path.format(**ids), headers=people["clerk2"], json=body)
        assert r.status in allowed, (method, path, r.status, await r.text())
        assert r.content_type == "application/problem+json"
        assert await _snapshot(db) == before, f"{method} {path}: a refused request changed data"
