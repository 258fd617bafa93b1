"""Selling admin routes: kiosks' staff calls (呼叫店员) and parked carts (挂单).

``GET /api/v1/admin/staff-calls?store=&all=`` lists the open calls (the one waiting
longest first); store staff see their own store only. The fleet view
(``GET /api/v1/admin/fleet``) carries the same open call on each kiosk's row.

``GET /api/v1/admin/stores/{store}/parked/{park_no}`` finds a parked cart by its number;
``POST .../settle`` closes it once, paid at a staffed till (:mod:`.parked`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud_bridge import auth, responses
from cloud_bridge.keys import DB_KEY
from cloud_bridge.openapi import Call, Ident, QueryModel, RequestModel, Route, ShortText
from common.jsontypes import JsonObject

from .parked import ParkedCart, TillMethod, find_parked, settle_at_till
from .staff_calls import staff_calls

A = "/api/v1/admin"


class StaffCallQuery(QueryModel):
    store: Ident | None = None
    all: bool = False  # answered calls too (each kiosk's latest)


async def list_staff_calls(call: Call) -> JsonObject:
    """Open staff calls (呼叫店员), oldest first; ``all=true``: answered ones too."""
    q = call.query_as(StaffCallQuery)
    store = call.principal.store_scope(q.store)
    async with call.app[DB_KEY].session() as s:
        return {"items": await staff_calls(s, store, active_only=not q.all)}


PARK = {"store": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
        "park_no": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}


class SettleBody(RequestModel):
    method: TillMethod
    amount: int = Field(ge=0, le=10**10, description="fen; must be the parked total")
    reference: ShortText | None = Field(default=None, description="the till's receipt no")


class ParkedSettlementOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    how: str
    by: str
    method: str | None
    amount: int | None
    reference: str | None
    at: str


class ParkedCartOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store: str
    kiosk: str
    park_no: str
    parked_at: str
    total: int
    currency: str
    cart: JsonObject
    status: Literal["parked", "settled"]
    settlement: ParkedSettlementOut | None


async def get_parked(call: Call) -> ParkedCart:
    """A parked cart (挂单) of the store by its number, with its settlement if closed."""
    from cloud_bridge.errors import NotFound

    store, park_no = call.path["store"], call.path["park_no"]
    call.principal.check_store(store)
    async with call.app[DB_KEY].session() as s:
        cart = await find_parked(s, store, park_no)
    if cart is None:
        raise NotFound(f"no parked cart {park_no} in store {store}")
    return cart


async def settle_parked(call: Call) -> ParkedCart:
    """Close a parked cart once: paid at a staffed till (method, exact amount, reference)."""
    store, park_no = call.path["store"], call.path["park_no"]
    call.principal.check_store(store)
    body = call.body_as(SettleBody)
    async with call.app[DB_KEY].session() as s:
        return await settle_at_till(s, store, park_no, method=body.method, amount=body.amount,
                                    reference=body.reference, actor=call.principal.actor)


ROUTES = [
    Route("GET", f"{A}/stores/{{store}}/parked/{{park_no}}", get_parked,
          "A parked cart (挂单) by its number", "admin", auth="admin",
          roles=auth.OPERATIONS_ROLES, path_params=PARK, response=ParkedCartOut,
          responses={404: "no such parked cart in this store"}),
    Route("POST", f"{A}/stores/{{store}}/parked/{{park_no}}/settle", settle_parked,
          "Settle a parked cart paid at a staffed till (once)", "admin", auth="admin",
          roles=auth.OPERATIONS_ROLES, path_params=PARK, body=SettleBody,
          response=ParkedCartOut,
          responses={404: "no such parked cart in this store", 409: "already settled",
                     400: "amount is not the parked total"}),
    Route("GET", f"{A}/staff-calls", list_staff_calls, "Staff calls from kiosks (呼叫店员)",
          "admin", auth="admin", roles=auth.OPERATIONS_ROLES, query=StaffCallQuery,
          response=responses.StaffCallList),
]
