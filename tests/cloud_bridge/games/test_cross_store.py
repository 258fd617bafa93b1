"""Every games admin route, called by store staff of ANOTHER store: 403/404, and nothing
stored changes. Checked against the router."""

from __future__ import annotations

from cloud_bridge.app import all_routes

from ..domain_tests import domain_of
from ..test_api import api_config
from ..test_api_admin_scoping import _snapshot
from .conftest import A, fallback, game_body, points_prize

NOT_STORE_SCOPED: dict[tuple[str, str], str] = {}
G = f"{A}/{{game_id}}"

# (method, route path, concrete path with store s1's game, body, allowed statuses)
CROSS_STORE = [
    ("POST", A, A, "s1-body", {403}),
    ("GET", A, f"{A}?store=s1", None, {403}),
    ("GET", G, f"{A}/{{game}}", None, {404}),
    ("PUT", G, f"{A}/{{game}}", "config", {404}),
    ("POST", f"{G}/start", f"{A}/{{game}}/start", None, {404}),
    ("POST", f"{G}/end", f"{A}/{{live}}/end", None, {404}),
    ("GET", f"{G}/draws", f"{A}/{{live}}/draws", None, {404}),
]


def test_every_games_admin_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith("/api/v1/admin") and domain_of(r) == "games"}
    assert routes == {(m, p) for m, p, *_ in CROSS_STORE} | set(NOT_STORE_SCOPED)


async def test_staff_of_another_store_reach_nothing_of_store_one(client, db, people):
    """All routes in one run: one seed (a draft and a live game of s1)."""
    prizes = [points_prize(1, 5), fallback(1)]
    s1 = game_body(prizes, store="s1")
    draft = await (await client.post(A, json=s1, headers=people["clerk1"])).json()
    live = await (await client.post(A, json=s1, headers=people["clerk1"])).json()
    r = await client.post(f"{A}/{live['id']}/start", headers=people["clerk1"])
    assert r.status == 200, await r.text()
    bodies = {"s1-body": s1, "config": game_body(prizes)}
    ids = {"game": draft["id"], "live": live["id"]}
    for method, _route, path, body, allowed in CROSS_STORE:
        before = await _snapshot(db)
        r = await client.request(method, path.format(**ids), headers=people["clerk2"],
                                 json=bodies.get(body) if body else None)
        assert r.status in allowed, (method, path, r.status, await r.text())
        assert r.content_type == "application/problem+json"
        assert await _snapshot(db) == before, f"{method} {path}: a refused request changed data"
