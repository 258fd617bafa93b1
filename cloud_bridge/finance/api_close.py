"""Routes of the daily close (reconcile a store's day, decide each mismatch, close it)
and of the providers' T+1 settlements."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from pydantic import BaseModel, Field
from sqlalchemy import select

from cloud_bridge import auth
from cloud_bridge.db import Database
from cloud_bridge.errors import Forbidden, Unavailable
from cloud_bridge.keys import CONFIG_KEY, DB_KEY, SERVICES_KEY
from cloud_bridge.openapi import Call, RequestModel, Route
from cloud_bridge.payments.providers.base import ResponseNotTrusted
from common.jsontypes import JsonObject

from . import close as C
from . import schemas as S
from . import settlements
from .models import CloseMismatch, DailyClose

if TYPE_CHECKING:
    from cloud_bridge.payments.service import PaymentService

P = "/api/v1/admin/finance/closes"
ROLES = (auth.HEAD_OFFICE, auth.FINANCE)
INT = {"type": "integer", "minimum": 1, "maximum": 10**15}


def _db(call: Call) -> Database:
    return call.app[DB_KEY]


def _payments(call: Call) -> PaymentService | None:
    return call.app[SERVICES_KEY].payments


async def _shown(call: Call, close_id: int) -> JsonObject:
    async with _db(call).session() as s:
        close, items = await C.get_close(s, close_id)
        call.principal.check_store(close.store)
        return C.close_json(close, items)


async def start_close(call: Call) -> JsonObject:
    """Reconcile a store's day against the providers' bills (again, keeping decisions)."""
    b = call.body_as(S.CloseBody)
    store, day = b.store, b.date
    call.principal.check_store(store)
    bills = await C.fetch_bills(_payments(call), day)
    funds = await C.fetch_fund_flows(_payments(call), day)
    close_id = await C.reconcile(_db(call), store, day, bills, funds=funds,
                                 tz=call.app[CONFIG_KEY].bridge.timezone)
    return await _shown(call, close_id)


async def list_closes(call: Call) -> JsonObject:
    """Closes, newest day first, with their mismatches."""
    q = call.query_as(S.ClosesQuery)
    store = call.principal.store_scope(q.store)
    stmt = select(DailyClose).order_by(DailyClose.business_date.desc(), DailyClose.store)
    if store is not None:
        stmt = stmt.where(DailyClose.store == store)
    if q.status:
        stmt = stmt.where(DailyClose.status == q.status)
    async with _db(call).session() as s:
        closes = (await s.scalars(stmt.limit(q.limit).offset(q.offset))).all()
        items: dict[int, list[CloseMismatch]] = {c.id: [] for c in closes}
        if closes:
            for m in await s.scalars(select(CloseMismatch).where(
                    CloseMismatch.close_id.in_(list(items))).order_by(CloseMismatch.id)):
                items[m.close_id].append(m)
    return {"items": [C.close_json(c, items[c.id]) for c in closes]}


async def show_close(call: Call) -> JsonObject:
    """One close with every mismatch and its resolution."""
    return await _shown(call, int(call.path["close_id"]))


async def resolve_mismatch(call: Call) -> JsonObject:
    """Resolve or accept one mismatch (a finance decision, recorded with who and why)."""
    close_id, item_id = int(call.path["close_id"]), int(call.path["mismatch_id"])
    async with _db(call).session() as s:
        close, _ = await C.get_close(s, close_id)
        call.principal.check_store(close.store)
        b = call.body_as(S.ResolveBody)
        item = await C.resolve_mismatch(s, close_id, item_id, C.Resolution(b.resolution),
                                        b.note, call.principal.actor)
        return C.mismatch_json(item)


async def close_day(call: Call) -> JsonObject:
    """Close the day; refused (409) while any mismatch is open."""
    close_id = int(call.path["close_id"])
    async with _db(call).session() as s:
        close, _ = await C.get_close(s, close_id)
        call.principal.check_store(close.store)
        await C.close_day(s, close_id, call.principal.actor)
    return await _shown(call, close_id)


class SettleBody(RequestModel):
    date: S.Day = Field(description="the business day whose bills settle (T+1)")


class Settled(BaseModel):
    provider_fee: int = Field(description="fee entries written now")
    settlement: int = Field(description="settlement entries written now")


async def post_settlements(call: Call) -> dict[str, int]:
    """Post a day's provider fees and T+1 settlements to the bank from the bills (runs by
    itself every morning for the day before; posting twice writes nothing)."""
    if not call.principal.chain_wide:
        raise Forbidden("settlements are the chain's: head office or chain-wide finance")
    if _payments(call) is None:
        raise Unavailable("no payment providers configured")
    try:
        return await settlements.post_settlements(_db(call), _payments(call), call.body_as(SettleBody).date,
                                                  tz=call.app[CONFIG_KEY].bridge.timezone)
    except (ResponseNotTrusted, aiohttp.ClientError, TimeoutError) as err:
        raise Unavailable(f"a provider's bill could not be fetched: {err}") from err


ROUTES = [
    Route("POST", "/api/v1/admin/finance/settlements", post_settlements,
          "Post a day's provider fees and settlements", "finance", auth="admin", roles=ROLES,
          body=SettleBody, response=Settled,
          responses={503: "no payment providers, or a bill could not be fetched"}),
    Route("POST", P, start_close, "Reconcile a store's day (daily close)", "finance",
          auth="admin", roles=ROLES, body=S.CloseBody, response=S.Close),
    Route("GET", P, list_closes, "Daily closes", "finance", auth="admin", roles=ROLES,
          query=S.ClosesQuery, response=S.Closes),
    Route("GET", f"{P}/{{close_id}}", show_close, "One daily close", "finance", auth="admin",
          roles=ROLES, path_params={"close_id": INT}, response=S.Close),
    Route("POST", f"{P}/{{close_id}}/mismatches/{{mismatch_id}}/resolve", resolve_mismatch,
          "Resolve or accept a mismatch", "finance", auth="admin", roles=ROLES,
          body=S.ResolveBody, path_params={"close_id": INT, "mismatch_id": INT},
          response=S.Mismatch),
    Route("POST", f"{P}/{{close_id}}/close", close_day, "Close the day", "finance",
          auth="admin", roles=ROLES, path_params={"close_id": INT}, response=S.Close),
]
