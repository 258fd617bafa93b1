"""Routes of after-sales: shoppers ask to return or exchange order lines with photos;
store staff approve (the return, the stock and the refund in one go) or reject."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import auth
from cloud_bridge import keys as app_keys
from cloud_bridge.errors import NotFound
from cloud_bridge.openapi import Call, QueryModel, RequestModel, Route, ShortText, Text
from common.jsontypes import JsonObject

from . import aftersales, attachments, schemas
from .api_common import ID_SCHEMA, TAG, A, M, db, path_id
from .api_tickets import IMAGE_BODY, IMAGE_ERRORS
from .models_aftersales import AfterSale
from .runtime import runtime

Reason = Literal["quality", "damaged", "expired", "wrong_item", "not_as_described",
                 "changed_mind", "other"]


class LineBody(RequestModel):
    line_no: int = Field(ge=1, le=10000)
    qty: int = Field(ge=1, le=100000)


class RequestBody(RequestModel):
    order_no: ShortText
    kind: Literal["return", "exchange"]
    reason: Reason
    description: Text | None = None
    lines: list[LineBody] = Field(min_length=1, max_length=100)
    photo_ids: list[ShortText] = Field(default_factory=list, max_length=aftersales.MAX_PHOTOS)


async def ask(call: Call) -> JsonObject:
    """Ask to return or exchange lines of one of my orders (409 past the time limit)."""
    b = call.body_as(RequestBody)

    async def work(s: AsyncSession) -> JsonObject:
        from cloud_bridge import orders

        order = await orders.get_order(s, b.order_no, lock=True)
        if order.openid != call.openid:
            raise NotFound(f"order {b.order_no} not found")
        req = await aftersales.create(
            s, order, actor=call.principal.actor, openid=call.openid, kind=b.kind,
            reason=b.reason, description=b.description,
            lines=[(ln.line_no, ln.qty) for ln in b.lines], photos=b.photo_ids)
        return await aftersales.to_json(s, req)

    return await db(call).transact(work)


class PhotoQuery(QueryModel):
    order_no: ShortText


async def upload_photo(call: Call) -> JsonObject:
    """A photo of the goods for an after-sales request on my order (checked by content)."""
    from cloud_bridge import orders

    order_no = call.query_as(PhotoQuery).order_no
    data = await call.request.read()
    async with db(call).session() as s:
        order = await orders.get_order(s, order_no)
        if order.openid != call.openid:
            raise NotFound(f"order {order_no} not found")
        att = await attachments.save_image(s, runtime(call.app).storage, data, store=order.store,
                                           owner=call.principal.actor, purpose="aftersales")
        return attachments.attachment_json(att)


async def mine(call: Call) -> JsonObject:
    """My after-sales requests, newest first."""
    async with db(call).read() as s:
        rows = (await s.scalars(select(AfterSale).where(AfterSale.openid == call.openid)
                                .order_by(AfterSale.id.desc()).limit(200))).all()
        return {"items": [await aftersales.to_json(s, r) for r in rows]}


async def _mine(s: AsyncSession, call: Call, *, lock: bool = False) -> AfterSale:
    req = await aftersales.get(s, path_id(call, "aftersales_id"), lock=lock)
    if req.openid != call.openid:
        raise NotFound(f"after-sales request {req.id} not found")
    return req


async def cancel(call: Call) -> JsonObject:
    """Withdraw my request while the store has not decided."""
    async def work(s: AsyncSession) -> JsonObject:
        req = await _mine(s, call, lock=True)
        await aftersales.cancel(s, req, actor=call.principal.actor)
        return await aftersales.to_json(s, req)

    return await db(call).transact(work)


class ListQuery(QueryModel):
    store: ShortText | None = None
    status: Literal["requested", "approved", "rejected", "cancelled"] | None = None


async def staff_list(call: Call) -> JsonObject:
    """After-sales requests of the caller's store (head office: any or all), oldest open first."""
    q = call.query_as(ListQuery)
    store = call.principal.store_scope(q.store)
    stmt = select(AfterSale).order_by(AfterSale.id)
    if store is not None:
        stmt = stmt.where(AfterSale.store == store)
    if q.status:
        stmt = stmt.where(AfterSale.status == q.status)
    async with db(call).read() as s:
        rows = (await s.scalars(stmt.limit(500))).all()
        return {"items": [await aftersales.to_json(s, r) for r in rows]}


async def _staff(s: AsyncSession, call: Call) -> AfterSale:
    req = await aftersales.get(s, path_id(call, "aftersales_id"), lock=True)
    if not call.principal.chain_wide and req.store != call.principal.store:
        raise NotFound(f"after-sales request {req.id} not found")
    return req


class ApproveBody(RequestModel):
    restock: bool = Field(description="goods fit to sell go back on the shelf")
    location: Literal["quarantine", "damaged"] | None = Field(
        default=None, description="where goods not restocked are kept")
    note: Text | None = None


async def approve(call: Call) -> JsonObject:
    """Approve: the return on the order, the stock, and (for a return) the refund, which is
    executed through the provider that took the money."""
    b = call.body_as(ApproveBody)
    refund_id: int | None = None

    async def work(s: AsyncSession) -> int:
        nonlocal refund_id
        req = await _staff(s, call)
        refund_id = await aftersales.approve(s, req, actor=call.principal.actor,
                                             restock=b.restock, location=b.location, note=b.note)
        return req.id

    req_id = await db(call).transact(work)
    executor = call.app[app_keys.SERVICES_KEY].refunds
    if refund_id is not None and executor is not None:
        await executor.execute(refund_id)
    async with db(call).read() as s:
        return await aftersales.to_json(s, await aftersales.get(s, req_id))


class RejectBody(RequestModel):
    note: Text


async def reject(call: Call) -> JsonObject:
    """Reject, saying why (the shopper sees the note)."""
    async def work(s: AsyncSession) -> JsonObject:
        req = await _staff(s, call)
        await aftersales.reject(s, req, actor=call.principal.actor,
                                note=call.body_as(RejectBody).note)
        return await aftersales.to_json(s, req)

    return await db(call).transact(work)


async def get_rules(call: Call) -> JsonObject:
    """Return periods in days per product category (``*``: every other category)."""
    async with db(call).read() as s:
        days = await aftersales.window_days(s, set())
        rules = dict((await s.execute(select(aftersales.AfterSaleRule.category,
                                             aftersales.AfterSaleRule.days))).tuples().all())
        return {"rules": rules or {"*": days["*"]}, "defect_days": aftersales.DEFECT_DAYS}


class RulesBody(RequestModel):
    rules: dict[ShortText, int] = Field(max_length=500)


async def put_rules(call: Call) -> JsonObject:
    """Replace the return periods (head office)."""
    from cloud_bridge.errors import InvalidRequest

    wanted = call.body_as(RulesBody).rules
    if any(not 0 <= d <= 365 for d in wanted.values()):
        raise InvalidRequest("a return period is 0 to 365 days")

    async def work(s: AsyncSession) -> JsonObject:
        rules = await aftersales.set_rules(s, wanted)
        return {"rules": rules, "defect_days": aftersales.DEFECT_DAYS}

    return await db(call).transact(work)


AS = {"aftersales_id": ID_SCHEMA}
ROUTES = [
    Route("POST", f"{M}/aftersales", ask, "Ask to return or exchange", TAG, auth="mp",
          body=RequestBody, status=201, response=schemas.SvcAfterSale,
          responses={409: "past the return period, or more than is left"}),
    Route("POST", f"{M}/aftersales/photos", upload_photo, "Upload a photo of the goods", TAG,
          auth="mp", query=PhotoQuery, raw_body=IMAGE_BODY, status=201,
          response=schemas.SvcAttachment, responses=IMAGE_ERRORS),
    Route("GET", f"{M}/aftersales", mine, "My after-sales requests", TAG, auth="mp",
          response=schemas.SvcAfterSaleList),
    Route("POST", f"{M}/aftersales/{{aftersales_id}}/cancel", cancel, "Withdraw my request",
          TAG, auth="mp", path_params=AS, response=schemas.SvcAfterSale),
    Route("GET", f"{A}/aftersales", staff_list, "After-sales requests", TAG, auth="admin",
          query=ListQuery, response=schemas.SvcAfterSaleList),
    Route("POST", f"{A}/aftersales/{{aftersales_id}}/approve", approve,
          "Approve: return, stock and refund", TAG, auth="admin", path_params=AS,
          body=ApproveBody, response=schemas.SvcAfterSale),
    Route("POST", f"{A}/aftersales/{{aftersales_id}}/reject", reject, "Reject with a reason",
          TAG, auth="admin", path_params=AS, body=RejectBody, response=schemas.SvcAfterSale),
    Route("GET", f"{A}/aftersales-rules", get_rules, "Return periods per category", TAG,
          auth="admin", response=schemas.SvcAfterSaleRules),
    Route("PUT", f"{A}/aftersales-rules", put_rules, "Replace the return periods", TAG,
          auth="admin", body=RulesBody, roles=(auth.HEAD_OFFICE,),
          response=schemas.SvcAfterSaleRules),
]
