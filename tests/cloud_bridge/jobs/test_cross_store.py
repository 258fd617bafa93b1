"""Every fleet job admin route is head office only: store staff and finance get 403 and
nothing changes (rolling software out is not a store's decision)."""

from __future__ import annotations

import pytest

from cloud_bridge import auth
from cloud_bridge.app import all_routes
from cloud_bridge.jobs import api as jobs_api

from .conftest import add_user, boss, bridge_config, login, make_bundle, online

A = "/api/v1/admin/fleet"
ADMIN = [
    ("POST", f"{A}/bundles", f"{A}/bundles"),
    ("POST", f"{A}/jobs", f"{A}/jobs"),
    ("GET", f"{A}/jobs", f"{A}/jobs"),
    ("GET", f"{A}/jobs/{{job_id}}", f"{A}/jobs/1"),
    ("POST", f"{A}/jobs/{{job_id}}/pause", f"{A}/jobs/1/pause"),
    ("POST", f"{A}/jobs/{{job_id}}/resume", f"{A}/jobs/1/resume"),
    ("POST", f"{A}/jobs/{{job_id}}/cancel", f"{A}/jobs/1/cancel"),
    ("PUT", f"{A}/groups/{{group}}", f"{A}/groups/g1"),
]
KIOSK = [("GET", "/api/v1/fleet/bundles/{sha256}")]
# Read by store staff too, for their own store (tested in test_api.py).
READ = [("GET", f"{A}/executions")]


def test_every_route_is_listed(db_url):
    mine = {(r.method, r.path) for r in all_routes(bridge_config(db_url))
            if r.handler.__module__ == jobs_api.__name__}
    assert mine == {(m, p) for m, p, _ in ADMIN} | set(KIOSK) | set(READ)


async def test_finance_cannot_read_executions(client, db):
    await add_user(db, "fin", auth.FINANCE)
    r = await client.get(f"{A}/executions", headers=await login(client, "fin"))
    assert r.status == 403


@pytest.mark.parametrize("role", [auth.STORE_STAFF, auth.FINANCE])
@pytest.mark.parametrize("method,route,path", ADMIN, ids=[p for _, p, _ in ADMIN])
async def test_others_are_refused(client, db, signing_key, tmp_path, role, method, route, path):
    h = await boss(client, db)
    await online(db, "s1", "k1")
    b = make_bundle(tmp_path / "b.tar", signing_key)
    r = await client.post(f"{A}/bundles", data=b.read_bytes(), headers=h)
    sha = (await r.json())["sha256"]
    job = await (await client.post(f"{A}/jobs", headers=h, json={
        "bundle_sha256": sha, "target": ["kiosk:s1/k1"], "start": False})).json()
    await add_user(db, "mole", role, "s1" if role == auth.STORE_STAFF else None)
    mole = await login(client, "mole")
    body = {"bundle_sha256": sha, "target": ["store:s1"]} if path.endswith("/jobs") else (
        {"kiosks": ["s1/k1"]} if "groups" in path else None)
    kw = {"data": b.read_bytes()} if path.endswith("/bundles") else {"json": body}
    r = await client.request(method, path.replace("/1", f"/{job['id']}"), headers=mole, **kw)
    assert r.status == 403, await r.text()
    after = await (await client.get(f"{A}/jobs", headers=h)).json()
    assert [(j["id"], j["state"]) for j in after["items"]] == [(job["id"], "created")]
