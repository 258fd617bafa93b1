"""Routes of e-invoices (数电发票): issue a request's blue invoice, red-letter invoices,
their PDFs; the shopper's own invoices in the mini-program."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from cloud_bridge import auth, invoices, orders
from cloud_bridge.db import get_row
from cloud_bridge.errors import Forbidden, InvalidRequest, NotFound, Unavailable
from cloud_bridge.keys import CONFIG_KEY, DB_KEY, SERVICES_KEY
from cloud_bridge.models import Invoice, Order
from cloud_bridge.openapi import Call, Ident, QueryModel, RequestModel, Route, ShortText, Text
from cloud_bridge.payments.providers.wechat import WechatPayProvider
from common.jsontypes import JsonObject

from . import fapiao as F
from .expenses import storage_for
from .fapiao_client import FapiaoClient
from .models import Fapiao

P = "/api/v1/admin/finance/fapiao"
M = "/api/v1/mp/orders/{order_no}/invoice/fapiao"
ROLES = (auth.HEAD_OFFICE, auth.FINANCE)
INT = {"type": "integer", "minimum": 1, "maximum": 10**15}
ORDER_NO = {"type": "string", "minLength": 1, "maxLength": 64}
PDF = {"type": "string", "format": "binary"}


class Buyer(RequestModel):
    kind: str = Field(pattern="^(personal|company)$")
    title: Text = Field(description="buyer name (抬头)")
    tax_id: ShortText | None = Field(default=None, description="纳税人识别号, companies")
    email: Text


class IssueBody(RequestModel):
    invoice_id: int | None = Field(default=None, ge=1, le=10**15,
                                   description="an invoice request (发票申请) to issue")
    order_no: ShortText | None = Field(default=None, description="or: an order to request "
                                       "and issue an invoice for at the counter, with buyer")
    buyer: Buyer | None = None


class RedBody(RequestModel):
    amount: int = Field(ge=1, le=10**12, description="fen to reverse, VAT included")
    reason_code: str = Field(pattern="^0[1-4]$", description="01 开票有误, 02 销货退回, "
                             "03 服务中止, 04 销售折让")
    request_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$",
                            description="the caller's key: a retry answers the same invoice")


class FapiaoQuery(QueryModel):
    store: Ident | None = None
    invoice_id: int | None = Field(default=None, ge=1, le=10**15)
    status: str | None = Field(default=None, pattern="^(applying|confirming|accepted|"
                               "issued|failed)$")
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class FapiaoOut(BaseModel):
    id: int
    invoice_id: int
    store: str
    color: str
    apply_id: str
    blue_id: int | None
    source: str | None
    reason_code: str | None
    confirmation_no: str | None
    status: str
    total: int
    tax: int
    items: list[JsonObject]
    number: str | None
    code: str | None
    issued_at: str | None
    has_pdf: bool
    error: str | None
    created_by: str
    created_at: str


class FapiaoList(BaseModel):
    items: list[FapiaoOut]


class Synced(BaseModel):
    documents: dict[str, int]


def _client(call: Call) -> FapiaoClient:
    payments = call.app[SERVICES_KEY].payments
    wechat = payments.providers.get("wechat") if payments is not None else None
    if not isinstance(wechat, WechatPayProvider):
        raise Unavailable("no WeChat Pay merchant configured: the e-invoice platform is "
                          "reached through it")
    return FapiaoClient(wechat)


async def _advance(call: Call, doc_id: int) -> JsonObject:
    db = call.app[DB_KEY]
    await F.sync_one(db, _client(call), storage_for(db.url), doc_id,
                     tz=call.app[CONFIG_KEY].bridge.timezone)
    async with db.session() as s:
        return F.fapiao_json(await get_row(s, Fapiao, doc_id))


async def issue(call: Call) -> JsonObject:
    """Issue the blue e-invoice of an invoice request, or request and issue one for an
    order at the counter (asynchronous on the platform)."""
    b = call.body_as(IssueBody)
    if (b.invoice_id is None) == (b.order_no is None) or (b.order_no and b.buyer is None):
        raise InvalidRequest("give invoice_id, or order_no with buyer")
    async with call.app[DB_KEY].session() as s:
        order: Order | None
        inv: Invoice | None
        invoice_id: int
        if b.order_no is not None and b.buyer is not None:
            order = await orders.get_order(s, b.order_no, lock=True)
            call.principal.check_store(order.store)
            _client(call)
            inv = await invoices.request_invoice(
                s, order, openid=None, kind=b.buyer.kind, title=b.buyer.title,
                tax_id=b.buyer.tax_id, email=b.buyer.email)
            invoice_id = inv.id
        elif b.invoice_id is not None:
            invoice_id = b.invoice_id
            inv = await s.get(Invoice, invoice_id)
            order = await s.get(Order, inv.order_id) if inv else None
            if order is not None:
                call.principal.check_store(order.store)
            _client(call)
        else:  # not reached: the check above refuses every other shape of the body
            raise InvalidRequest("give invoice_id, or order_no with buyer")
        doc = await F.start_blue(s, inv.id if inv else invoice_id, call.principal.actor)
        await s.flush()
        doc_id = doc.id
    return await _advance(call, doc_id)


async def red(call: Call) -> JsonObject:
    """Reverse all or part of an issued blue e-invoice with a red-letter one (红字发票)."""
    b = call.body_as(RedBody)
    async with call.app[DB_KEY].session() as s:
        blue = await s.get(Fapiao, int(call.path["fapiao_id"]))
        if blue is None or blue.color != F.BLUE:
            raise NotFound(f"no blue e-invoice {call.path['fapiao_id']}")
        call.principal.check_store(blue.store)
        _client(call)
        doc = await F.start_red(s, blue.invoice_id, b.amount, b.reason_code,
                                f"M{b.request_id}", call.principal.actor)
        doc_id = doc.id
    return await _advance(call, doc_id)


async def list_fapiao(call: Call) -> JsonObject:
    """E-invoices, newest first."""
    q = call.query_as(FapiaoQuery)
    store = call.principal.store_scope(q.store)
    stmt = select(Fapiao).order_by(Fapiao.id.desc()).limit(q.limit).offset(q.offset)
    if store is not None:
        stmt = stmt.where(Fapiao.store == store)
    if q.invoice_id is not None:
        stmt = stmt.where(Fapiao.invoice_id == q.invoice_id)
    if q.status is not None:
        stmt = stmt.where(Fapiao.status == q.status)
    async with call.app[DB_KEY].session() as s:
        return {"items": [F.fapiao_json(d) for d in await s.scalars(stmt)]}


async def sync_now(call: Call) -> JsonObject:
    """Raise red-letter invoices for refunds and move pending e-invoices on (also runs
    every minute by itself)."""
    if not call.principal.chain_wide:
        raise Forbidden("the e-invoice sync runs for the whole chain")
    db = call.app[DB_KEY]
    return {"documents": await F.sync(db, _client(call), storage_for(db.url),
                                      tz=call.app[CONFIG_KEY].bridge.timezone)}


async def _pdf(call: Call, doc: Fapiao | None) -> web.Response:
    if doc is None or not doc.file_key:
        raise NotFound("no issued e-invoice file")
    data = await storage_for(call.app[DB_KEY].url).get(doc.file_key)
    return web.Response(body=data, content_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{doc.number}.pdf"'})


async def get_pdf(call: Call) -> web.Response:
    """The e-invoice's PDF as the tax platform issued it."""
    async with call.app[DB_KEY].session() as s:
        doc = await s.get(Fapiao, int(call.path["fapiao_id"]))
        if doc is not None:
            call.principal.check_store(doc.store)
    return await _pdf(call, doc)


async def _my_docs(call: Call) -> list[Fapiao]:
    async with call.app[DB_KEY].session() as s:
        order = await s.scalar(select(Order).where(Order.order_no == call.path["order_no"]))
        if order is None or order.openid != call.principal.openid:
            raise NotFound(f"order {call.path['order_no']} not found")
        return list(await s.scalars(
            select(Fapiao).join(Invoice, Invoice.id == Fapiao.invoice_id)
            .where(Invoice.order_id == order.id, Fapiao.status == F.ISSUED)
            .order_by(Fapiao.id)))


async def my_fapiao(call: Call) -> JsonObject:
    """The issued e-invoices of one of my orders (blue, and red ones for refunds)."""
    return {"items": [F.fapiao_json(d) for d in await _my_docs(call)]}


async def my_pdf(call: Call) -> web.Response:
    """The PDF of one of my e-invoices."""
    wanted = int(call.path["fapiao_id"])
    return await _pdf(call, next((d for d in await _my_docs(call) if d.id == wanted), None))


NEEDS_WECHAT = {503: "no WeChat Pay merchant configured"}
ROUTES = [
    Route("POST", P, issue, "Issue the e-invoice of an invoice request", "finance",
          auth="admin", roles=ROLES, body=IssueBody, status=201, response=FapiaoOut,
          responses=NEEDS_WECHAT),
    Route("POST", f"{P}/{{fapiao_id}}/red", red, "Red-letter invoice against an e-invoice",
          "finance", auth="admin", roles=ROLES, body=RedBody, status=201,
          path_params={"fapiao_id": INT}, response=FapiaoOut, responses=NEEDS_WECHAT),
    Route("GET", P, list_fapiao, "E-invoices", "finance", auth="admin", roles=ROLES,
          query=FapiaoQuery, response=FapiaoList),
    Route("POST", f"{P}/sync", sync_now, "Move pending e-invoices on now", "finance",
          auth="admin", roles=ROLES, response=Synced, responses=NEEDS_WECHAT),
    Route("GET", f"{P}/{{fapiao_id}}/pdf", get_pdf, "The e-invoice PDF", "finance",
          auth="admin", roles=ROLES, path_params={"fapiao_id": INT}, raw=True,
          response_type="application/pdf", response=PDF),
    Route("GET", M, my_fapiao, "My order's e-invoices", "mini-program", auth="mp",
          path_params={"order_no": ORDER_NO}, response=FapiaoList),
    Route("GET", f"{M}/{{fapiao_id}}/pdf", my_pdf, "My e-invoice's PDF", "mini-program",
          auth="mp", path_params={"order_no": ORDER_NO, "fapiao_id": INT}, raw=True,
          response_type="application/pdf", response=PDF),
]
