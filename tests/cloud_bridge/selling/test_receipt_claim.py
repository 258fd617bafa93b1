"""Claiming a kiosk order in the mini-program needs the receipt's QR token; refusals are
recorded, logged and rate-limited per user and per address (HTTP API)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from cloud_bridge.selling.claims import MAX_REFUSALS_PER_USER
from cloud_bridge.selling.models import ReceiptClaimRefusal

from ..bridge_helpers import receipt_token
from ..test_api import api_config, client, mp_login, seed_kiosk_orders  # noqa: F401

URL = "/api/v1/mp/orders/{}/claim"


async def test_token_is_required_and_refusals_are_recorded_and_throttled(client, db, caplog):  # noqa: F811
    await seed_kiosk_orders(db)
    bob, _ = await mp_login(client, "bob-code")
    carol, _ = await mp_login(client, "carol-code")
    with caplog.at_level(logging.WARNING):
        for _ in range(MAX_REFUSALS_PER_USER):  # guessing tokens
            r = await client.post(URL.format("S1-0"), json={"token": "A" * 22}, headers=bob)
            assert r.status == 404
    assert "receipt claim refused (bad_token)" in caplog.text
    # Bob is now throttled, even with the right token; Carol (same address) is not yet.
    good = {"token": receipt_token("S1-0")}
    r = await client.post(URL.format("S1-0"), json=good, headers=bob)
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0
    r = await client.post(URL.format("S1-0"), json=good, headers=carol)
    assert r.status == 200 and (await r.json())["order_no"] == "S1-0"
    # Once claimed, nobody else can take it, token or not; an unknown order is the same 404.
    dave, _ = await mp_login(client, "dave-code")
    assert (await client.post(URL.format("S1-0"), json=good, headers=dave)).status == 404
    assert (await client.post(URL.format("S9-9"), json={"token": receipt_token("S9-9")},
                              headers=dave)).status == 404
    async with db.session() as s:
        reasons = [r.reason for r in await s.scalars(select(ReceiptClaimRefusal)
                                                     .order_by(ReceiptClaimRefusal.id))]
    assert reasons == ["bad_token"] * MAX_REFUSALS_PER_USER + ["other_owner", "unknown_order"]


async def test_per_address_limit(client, db, monkeypatch):  # noqa: F811
    from cloud_bridge.selling import claims

    monkeypatch.setattr(claims, "MAX_REFUSALS_PER_SOURCE", 3)
    await seed_kiosk_orders(db)
    users = [(await mp_login(client, f"u{i}-code"))[0] for i in range(4)]
    for h in users[:3]:
        assert (await client.post(URL.format("S1-0"), json={"token": "B" * 22},
                                  headers=h)).status == 404
    r = await client.post(URL.format("S1-0"), json={"token": receipt_token("S1-0")},
                          headers=users[3])
    assert r.status == 429  # the address, not the user, is over its limit
