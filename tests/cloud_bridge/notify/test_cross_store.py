"""The notification admin route is head office's: store staff are refused (403), so no
store's staff reads another store's shoppers' reminders."""

from __future__ import annotations

from cloud_bridge.app import all_routes

from ..test_api import api_config

ADMIN = {("GET", "/api/v1/admin/notify/messages")}


def test_the_table_is_every_notify_admin_route(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith("/api/v1/admin/notify")}
    assert routes == ADMIN


async def test_store_staff_cannot_read_the_outbox(client, people):
    for clerk in ("clerk1", "clerk2"):
        r = await client.get("/api/v1/admin/notify/messages", headers=people[clerk])
        assert r.status == 403 and r.content_type == "application/problem+json"
    r = await client.get("/api/v1/admin/notify/messages", headers=people["boss"])
    assert r.status == 200
