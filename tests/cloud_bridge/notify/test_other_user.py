"""The notification mini-program routes act on the caller's own grants only: another
shopper's acceptances neither show nor change."""

from __future__ import annotations

from cloud_bridge.app import all_routes
from cloud_bridge.keys import CONFIG_KEY

from ..test_api import api_config

N = "/api/v1/mp/notify/subscriptions"


def test_the_table_is_every_notify_mp_route(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith("/api/v1/mp/notify")}
    assert routes == {("GET", N), ("POST", N)}


async def test_grants_are_the_callers_own(client, people):
    client.app[CONFIG_KEY].notify.templates = {"appointment_reminder": "TPL"}
    r = await client.post(N, headers=people["alice"], json={"accepted": ["appointment_reminder"]})
    assert (await r.json())["grants"] == {"appointment_reminder": 1}
    r = await client.post(N, headers=people["bob"], json={"accepted": ["appointment_reminder"]})
    assert (await r.json())["grants"] == {"appointment_reminder": 1}
    assert (await (await client.get(N, headers=people["carol"])).json())["grants"] == {}
    assert (await (await client.get(N, headers=people["alice"])).json())["grants"] == {
        "appointment_reminder": 1}
