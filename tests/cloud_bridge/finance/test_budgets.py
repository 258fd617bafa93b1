"""Budgets: set per store, account and month; actual against budget with warnings."""

from __future__ import annotations

from datetime import UTC, datetime

from cloud_bridge import auth
from cloud_bridge.finance import accounts as A

from ..test_api import add_user, client, login
from .helpers import ingest_sales, sale_data

__all__ = ["client"]

F = "/api/v1/admin/finance"
NOV = datetime(2026, 11, 3, 4, tzinfo=UTC)


async def test_budget_variance_and_warning(client, db):
    await ingest_sales(db, "s1", [sale_data("s1-k1-1", [("tv", 1, 11300, 1300)],
                                            [("wechat", 11300)], NOV)])
    await add_user(db, "fin1", auth.FINANCE, "s1")
    fin = await login(client, "fin1")
    from cloud_bridge.finance.jobs import post_pending
    from cloud_bridge.finance.service import post_provider_fee

    await post_pending(db)
    async with db.session() as s:
        await post_provider_fee(s, store="s1", provider="wechat", source_id="fee-1",
                                occurred_at=NOV, fee_fen=68)
    for code, amount in ((A.PROVIDER_FEES, 50), (A.revenue("general"), 12000)):
        r = await client.post(f"{F}/budgets", headers=fin, json={
            "store": "s1", "code": code, "month": "2026-11", "amount": amount})
        assert r.status == 200, await r.text()
    r = await client.post(f"{F}/budgets", headers=fin, json={
        "store": "s1", "code": A.PROVIDER_FEES, "month": "2026-11", "amount": 60})  # changed
    assert (await r.json())["amount"] == 60
    for bad in ({"code": "1001"}, {"code": "6999"}, {"month": "2026-13"}, {"amount": -1}):
        r = await client.post(f"{F}/budgets", headers=fin, json={
            "store": "s1", "code": A.PROVIDER_FEES, "month": "2026-11", "amount": 1, **bad})
        assert r.status == 400, bad
    r = await client.get(f"{F}/reports/budget", params={"period": "2026-11"}, headers=fin)
    body = await r.json()
    rows = {row["label_en"]: row["amount"] for row in body["rows"]}
    assert rows["Actual: Payment provider fees"] == 68
    assert rows["Variance: Payment provider fees"] == 60 - 68
    assert rows["Warning: Payment provider fees over budget"] == 8
    assert rows["Variance: Revenue: general"] == 10000 - 12000
    assert body["figures"]["lines_over_budget"] == 1
    r = await client.get(f"{F}/budgets", params={"month": "2026-11"}, headers=fin)
    assert len((await r.json())["items"]) == 2
