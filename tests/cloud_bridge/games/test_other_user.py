"""The lucky draw's mini-program routes act only for the caller: another shopper never
sees alice's draws, and a draw is always the caller's own."""

from __future__ import annotations

from cloud_bridge.app import all_routes

from ..domain_tests import domain_of
from ..test_api import api_config
from .conftest import M, draw, fallback, live_game, points_prize, register

# Games are the chain's or a store's (public to members); draws are the caller's.
NOT_USER_SCOPED = {("GET", M), ("POST", f"{M}/{{game_id}}/draw"),
                   ("GET", f"{M}/{{game_id}}/draws")}


def test_every_games_mp_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith("/api/v1/mp") and domain_of(r) == "games"}
    assert routes == NOT_USER_SCOPED


async def test_another_shopper_sees_none_of_alices_draws(client, people):
    game = await live_game(client, people["boss"], [points_prize(1, 5), fallback(1)])
    await register(client, people["alice"])
    mine = await (await draw(client, people["alice"], game["id"], "same-id")).json()
    r = await client.get(f"{M}/{game['id']}/draws", headers=people["bob"])
    assert r.status == 404 and mine["id"] not in await r.text()  # not a member yet
    await register(client, people["bob"])
    r = await client.get(f"{M}/{game['id']}/draws", headers=people["bob"])
    assert (await r.json())["total"] == 0
    # bob's draw with alice's request id is bob's own new draw, not alice's.
    bobs = await (await draw(client, people["bob"], game["id"], "same-id")).json()
    assert bobs["id"] != mine["id"]
    r = await client.get(f"{M}/{game['id']}/draws", headers=people["alice"])
    assert [d["id"] for d in (await r.json())["items"]] == [mine["id"]]
