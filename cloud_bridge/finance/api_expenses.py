"""Routes of expenses and other income, with their attached documents."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import auth
from cloud_bridge.errors import NotFound
from cloud_bridge.keys import DB_KEY
from cloud_bridge.openapi import Call, Route
from common.jsontypes import JsonObject

from . import expenses as E
from . import schemas as S
from .models import Expense

P = "/api/v1/admin/finance/expenses"
ROLES = (auth.HEAD_OFFICE, auth.FINANCE)
INT = {"type": "integer", "minimum": 1, "maximum": 10**15}
DOC_BODY = ("application/octet-stream", {"type": "string", "format": "binary"})
DOC_ERRORS = {413: "document larger than allowed", 415: "not a PDF, JPEG or PNG document"}


def _storage(call: Call) -> E.FileStorage:
    return E.storage_for(call.app[DB_KEY].url)


async def add_expense(call: Call) -> JsonObject:
    """Enter an expense paid or other income received; posted to the ledger at once."""
    b = call.body_as(S.ExpenseBody)
    call.principal.check_store(b.store)
    async with call.app[DB_KEY].session() as s:
        row = await E.record(s, store=b.store, kind=b.kind, code=b.code, amount=b.amount,
                             vat=b.vat, paid_via=b.paid_via, business_date=b.date,
                             description=b.description, actor=call.principal.actor)
        return E.expense_json(row)


async def list_expenses(call: Call) -> JsonObject:
    """Expenses and other income, newest first."""
    q = call.query_as(S.ExpensesQuery)
    store = call.principal.store_scope(q.store)
    stmt = select(Expense).order_by(Expense.id.desc()).limit(q.limit).offset(q.offset)
    if store is not None:
        stmt = stmt.where(Expense.store == store)
    if q.date_from:
        stmt = stmt.where(Expense.business_date >= q.date_from)
    if q.date_to:
        stmt = stmt.where(Expense.business_date <= q.date_to)
    async with call.app[DB_KEY].session() as s:
        return {"items": [E.expense_json(e) for e in await s.scalars(stmt)]}


async def _visible(call: Call, s: AsyncSession) -> Expense:
    row = await s.get(Expense, int(call.path["expense_id"]))
    if row is None:
        raise NotFound(f"no expense {call.path['expense_id']}")
    call.principal.check_store(row.store)
    return row


async def upload_document(call: Call) -> JsonObject:
    """Attach the expense's invoice or receipt (PDF, JPEG, PNG; checked by content)."""
    data = await call.request.read()
    async with call.app[DB_KEY].session() as s:
        row = await _visible(call, s)
        row = await E.attach(s, _storage(call), row.id, data)
        return E.expense_json(row)


async def get_document(call: Call) -> web.Response:
    """The attached document as it was uploaded."""
    async with call.app[DB_KEY].session() as s:
        row = await _visible(call, s)
    if not row.attachment_key:
        raise NotFound(f"expense {row.id} has no document")
    data = await _storage(call).get(row.attachment_key)
    return web.Response(body=data, content_type=row.attachment_type)


ROUTES = [
    Route("POST", P, add_expense, "Enter an expense or other income", "finance",
          auth="admin", roles=ROLES, body=S.ExpenseBody, status=201, response=S.ExpenseOut),
    Route("GET", P, list_expenses, "Expenses and other income", "finance", auth="admin",
          roles=ROLES, query=S.ExpensesQuery, response=S.Expenses),
    Route("PUT", f"{P}/{{expense_id}}/document", upload_document, "Attach the document",
          "finance", auth="admin", roles=ROLES, path_params={"expense_id": INT},
          raw_body=DOC_BODY, response=S.ExpenseOut, responses=DOC_ERRORS),
    Route("GET", f"{P}/{{expense_id}}/document", get_document, "The attached document",
          "finance", auth="admin", roles=ROLES, path_params={"expense_id": INT}, raw=True,
          response_type="*/*",  # the document's own type: PDF, JPEG or PNG
          response={"type": "string", "format": "binary"}),
]
