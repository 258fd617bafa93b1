"""The coupon mini-program routes act only on the caller's own wallet: another shopper
never sees alice's coupons, and claiming gives the caller's own."""

from __future__ import annotations

from cloud_bridge.app import all_routes

from ..domain_tests import domain_of
from ..test_api import api_config
from .conftest import TEMPLATE, A, M, register
from .test_deals_other_user import DEALS_MODULE

NOT_USER_SCOPED = {("POST", f"{M}/claim"), ("GET", M)}
# Routes naming one coupon: another shopper's is "not found" (test_kiosk_coupons has the
# QR route's own case too).
BY_COUPON = {("GET", f"{M}/{{coupon_id}}/code")}


def test_every_marketing_mp_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith("/api/v1/mp") and domain_of(r) == "marketing"
              and r.handler.__module__ != DEALS_MODULE}  # test_deals_other_user has those
    assert routes == NOT_USER_SCOPED | BY_COUPON


async def test_another_shopper_sees_none_of_alices_coupons(client, people):
    t = await (await client.post(f"{A}/coupon-templates", json=TEMPLATE,
                                 headers=people["boss"])).json()
    await register(client, people["alice"])
    r = await client.post(f"{M}/claim", json={"template_id": t["id"]}, headers=people["alice"])
    coupon = await r.json()
    r = await client.get(M, headers=people["bob"])
    assert r.status == 404 and coupon["id"] not in await r.text()
    await register(client, people["bob"])
    r = await client.get(M, headers=people["bob"])
    assert (await r.json())["total"] == 0


async def test_another_shopper_gets_no_qr_of_alices_coupon(client, people):
    t = await (await client.post(f"{A}/coupon-templates", json=TEMPLATE,
                                 headers=people["boss"])).json()
    await register(client, people["alice"])
    await register(client, people["bob"])
    coupon = await (await client.post(f"{M}/claim", json={"template_id": t["id"]},
                                      headers=people["alice"])).json()
    for method, path in BY_COUPON:
        url = path.replace("{coupon_id}", coupon["id"])
        r = await client.request(method, url, headers=people["bob"])
        assert r.status == 404 and "S1." not in await r.text(), (method, path)
        r = await client.request(method, url, headers=people["alice"])
        assert r.status == 200, (method, path)
