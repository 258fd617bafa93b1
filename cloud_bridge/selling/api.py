"""Selling admin routes: kiosks' staff calls (呼叫店员).

``GET /api/v1/admin/staff-calls?store=&all=`` lists the open calls (the one waiting
longest first); store staff see their own store only. The fleet view
(``GET /api/v1/admin/fleet``) carries the same open call on each kiosk's row.
"""

from __future__ import annotations

from typing import Any

from cloud_bridge import auth, responses
from cloud_bridge.keys import DB_KEY
from cloud_bridge.openapi import Call, Ident, QueryModel, Route

from .staff_calls import staff_calls

A = "/api/v1/admin"


class StaffCallQuery(QueryModel):
    store: Ident | None = None
    all: bool = False  # answered calls too (each kiosk's latest)


async def list_staff_calls(call: Call) -> dict[str, Any]:
    """Open staff calls (呼叫店员), oldest first; ``all=true``: answered ones too."""
    store = call.principal.store_scope(call.query.store)
    async with call.app[DB_KEY].session() as s:
        return {"items": await staff_calls(s, store, active_only=not call.query.all)}


ROUTES = [
    Route("GET", f"{A}/staff-calls", list_staff_calls, "Staff calls from kiosks (呼叫店员)",
          "admin", auth="admin", roles=auth.OPERATIONS_ROLES, query=StaffCallQuery,
          response=responses.StaffCallList),
]
