"""Every finance admin route, called by a finance clerk of ANOTHER store (and by store
staff, who have no finance role): 403/404, and nothing stored changes."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from cloud_bridge import auth, invoices, orders
from cloud_bridge.app import all_routes
from cloud_bridge.finance import banking, expenses
from cloud_bridge.finance import close as C
from cloud_bridge.finance.jobs import post_pending
from cloud_bridge.finance.models import Fapiao

from ..test_api import add_user, api_config, client, login
from ..test_api_admin_scoping import _snapshot
from .helpers import ingest_sales, sale_data

__all__ = ["client"]

F = "/api/v1/admin/finance"
PERIOD = "period=2026-11&store=s2"
CROSS_STORE = [
    ("GET", f"{F}/accounts", f"{F}/accounts?store=s2", None, {403}),
    ("GET", f"{F}/entries", f"{F}/entries?store=s2", None, {403}),
    ("GET", f"{F}/entries/csv", f"{F}/entries/csv?store=s2&account=1012", None, {403}),
    ("POST", f"{F}/entries/{{entry_id}}/reverse", f"{F}/entries/{{entry}}/reverse",
     {"reason": "x"}, {403}),
    ("POST", f"{F}/post", f"{F}/post", None, {403}),
    ("GET", f"{F}/reports/{{kind}}", f"{F}/reports/income?{PERIOD}", None, {403}),
    ("GET", f"{F}/reports/{{kind}}/csv", f"{F}/reports/income/csv?{PERIOD}", None, {403}),
    ("GET", f"{F}/reports/{{kind}}/xlsx", f"{F}/reports/balance/xlsx?{PERIOD}", None, {403}),
    ("GET", f"{F}/reports/{{kind}}/pdf", f"{F}/reports/cashflow/pdf?{PERIOD}", None, {403}),
    ("POST", f"{F}/closes", f"{F}/closes", {"store": "s2", "date": "2026-11-03"}, {403}),
    ("GET", f"{F}/closes", f"{F}/closes?store=s2", None, {403}),
    ("GET", f"{F}/closes/{{close_id}}", f"{F}/closes/{{close}}", None, {403}),
    ("POST", f"{F}/closes/{{close_id}}/mismatches/{{mismatch_id}}/resolve",
     f"{F}/closes/{{close}}/mismatches/{{mismatch}}/resolve",
     {"resolution": "accepted", "note": "x"}, {403}),
    ("POST", f"{F}/closes/{{close_id}}/close", f"{F}/closes/{{close}}/close", None, {403}),
    ("POST", f"{F}/bank-accounts", f"{F}/bank-accounts",
     {"store": "s2", "bank_name": "x", "holder_name": "y", "number": "12345678"}, {403}),
    ("GET", f"{F}/bank-accounts", f"{F}/bank-accounts?store=s2", None, {403}),
    ("POST", f"{F}/payouts", f"{F}/payouts",
     {"store": "s2", "provider": "wechat", "bank_account_id": 1, "amount": 1}, {403}),
    ("GET", f"{F}/payouts", f"{F}/payouts?store=s2", None, {403}),
    ("POST", f"{F}/payouts/{{payout_id}}/decision", f"{F}/payouts/{{payout}}/decision",
     {"decision": "approve"}, {403}),
    ("POST", f"{F}/budgets", f"{F}/budgets",
     {"store": "s2", "code": "6603.01", "month": "2026-11", "amount": 1}, {403}),
    ("GET", f"{F}/budgets", f"{F}/budgets?store=s2", None, {403}),
    ("POST", f"{F}/expenses", f"{F}/expenses",
     {"store": "s2", "kind": "expense", "code": "6602.99", "amount": 100, "paid_via": "cash",
      "date": "2026-11-03", "description": "x"}, {403}),
    ("GET", f"{F}/expenses", f"{F}/expenses?store=s2", None, {403}),
    ("PUT", f"{F}/expenses/{{expense_id}}/document", f"{F}/expenses/{{expense}}/document",
     None, {403}),
    ("GET", f"{F}/expenses/{{expense_id}}/document", f"{F}/expenses/{{expense}}/document",
     None, {403}),
    ("POST", f"{F}/settlements", f"{F}/settlements", {"date": "2026-11-03"}, {403}),
    ("POST", f"{F}/fapiao", f"{F}/fapiao", {"invoice_id": "{invoice}"}, {403}),
    ("GET", f"{F}/fapiao", f"{F}/fapiao?store=s2", None, {403}),
    ("POST", f"{F}/fapiao/sync", f"{F}/fapiao/sync", None, {403}),
    ("POST", f"{F}/fapiao/{{fapiao_id}}/red", f"{F}/fapiao/{{fapiao}}/red",
     {"amount": 1, "reason_code": "01", "request_id": "x"}, {403}),
    ("GET", f"{F}/fapiao/{{fapiao_id}}/pdf", f"{F}/fapiao/{{fapiao}}/pdf", None, {403}),
]


def test_every_finance_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith(F)}
    assert routes == {(m, p) for m, p, *_ in CROSS_STORE}


async def _s2_world(db) -> dict[str, int]:
    at = datetime.now(UTC)  # once: the close is for the sale's own day
    await ingest_sales(db, "s2", [sale_data("s2-k1-1", [("tea", 1, 1090, 900)],
                                            [("wechat", 1090, "s2-T1")], at)])
    await post_pending(db)
    from cloud_bridge.payments.store import business_date

    close_id = await C.reconcile(db, "s2", business_date(at), {"wechat": []})
    async with db.session() as s:
        _, items = await C.get_close(s, close_id)
        from sqlalchemy import select

        from cloud_bridge.finance.models import JournalEntry

        entry = await s.scalar(select(JournalEntry.id).where(JournalEntry.store == "s2"))
        acct = await banking.add_bank_account(s, store="s2", bank_name="b", holder_name="h",
                                              number="12345678", actor="admin:x")
        payout = await banking.request_payout(s, store="s2", provider="wechat",
                                              bank_account_id=acct.id, amount=1, note=None,
                                              actor="admin:x")
        expense = await expenses.record(s, store="s2", kind="expense", code="6602.99",
                                        amount=100, vat=0, paid_via="cash",
                                        business_date="2026-11-03", description="x",
                                        actor="admin:x")
        order = await orders.get_order(s, "s2-k1-1")
        inv = await invoices.request_invoice(s, order, openid=None, kind="personal", title="t",
                                             tax_id=None, email="t@example.com")
        doc = Fapiao(invoice_id=inv.id, store="s2", color="blue", apply_id="B-s2", status="issued",
                     total=1090, tax=90, items=[], number="26312000000000000001",
                     file_key="ab/ab.pdf", created_by="admin:x", created_at=datetime.now(UTC),
                     updated_at=datetime.now(UTC))
        s.add(doc)
        await s.flush()
    return {"entry": entry, "close": close_id, "mismatch": items[0].id, "payout": payout.id,
            "expense": expense.id, "invoice": inv.id, "fapiao": doc.id}


@pytest.mark.parametrize("role", [auth.FINANCE, auth.STORE_STAFF])
async def test_other_store_finance_and_store_staff_are_refused(client, db, role, monkeypatch):
    monkeypatch.setenv("BRIDGE_FINANCE_BANK_KEY", os.urandom(32).hex())
    ids = await _s2_world(db)
    await add_user(db, "who", role, "s1")
    who = await login(client, "who")
    before = await _snapshot(db)
    wrong = []
    for method, _route, path, body, allowed in CROSS_STORE:
        if body and body.get("invoice_id") == "{invoice}":
            body = {"invoice_id": ids["invoice"]}
        r = await client.request(method, path.format(**ids), json=body, headers=who)
        if r.status not in allowed or r.content_type != "application/problem+json":
            wrong.append((method, path, r.status, (await r.text())[:200]))
    assert wrong == []
    assert await _snapshot(db) == before, "a refused request changed stored data"
