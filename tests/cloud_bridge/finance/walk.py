"""The finance part of the OpenAPI success walk (``test_openapi_fuzz``): each operation
called once with a realistic request, its reply validated against the document."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cloud_bridge import auth
from cloud_bridge.db import Database

F = "/api/v1/admin/finance"
# How long the walk waits for the sandbox platform to issue an e-invoice (it renders a PDF).
ISSUE_WAIT_S = 20.0


def _checker(call: Any, db_url: str) -> str:
    """A second finance user, logged in: payouts need a checker who is not the maker."""
    async def add() -> None:
        async with Database(db_url) as db, db.session() as s:
            await auth.create_admin_user(s, "walk-checker", "secret-checker", auth.FINANCE)

    asyncio.run(add())
    session = call("POST", "/api/v1/admin/session",
                   body={"username": "walk-checker", "secret": "secret-checker"})
    call.tokens["checker"] = session["token"]
    return "checker"


def walk(call: Any, ctx: dict[str, Any]) -> None:
    call("POST", f"{F}/post")
    acct = call("POST", f"{F}/bank-accounts", expect=201, body={
        "store": "s1", "bank_name": "中国银行", "holder_name": "门店一",
        "number": "6216 6100 0000 0001"})
    call("GET", f"{F}/bank-accounts", query={"store": "s1"})
    payout = call("POST", f"{F}/payouts", expect=201, body={
        "store": "s1", "provider": "wechat", "bank_account_id": acct["id"], "amount": 100})
    call("POST", f"{F}/payouts/{{payout_id}}/decision",
         path_parameters={"payout_id": payout["id"]}, body={"decision": "approve"},
         token=_checker(call, ctx["db_url"]))
    call("GET", f"{F}/payouts", query={"store": "s1"})
    call("GET", f"{F}/accounts", query={"store": "s1"})
    entries = call("GET", f"{F}/entries", query={"store": "s1", "account": "1012"})
    moves = call("GET", f"{F}/entries/csv", query={"store": "s1", "account": "1012"})
    assert moves.lstrip("\ufeff").startswith("entry,store,business_date")
    call("POST", f"{F}/entries/{{entry_id}}/reverse",
         path_parameters={"entry_id": entries["items"][0]["id"]}, body={"reason": "walk"},
         expect=201)
    call("POST", f"{F}/budgets", body={"store": "s1", "code": "6603.01", "month": "2026-03",
                                       "amount": 100})
    call("GET", f"{F}/budgets", query={"store": "s1"})
    expense = call("POST", f"{F}/expenses", expect=201, body={
        "store": "s1", "kind": "expense", "code": "6602.01", "amount": 500000, "vat": 0,
        "paid_via": "bank", "date": "2026-03-01", "description": "三月房租"})
    call("GET", f"{F}/expenses", query={"store": "s1"})
    doc = {"expense_id": expense["id"]}
    call("PUT", f"{F}/expenses/{{expense_id}}/document", path_parameters=doc,
         body=b"%PDF-1.4\n%%EOF\n", media_type="application/octet-stream")
    call("GET", f"{F}/expenses/{{expense_id}}/document", path_parameters=doc)
    period = {"period": "2000-01-01..2099-12-31", "store": "s1"}
    for kind in ("income", "balance", "cashflow"):
        call("GET", f"{F}/reports/{{kind}}", path_parameters={"kind": kind}, query=period)
    for fmt in ("csv", "xlsx", "pdf"):
        call("GET", f"{F}/reports/{{kind}}/{fmt}", path_parameters={"kind": "income"},
             query=period)
    # The kiosk order S1-0 of the fuzz world was paid by WeChat on 2026-03-01 (China time);
    # no provider is configured there, so it is a mismatch to accept before closing.
    close = call("POST", f"{F}/closes", body={"store": "s1", "date": "2026-03-01"})
    assert close["open"] >= 1, close
    call("GET", f"{F}/closes", query={"store": "s1"})
    call("GET", f"{F}/closes/{{close_id}}", path_parameters={"close_id": close["id"]})
    for m in close["mismatches"]:
        call("POST", f"{F}/closes/{{close_id}}/mismatches/{{mismatch_id}}/resolve",
             path_parameters={"close_id": close["id"], "mismatch_id": m["id"]},
             body={"resolution": "accepted", "note": "walk"})
    call("POST", f"{F}/closes/{{close_id}}/close", path_parameters={"close_id": close["id"]})

    # E-invoices through the payment sandbox's WeChat Pay fapiao platform.
    order = {"order_no": ctx["mp_order"]["order_no"]}
    inv = call("POST", "/api/v1/mp/orders/{order_no}/invoice", path_parameters=order,
               body={"kind": "personal", "title": "走查", "email": "walk@example.com"})
    doc = call("POST", f"{F}/fapiao", expect=201, body={"invoice_id": inv["id"]})
    fid = {"fapiao_id": doc["id"]}
    deadline = time.monotonic() + ISSUE_WAIT_S  # the platform issues asynchronously
    while doc["status"] != "issued" and time.monotonic() < deadline:
        call("POST", f"{F}/fapiao/sync")
        doc = call("GET", f"{F}/fapiao", query={"invoice_id": inv["id"]})["items"][0]
    assert doc["status"] == "issued", doc
    call("GET", f"{F}/fapiao/{{fapiao_id}}/pdf", path_parameters=fid)
    red = call("POST", f"{F}/fapiao/{{fapiao_id}}/red", path_parameters=fid, expect=201,
               body={"amount": 1, "reason_code": "04", "request_id": "walk-1"})
    assert red["color"] == "red"
    mine = call("GET", "/api/v1/mp/orders/{order_no}/invoice/fapiao", path_parameters=order)
    call("GET", "/api/v1/mp/orders/{order_no}/invoice/fapiao/{fapiao_id}/pdf",
         path_parameters={**order, "fapiao_id": mine["items"][0]["id"]})
    call("POST", f"{F}/settlements", body={"date": "2026-03-01"})
