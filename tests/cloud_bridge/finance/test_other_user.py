"""The finance domain's mini-program routes (a shopper's e-invoices of an order), called by
ANOTHER shopper: 404, nothing leaks. With an issued e-invoice and its PDF the same refusal
is checked end to end in test_fapiao_http."""

from __future__ import annotations

from sqlalchemy import update

from cloud_bridge.app import all_routes
from cloud_bridge.models import Order

from ..test_api import api_config, client, mp_login, seed_kiosk_orders

__all__ = ["client"]  # the fixture

M = "/api/v1/mp/orders/{order_no}/invoice/fapiao"
MINE = {("GET", M), ("GET", M + "/{fapiao_id}/pdf")}


def test_the_table_is_every_finance_mp_route(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith("/api/v1/mp") and r.handler.__module__.startswith(
                  "cloud_bridge.finance")}
    assert routes == MINE


async def test_another_shopper_gets_404(client, db):
    await seed_kiosk_orders(db)
    alice, alice_openid = await mp_login(client, "alice-code")
    bob, _ = await mp_login(client, "bob-code")
    async with db.session() as s:
        await s.execute(update(Order).where(Order.order_no == "S1-0").values(openid=alice_openid))
    r = await client.get("/api/v1/mp/orders/S1-0/invoice/fapiao", headers=alice)
    assert r.status == 200 and (await r.json())["items"] == []
    for path in ("/api/v1/mp/orders/S1-0/invoice/fapiao",
                 "/api/v1/mp/orders/S1-0/invoice/fapiao/1/pdf"):
        r = await client.get(path, headers=bob)
        assert r.status == 404, (path, r.status)
