"""Routes of budgets; the actual-against-budget report is ``/reports/budget``."""

from __future__ import annotations

from sqlalchemy import select

from cloud_bridge import auth
from cloud_bridge.keys import DB_KEY
from cloud_bridge.openapi import Call, Route
from common.jsontypes import JsonObject

from . import schemas as S
from .budgets import set_budget
from .models import Budget

P = "/api/v1/admin/finance/budgets"
ROLES = (auth.HEAD_OFFICE, auth.FINANCE)


def budget_json(b: Budget) -> JsonObject:
    return {"store": b.store, "code": b.code, "month": b.month, "amount": b.amount,
            "updated_by": b.updated_by, "updated_at": b.updated_at.isoformat()}


async def put_budget(call: Call) -> JsonObject:
    """Set one budget line (store, account, month); setting it again changes it."""
    b = call.body_as(S.BudgetBody)
    call.principal.check_store(b.store)
    async with call.app[DB_KEY].session() as s:
        return budget_json(await set_budget(s, store=b.store, code=b.code, month=b.month,
                                            amount=b.amount, actor=call.principal.actor))


async def list_budgets(call: Call) -> JsonObject:
    """Budget lines of the visible stores."""
    query = call.query_as(S.BudgetsQuery)
    store = call.principal.store_scope(query.store)
    q = select(Budget).order_by(Budget.month, Budget.store, Budget.code)
    if store is not None:
        q = q.where(Budget.store == store)
    if query.month:
        q = q.where(Budget.month == query.month)
    async with call.app[DB_KEY].session() as s:
        return {"items": [budget_json(b) for b in await s.scalars(q.limit(5000))]}


ROUTES = [
    Route("POST", P, put_budget, "Set a budget line", "finance", auth="admin", roles=ROLES,
          body=S.BudgetBody, response=S.BudgetLine),
    Route("GET", P, list_budgets, "Budget lines", "finance", auth="admin", roles=ROLES,
          query=S.BudgetsQuery, response=S.Budgets),
]
