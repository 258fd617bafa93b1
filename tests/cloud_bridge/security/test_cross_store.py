"""Every security admin route, called by store staff: head-office only ones are 403 and
change nothing; logout ends only the caller's own session."""

from __future__ import annotations

import pytest

from cloud_bridge import auth
from cloud_bridge.app import all_routes
from cloud_bridge.security import api as security_api

from .conftest import add_user, bridge_config, login

A = "/api/v1/admin"
HEAD_ONLY = [
    ("POST", f"{A}/users", f"{A}/users"),
    ("POST", f"{A}/users/{{username}}/disable", f"{A}/users/clerk2/disable"),
    ("POST", f"{A}/users/{{username}}/enable", f"{A}/users/clerk2/enable"),
    ("GET", f"{A}/security/audit", f"{A}/security/audit"),
    ("POST", f"{A}/security/purge", f"{A}/security/purge"),
]
SELF_ONLY = [("DELETE", f"{A}/session")]


def test_every_security_route_is_listed(db_url):
    mine = {(r.method, r.path) for r in all_routes(bridge_config(db_url))
            if r.handler.__module__ == security_api.__name__}
    assert mine == {(m, p) for m, p, _ in HEAD_ONLY} | set(SELF_ONLY)


@pytest.mark.parametrize("method,route,path", HEAD_ONLY, ids=[p for _, p, _ in HEAD_ONLY])
async def test_store_staff_are_refused(client, db, method, route, path):
    await add_user(db, "clerk1", auth.STORE_STAFF, "s1")
    await add_user(db, "clerk2", auth.STORE_STAFF, "s2")
    clerk1, clerk2 = await login(client, "clerk1"), await login(client, "clerk2")
    body = ({"username": "mole", "secret": "secret-mole", "role": "head_office"}
            if path.endswith("/users") else None)
    r = await client.request(method, path, headers=clerk1, json=body)
    assert r.status == 403, await r.text()
    assert (await client.get(f"{A}/me", headers=clerk2)).status == 200  # untouched


async def test_logout_ends_only_the_callers_session(client, db):
    await add_user(db, "clerk1", auth.STORE_STAFF, "s1")
    await add_user(db, "clerk2", auth.STORE_STAFF, "s2")
    clerk1, clerk2 = await login(client, "clerk1"), await login(client, "clerk2")
    assert (await client.delete(f"{A}/session", headers=clerk1)).status == 204
    assert (await client.get(f"{A}/me", headers=clerk1)).status == 401
    assert (await client.get(f"{A}/me", headers=clerk2)).status == 200
