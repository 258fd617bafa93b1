"""Members through the HTTP API: registration with the phone number through WeChat's
(sandboxed) API and its real error codes, the opt-in profile, levels, member codes."""

from __future__ import annotations

import pytest

from contract.tokens import TokenVerifier

from .conftest import A, M, register


async def test_register_is_idempotent_and_binds_the_phone(client, people):
    me = await register(client, people["alice"], phone_code="alice-phone", home_store="s1")
    assert me["level"] == "regular" and me["growth"] == 100  # the registration bonus
    assert me["phone_bound"] and me["phone_masked"].startswith("13")
    assert "****" in me["phone_masked"]
    again = await register(client, people["alice"])
    assert again["member_id"] == me["member_id"] and again["growth"] == 100
    r = await client.get(M, headers=people["alice"])
    body = await r.json()
    assert body["member_id"] == me["member_id"]
    assert "openid" not in body and "session_key" not in str(body)


@pytest.mark.parametrize("code,status", [
    ("invalid-1", 400), ("ratelimit-1", 429), ("risky-1", 403), ("busy-1", 503),
    ("foreign-1", 403)])
async def test_phone_errors_of_wechat_refuse_registration(client, people, code, status):
    r = await client.post(f"{M}/register", json={"phone_code": code}, headers=people["bob"])
    assert r.status == status, await r.text()
    assert r.content_type == "application/problem+json"
    r = await client.get(M, headers=people["bob"])
    assert r.status == 404  # nothing was registered


async def test_profile_is_opt_in_and_can_be_withdrawn(client, people):
    await register(client, people["alice"])
    r = await client.put(f"{M}/profile", headers=people["alice"],
                         json={"birthday": "1990-02-28", "gender": "female"})
    body = await r.json()
    assert (body["birthday"], body["gender"], body["region"]) == ("1990-02-28", "female", None)
    r = await client.put(f"{M}/profile", headers=people["alice"], json={"clear": ["birthday"]})
    assert (await r.json())["birthday"] is None
    for bad in ("1990-02-30", "2999-01-01", "١٩٩٠-٠١-٠١"):
        r = await client.put(f"{M}/profile", headers=people["alice"], json={"birthday": bad})
        assert r.status == 400, bad


async def test_ladder_set_by_head_office_relevels_members(client, people):
    await register(client, people["alice"])
    ladder = {"registration_growth": 100, "growth_per_yuan": 2, "points_per_yuan": 1,
              "points_expiry_days": 365, "levels": [
                  {"code": "regular", "name_zh": "普通", "name_en": "Regular", "min_growth": 0},
                  {"code": "vip", "name_zh": "贵宾", "name_en": "VIP", "min_growth": 50,
                   "discount_bp": 300, "points_multiplier_bp": 20000}]}
    r = await client.put(f"{A}/program", json=ladder, headers=people["clerk1"])
    assert r.status == 403
    r = await client.put(f"{A}/program", json={**ladder, "levels": ladder["levels"][1:]},
                         headers=people["boss"])
    assert r.status == 400  # no entry level
    r = await client.put(f"{A}/program", json=ladder, headers=people["boss"])
    assert r.status == 200, await r.text()
    me = await (await client.get(M, headers=people["alice"])).json()
    assert me["level"] == "vip" and me["discount_bp"] == 300


async def test_member_code_is_signed_short_lived_with_a_snapshot(client, people, member_key):
    r = await client.get(f"{M}/code", headers=people["alice"])
    assert r.status == 404  # not a member yet
    me = await register(client, people["alice"])
    r = await client.get(f"{M}/code", headers=people["alice"])
    body = await r.json()
    tok = TokenVerifier([member_key.public_key()], max_lifetime_s=600).verify(
        body["code"], kind="member")
    assert tok.subject == me["member_id"] and tok.role == "regular/0/0"
    assert 60 <= tok.expires_at - tok.issued_at <= 300
    assert len(body["code"]) < 300  # fits a small QR code


async def test_store_staff_see_only_their_stores_members(client, people):
    await register(client, people["alice"], home_store="s1")
    await register(client, people["bob"], home_store="s2")
    r = await client.get(A, headers=people["clerk1"])
    assert [m["home_store"] for m in (await r.json())["items"]] == ["s1"]
    r = await client.get(A, params={"store": "s2"}, headers=people["clerk1"])
    assert r.status == 403
    r = await client.get(A, headers=people["boss"])
    assert (await r.json())["total"] == 2
