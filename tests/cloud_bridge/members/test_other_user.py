"""The member mini-program routes act only on the caller's own membership: another
shopper never sees or changes alice's (404 before registering, their own record after)."""

from __future__ import annotations

from cloud_bridge.app import all_routes

from ..domain_tests import domain_of
from ..test_api import api_config
from ..test_api_admin_scoping import _snapshot
from .conftest import M, register
from .programs_tables import (
    PROGRAMS_NOT_USER_SCOPED,
    PROGRAMS_USER_SCOPED,
    S,
    seed_store_one,
)

# Every member mp route names nothing of another shopper: the member is the caller's.
NOT_USER_SCOPED = {
    ("POST", f"{M}/register"), ("GET", M), ("PUT", f"{M}/profile"), ("GET", f"{M}/code"),
    ("GET", f"{M}/points"),
}


def test_every_member_mp_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith("/api/v1/mp") and domain_of(r) == "members"}
    assert routes == NOT_USER_SCOPED | PROGRAMS_NOT_USER_SCOPED | PROGRAMS_USER_SCOPED


async def test_another_shopper_gets_nothing_of_alices(client, db, people):
    alice = await register(client, people["alice"], phone_code="alice-phone")
    before = await _snapshot(db)
    for method, path, body in (("GET", M, None), ("GET", f"{M}/code", None),
                               ("GET", f"{M}/points", None),
                               ("PUT", f"{M}/profile", {"region": "上海"})):
        r = await client.request(method, path, headers=people["bob"], json=body)
        assert r.status == 404, (path, r.status)
        assert alice["member_id"] not in await r.text()
    assert await _snapshot(db) == before
    bob = await register(client, people["bob"])
    assert bob["member_id"] != alice["member_id"] and not bob["phone_bound"]


async def test_another_shopper_sees_none_of_alices_programs(client, db, people):
    """alice bought a plan, has an invitation code, an exchange and an order to rate; bob
    sees none of it, and cannot answer a survey about alice's order."""
    from sqlalchemy import update

    from cloud_bridge.models import Order, now

    ids = await seed_store_one(client, db, people)
    r = await client.post(f"{M}/plans/{ids['plan']}/purchase", json={"store": "s1"},
                          headers=people["alice"])
    order_no = (await r.json())["order_no"]
    code = (await (await client.get(f"{M}/referral", headers=people["alice"])).json())["code"]
    async with db.session() as s:
        await s.execute(update(Order).where(Order.order_no == "S1-0")
                        .values(member_id=ids["member"], paid_at=now()))
    await register(client, people["bob"])
    for path in (f"{M}/paid", f"{M}/referral", S, f"{S}/answers", f"{M}/exchange"):
        r = await client.get(path, headers=people["bob"])
        assert r.status == 200, (path, r.status)
        text = await r.text()
        for secret in (order_no, code, ids["member"], "S1-0", '"seed"'):
            assert secret not in text, (path, secret)
    before = await _snapshot(db)
    r = await client.post(f"{S}/{ids['survey']}/answers", headers=people["bob"],
                          json={"order_no": "S1-0", "score": 1})
    assert r.status == 404
    assert await _snapshot(db) == before
