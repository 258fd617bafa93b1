"""Re-authentication before changing the bound phone number, over HTTP: a fresh wx.login
code of the caller's own WeChat user is needed (the sandbox's jscode2session names the
user of a code); a missing, invalid or another user's code is 403 and changes nothing,
and the session stays valid. The payment password's re-authentication (the current
password) is in test_stored_value."""

from __future__ import annotations

import pytest

from cloud_bridge.members.models import MemberRecord

from ..members.conftest import start_client
from ..test_api import mp_login

pytestmark = pytest.mark.timeout(60)
M = "/api/v1/mp/member"


@pytest.fixture
async def client(db, db_url):
    """A running bridge (mini-program sandbox: code2session and the phone-number API)."""
    c = await start_client(db, db_url)
    try:
        yield c
    finally:
        await c.close()


async def phone_of(db, member_id: str) -> str | None:
    async with db.read() as s:
        return (await s.get(MemberRecord, member_id)).phone


async def change(client, headers, login_code: str | None, phone_code: str = "new-phone"):
    body = {"phone_code": phone_code} | ({"login_code": login_code} if login_code else {})
    return await client.put(f"{M}/phone", json=body, headers=headers)


async def test_changing_the_phone_needs_a_fresh_login_of_the_same_user(client, db):
    alice, _ = await mp_login(client, "alice-code")
    r = await client.post(f"{M}/register", json={"phone_code": "first-phone"}, headers=alice)
    assert r.status == 200, await r.text()
    member = await r.json()
    first = await phone_of(db, member["member_id"])
    assert first and member["phone_masked"] == first[:3] + "****" + first[-4:]

    refused = [
        (await change(client, alice, None), 400),                  # no login code at all
        (await change(client, alice, "bob-code"), 403),            # another WeChat user's
        (await change(client, alice, "invalid-old-code"), 403),    # used or expired
        (await client.put(f"{M}/phone", json={"login_code": "alice-code",
                                              "phone_code": "p"}), 401),  # no session
    ]
    for r, status in refused:
        assert r.status == status, await r.text()
        assert r.content_type == "application/problem+json"
    assert await phone_of(db, member["member_id"]) == first
    # A refused re-authentication does not end the session.
    assert (await client.get(M, headers=alice)).status == 200

    # WeChat refusing the new number changes nothing either.
    assert (await change(client, alice, "alice-code", "invalid-phone")).status == 400
    assert (await change(client, alice, "alice-code", "risky-phone")).status == 403
    assert await phone_of(db, member["member_id"]) == first

    r = await change(client, alice, "alice-code", "second-phone")
    assert r.status == 200, await r.text()
    changed = await r.json()
    second = await phone_of(db, member["member_id"])
    assert second != first and changed == {
        "phone_bound": True, "phone_masked": second[:3] + "****" + second[-4:]}
    assert (await (await client.get(M, headers=alice)).json())["phone_masked"] == \
        changed["phone_masked"]


async def test_a_shopper_who_is_no_member_has_no_phone_to_change(client, db):
    carol, _ = await mp_login(client, "carol-code")
    r = await change(client, carol, "carol-code")
    assert r.status == 404, await r.text()
    # Nobody's phone was touched by it.
    async with db.read() as s:
        from sqlalchemy import func, select

        assert await s.scalar(select(func.count()).select_from(MemberRecord)) == 0
