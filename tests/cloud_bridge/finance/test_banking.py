"""Bank accounts encrypted at rest and masked; payouts with maker-checker approval,
limits and an audit trail, posted to the ledger."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from cloud_bridge import auth
from cloud_bridge.finance import accounts as A
from cloud_bridge.finance import banking
from cloud_bridge.finance.reports import trial_balance

from ..test_api import add_user, client, login
from .helpers import ingest_sales, sale_data

__all__ = ["client"]

F = "/api/v1/admin/finance"
NUMBER = "6222 0212 3456 7890 123"


@pytest.fixture
def bank_key(monkeypatch):
    """A fresh bank-account encryption key in the environment, as systemd would pass it."""
    monkeypatch.setenv("BRIDGE_FINANCE_BANK_KEY", os.urandom(32).hex())


async def test_account_number_is_encrypted_and_masked(client, db, bank_key, monkeypatch):
    await add_user(db, "fin1", auth.FINANCE, "s1")
    fin = await login(client, "fin1")
    r = await client.post(f"{F}/bank-accounts", headers=fin, json={
        "store": "s1", "bank_name": "中国工商银行上海分行", "holder_name": "某某便利店",
        "number": NUMBER})
    assert r.status == 201, await r.text()
    acct = await r.json()
    assert acct["number"] == "**** **** **** 0123"
    r = await client.get(f"{F}/bank-accounts", headers=fin)
    assert "6222021234567890123" not in await r.text()
    async with db.session() as s:
        stored = (await s.execute(text("SELECT number_enc FROM finance_bank_accounts"))).scalar()
        row = await s.get(banking.BankAccount, acct["id"])
        assert banking.unseal(row) == "6222021234567890123"
    assert "6222" not in stored and "0123" not in stored
    # Another key cannot read it (and a missing key refuses new accounts).
    monkeypatch.setenv("BRIDGE_FINANCE_BANK_KEY", os.urandom(32).hex())
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        banking.unseal(row)
    monkeypatch.delenv("BRIDGE_FINANCE_BANK_KEY")
    r = await client.post(f"{F}/bank-accounts", headers=fin, json={
        "store": "s1", "bank_name": "x", "holder_name": "y", "number": "12345678"})
    assert r.status == 503
    assert (await client.post(f"{F}/bank-accounts", headers=fin, json={
        "store": "s2", "bank_name": "x", "holder_name": "y", "number": "12345678"})).status == 403


async def test_payout_maker_checker_limits_and_ledger(client, db, bank_key):
    await ingest_sales(db, "s1", [sale_data("s1-k1-1", [("tv", 1, 8_000_000, 1300)],
                                            [("wechat", 8_000_000)],
                                            datetime(2026, 11, 3, 4, tzinfo=UTC))])
    for name, role, store in (("maker", auth.FINANCE, "s1"), ("checker", auth.FINANCE, "s1"),
                              ("boss", auth.HEAD_OFFICE, None)):
        await add_user(db, name, role, store)
    maker, checker = await login(client, "maker"), await login(client, "checker")
    boss = await login(client, "boss")
    acct = await (await client.post(f"{F}/bank-accounts", headers=maker, json={
        "store": "s1", "bank_name": "招商银行", "holder_name": "门店一",
        "number": "6214830000001234"})).json()
    ask = {"store": "s1", "provider": "wechat", "bank_account_id": acct["id"]}
    r = await client.post(f"{F}/payouts", headers=maker, json={**ask, "amount": 3_000_000})
    assert r.status == 201, await r.text()
    small = await r.json()
    decide = f"{F}/payouts/{small['id']}/decision"
    # Nothing is posted yet: the provider holds nothing in the ledger.
    r = await client.post(decide, headers=checker, json={"decision": "approve"})
    assert r.status == 409 and "holds 0" in (await r.json())["detail"]
    await client.post(f"{F}/post", headers=boss)
    r = await client.post(decide, headers=maker, json={"decision": "approve"})
    assert r.status == 403  # the maker cannot check their own
    r = await client.post(decide, headers=checker, json={"decision": "approve", "note": "ok"})
    assert r.status == 200, await r.text()
    done = await r.json()
    assert done["status"] == "approved" and done["decided_by"] == "admin:checker"
    assert [e["action"] for e in done["events"]] == ["requested", "approved"]
    assert done["bank_account"] == "**** **** **** 1234"
    assert (await client.post(decide, headers=boss, json={"decision": "reject"})).status == 409
    # Above the finance approval limit: head office only.
    big = await (await client.post(f"{F}/payouts", headers=maker,
                                   json={**ask, "amount": 5_000_001})).json()
    r = await client.post(f"{F}/payouts/{big['id']}/decision", headers=checker,
                          json={"decision": "approve"})
    assert r.status == 403 and "head office" in (await r.json())["detail"]
    r = await client.post(f"{F}/payouts/{big['id']}/decision", headers=boss,
                          json={"decision": "approve"})
    assert r.status == 409  # 3,000,000 + 5,000,001 > the 8,000,000 the provider holds
    r = await client.post(f"{F}/payouts/{big['id']}/decision", headers=boss,
                          json={"decision": "reject", "note": "too much"})
    assert (await r.json())["status"] == "rejected"
    async with db.session() as s:
        tb = await trial_balance(s, store="s1")
    assert tb[A.BANK] == 3_000_000 and tb[A.clearing("wechat")] == 5_000_000
    r = await client.get(f"{F}/payouts", params={"status": "approved"}, headers=checker)
    assert [p["id"] for p in (await r.json())["items"]] == [small["id"]]


async def test_daily_limit(db, bank_key, monkeypatch):
    monkeypatch.setattr(banking, "DAILY_LIMIT_FEN", 1000)
    await ingest_sales(db, "s1", [sale_data("s1-k1-1", [("tv", 1, 5000, 1300)],
                                            [("alipay", 5000)], datetime.now(UTC))])
    from cloud_bridge.finance.jobs import post_pending

    await post_pending(db)
    async with db.session() as s:
        acct = await banking.add_bank_account(s, store="s1", bank_name="b", holder_name="h",
                                              number="12345678", actor="admin:a")
        ids = [(await banking.request_payout(s, store="s1", provider="alipay",
                                             bank_account_id=acct.id, amount=600, note=None,
                                             actor="admin:a")).id for _ in range(2)]
    async with db.session() as s:
        await banking.decide_payout(s, ids[0], approve=True, note=None, actor="admin:b",
                                    role=auth.FINANCE)
    async with db.session() as s:
        with pytest.raises(Exception, match="daily payout limit"):
            await banking.decide_payout(s, ids[1], approve=True, note=None, actor="admin:b",
                                        role=auth.FINANCE)
