"""Mini-program API (``/api/v1/mp/...``): WeChat login, my orders, invoices.

Login follows WeChat's flow: the mini-program calls ``wx.login()`` for a
one-time ``code`` and sends it here; the bridge calls ``jscode2session`` with
its app id and app secret and gets the user's ``openid``. A session token is
bound to that openid; every order route answers only for the caller's orders
(another user's order is 404, so order numbers do not leak).

``SANDBOX_ROUTES`` is a local fake of ``jscode2session`` (``[mp] sandbox =
true``) that maps a code to an openid deterministically with the app secret, so
tests and the demo log in through the same client code as production.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import TYPE_CHECKING, Annotated, Literal, NotRequired, TypedDict

import aiohttp
from pydantic import Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject
from contract.pricebook import PriceBook

from . import auth, invoices, keys, orders, responses
from .db import Database
from .errors import InvalidRequest, NotFound, Unauthorized, Unavailable, UpstreamError
from .models import Order
from .openapi import Call, Ident, QueryModel, RequestModel, Route, ShortText, Text

if TYPE_CHECKING:
    from cloud_bridge.config import BridgeConfig

log = logging.getLogger(__name__)

SANDBOX_APP_SECRET = "sandbox-app-secret"
# WeChat error codes of jscode2session that mean "this code is no good".
BAD_CODE_ERRORS = {40029, 40163, 40226}


def _db(call: Call) -> Database:
    return call.app[keys.DB_KEY]


def _config(call: Call) -> BridgeConfig:
    return call.app[keys.CONFIG_KEY]


def app_secret(config: BridgeConfig) -> str | None:
    from .config import load_secret

    secret = load_secret(config.mp.app_secret_credential)
    if not secret and config.mp.sandbox:
        return SANDBOX_APP_SECRET
    return secret


class WechatLogin(TypedDict):
    """Who ``jscode2session`` says logged in."""

    openid: str
    session_key: NotRequired[str]


async def code2session(http: aiohttp.ClientSession, url: str, app_id: str, secret: str,
                       code: str) -> WechatLogin:
    """Call WeChat's ``jscode2session``; the openid (and session key) or a clear error."""
    params = {"appid": app_id, "secret": secret, "js_code": code,
              "grant_type": "authorization_code"}
    # The request URL carries the app secret: no error text below may contain it (an
    # aiohttp error names the URL), so replies and logs say only what kind of failure.
    try:
        async with http.get(url, params=params, allow_redirects=False) as resp:
            text = await resp.text()
            if resp.status != 200:
                raise UpstreamError(f"code2session answered HTTP {resp.status}")
    except aiohttp.ClientError as err:
        log.warning("code2session unreachable: %s", type(err).__name__)
        raise UpstreamError(f"code2session unreachable ({type(err).__name__})") from None
    except TimeoutError:
        raise UpstreamError("code2session timed out") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise UpstreamError("code2session answered something that is not JSON") from None
    if not isinstance(data, dict):
        raise UpstreamError("code2session answered something that is not a JSON object")
    try:
        errcode = int(data.get("errcode") or 0)
    except (TypeError, ValueError):
        raise UpstreamError("code2session answered a malformed errcode") from None
    if errcode in BAD_CODE_ERRORS:
        raise Unauthorized("the login code is invalid or used")
    if errcode:
        raise UpstreamError(f"code2session error {errcode}")
    openid = data.get("openid")
    if not isinstance(openid, str) or not openid:
        raise UpstreamError("code2session answered without an openid")
    login: WechatLogin = {"openid": openid}
    session_key = data.get("session_key")
    if isinstance(session_key, str):
        login["session_key"] = session_key
    return login


class SessionBody(RequestModel):
    code: ShortText = Field(description="the code from wx.login()")


async def mp_login(call: Call) -> JsonObject:
    """Log in with a wx.login() code: the bridge asks code2session who the user is."""
    config = _config(call)
    secret = app_secret(config)
    if not secret:
        raise Unavailable("mini-program app secret not configured")
    data = await code2session(call.app[keys.HTTP_KEY], config.mp.code2session_url,
                              config.mp.app_id, secret, call.body_as(SessionBody).code)
    async with _db(call).session() as s:
        token, expires = await auth.mp_login(s, data["openid"][:64],
                                             config.auth.mp_session_ttl_s)
    return {"token": token, "openid": data["openid"], "expires_at": expires.isoformat()}


class MyOrdersQuery(QueryModel):
    status: orders.OrderStatus | None = None
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=10**9)


async def my_orders(call: Call) -> JsonObject:
    """The caller's orders, newest first."""
    q = call.query_as(MyOrdersQuery)
    async with _db(call).session() as s:
        rows, total = await orders.list_orders(s, openid=call.openid, status=q.status,
                                               limit=q.limit, offset=q.offset)
    return {"total": total, "items": [orders.order_summary(o) for o in rows]}


async def _my_order(session: AsyncSession, call: Call, lock: bool = False) -> Order:
    order = await orders.get_order(session, call.path["order_no"], lock=lock)
    if order.openid != call.openid:
        raise NotFound(f"order {call.path['order_no']} not found")
    return order


async def my_order(call: Call) -> orders.OrderDetailJson:
    """One of the caller's orders (e-receipt): lines, totals, status, invoice."""
    async with _db(call).session() as s:
        order = await _my_order(s, call)
        return await orders.order_detail(s, order, staff=False)


class ClaimBody(RequestModel):
    token: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                       description="the t= value of the receipt's QR code (the order's secret)")


async def claim_order(call: Call) -> orders.OrderSummaryJson:
    """Attach a kiosk order to the caller: the receipt's QR token proves holding the receipt.

    Refusals are recorded and rate-limited per user and per address (selling.claims).
    """
    from .security.service import caller_source
    from .selling import claims

    token = call.body_as(ClaimBody).token
    db, openid = _db(call), call.openid
    source = caller_source(call.request.remote)
    order_no = call.path["order_no"]
    async with db.session() as s:
        await claims.check_claim_rate(s, openid, source)
        order: Order | None
        try:
            order = await orders.get_order(s, order_no, lock=True)
        except NotFound:
            order = None
        if order is None:
            reason = "unknown_order"
        elif order.openid not in (None, openid):
            reason = "other_owner"
        elif not claims.token_matches(order, token):
            reason = "bad_token"
        else:
            if order.openid is None:
                order.openid = openid
                s.add(orders._history(order, call.principal.actor, "claimed", order.status,
                                      order.status))
            return orders.order_summary(order)  # the session commits the claim on leaving
    raise await claims.refuse_claim(db, openid, source, order_no, reason)


class OrderLineBody(RequestModel):
    product_id: Ident
    qty: int = Field(ge=1, le=999)


class AddressBody(RequestModel):
    name: ShortText
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 -]{4,19}$")]
    address: Text


class CreateOrderBody(RequestModel):
    store: Ident
    lines: list[OrderLineBody] = Field(min_length=1, max_length=100)
    fulfillment: Literal["pickup", "delivery"] = "pickup"
    shipping_address: AddressBody | None = None
    note: Text | None = None
    coupon_id: Annotated[str, StringConstraints(pattern=r"^c[0-9a-f]{1,23}$")] | None = Field(
        default=None, description="one of my coupons (GET /api/v1/mp/coupons), locked to the "
        "order until it is paid (used) or closed, cancelled or refunded (released)")


async def store_price_book(call: Call, store: str) -> PriceBook:
    """The store's current published price book, else the ``[mp] price_book`` file."""
    from .catalog import published_book

    services = call.app[keys.SERVICES_KEY]
    book = await published_book(_db(call), services.catalog_books, store)
    if book is not None:
        return book
    if services.mp_price_book is None:
        path = _config(call).mp.price_book
        if path is None:
            raise Unavailable("mini-program ordering needs [mp] price_book")
        from contract.pricebook import load_price_book

        services.mp_price_book = load_price_book(path)
    return services.mp_price_book


async def create_order(call: Call) -> orders.OrderDetailJson:
    """Place an order (pickup or delivery), priced by the cloud; it waits for payment.

    With ``coupon_id`` the order is priced with the caller's coupon and the coupon is
    locked to it in the same transaction (mp_shop.coupons)."""
    from contract.pricing import CartLine, PricingContext, PricingError, price_cart
    from contract.wire.base import utcnow

    from .marketing.campaigns import record_discounts
    from .mp_shop import coupons

    b = call.body_as(CreateOrderBody)
    book = await store_price_book(call, b.store)
    cart = [CartLine(product_id=ln.product_id, qty=ln.qty) for ln in b.lines]
    at = utcnow()
    async with _db(call).session() as s:
        coupon = None
        if b.coupon_id is not None:
            coupon = await coupons.checkout_coupon(
                s, app_id=_config(call).mp.app_id, openid=call.openid, coupon_id=b.coupon_id,
                store=b.store, at=at)
        try:
            priced = price_cart(book, cart, PricingContext(
                now=at, coupons=(coupon.priced,) if coupon else ()))
        except PricingError as err:
            raise InvalidRequest(str(err)) from err
        if coupon is not None:
            coupons.check_applied(coupon, priced)
        lines: list[JsonObject] = [{"product_id": ln.product_id, "barcode": ln.barcode, "name_zh": ln.name_zh,
                  "name_en": ln.name_en, "qty": ln.qty, "unit_price": ln.unit_price,
                  "amount": ln.amount} for ln in priced.lines]
        order = await orders.create_mp_order(
            s, openid=call.openid, store=b.store, lines=lines,
            fulfillment=b.fulfillment,
            shipping_address=b.shipping_address.model_dump() if b.shipping_address else None,
            note=b.note, tz=_config(call).bridge.timezone, currency=priced.currency,
            details=coupons.order_details(priced))
        await s.flush()
        # The campaigns it got count it in their results (marketing.campaigns).
        await record_discounts(s, store=b.store, order_no=order.order_no,
                               member_id=order.member_id,
                               discounts=((a.id, a.amount) for a in priced.applied))
        if coupon is not None:
            await coupons.lock_to_order(s, coupon, order.order_no, at)
        return await orders.order_detail(s, order, staff=False)


class InvoiceBody(RequestModel):
    kind: Literal["personal", "company"]
    title: Text = Field(description="buyer name (抬头)")
    tax_id: ShortText | None = Field(default=None, description="纳税人识别号, companies")
    email: Text


async def request_invoice(call: Call) -> JsonObject:
    """Ask for a 发票 on one of the caller's orders."""
    b = call.body_as(InvoiceBody)
    async with _db(call).session() as s:
        order = await _my_order(s, call, lock=True)
        inv = await invoices.request_invoice(s, order, openid=call.openid, kind=b.kind,
                                             title=b.title, tax_id=b.tax_id, email=b.email)
        return {**orders.invoice_json(inv), "order_no": order.order_no}


async def get_invoice(call: Call) -> JsonObject:
    """The invoice request of one of the caller's orders."""
    async with _db(call).session() as s:
        order = await _my_order(s, call)
        detail = await orders.order_detail(s, order, staff=False)
    invoice = detail["invoice"]
    if invoice is None:
        raise NotFound(f"order {order.order_no} has no invoice request")
    return {**invoice, "order_no": order.order_no}


# --------------------------------------------------------------------------- sandbox


def sandbox_openid(app_id: str, secret: str, code: str) -> str:
    """The fake's deterministic code -> openid mapping (28 characters, like WeChat's)."""
    digest = hmac.new(secret.encode(), f"{app_id}:{code}".encode(), hashlib.sha256).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode().rstrip("=")[:27]


class Code2SessionQuery(QueryModel):
    appid: str = Field(default="", max_length=64)
    secret: str = Field(default="", max_length=256)
    js_code: str = Field(default="", max_length=256)
    grant_type: str = Field(default="", max_length=64)


async def sandbox_jscode2session(call: Call) -> JsonObject:
    """Local fake of WeChat's jscode2session (same parameters, fields and error codes)."""
    q = call.query_as(Code2SessionQuery)
    config = _config(call)
    if q.grant_type != "authorization_code":
        return {"errcode": 40002, "errmsg": "invalid grant_type"}
    if q.appid != config.mp.app_id:
        return {"errcode": 40013, "errmsg": "invalid appid"}
    if q.secret != app_secret(config):
        return {"errcode": 40125, "errmsg": "invalid appsecret"}
    if not q.js_code or q.js_code.startswith("invalid"):
        return {"errcode": 40029, "errmsg": "invalid code"}
    openid = sandbox_openid(q.appid, q.secret, q.js_code)
    session_key = base64.b64encode(hashlib.sha256((openid + q.secret).encode()).digest()[:16])
    return {"openid": openid, "session_key": session_key.decode()}


M = "/api/v1/mp"
ROUTES = [
    Route("POST", f"{M}/session", mp_login, "Log in with a wx.login() code", "mp",
          body=SessionBody, response=responses.MpSession,
          responses={401: "the login code is invalid or used",
                     502: "WeChat's code2session failed or answered nonsense",
                     503: "mini-program app secret not configured"}),
    Route("GET", f"{M}/orders", my_orders, "My orders", "mp", auth="mp", query=MyOrdersQuery,
          response=responses.OrderList),
    Route("POST", f"{M}/orders", create_order, "Place an order", "mp", auth="mp",
          body=CreateOrderBody, status=201, response=responses.OrderDetail,
          responses={404: "the coupon is not one of mine (or I am no member)",
                     409: "the coupon is used, locked to another order, expired, for another "
                          "store, or the order does not reach its threshold",
                     503: "no price book for mini-program orders"}),
    Route("GET", f"{M}/orders/{{order_no}}", my_order, "One of my orders", "mp", auth="mp",
          response=responses.OrderDetail),
    Route("POST", f"{M}/orders/{{order_no}}/claim", claim_order,
          "Claim a kiosk order from its receipt", "mp", auth="mp", body=ClaimBody,
          response=responses.OrderSummary,
          responses={429: "too many refused claims from this user or address"}),
    Route("POST", f"{M}/orders/{{order_no}}/invoice", request_invoice, "Request an invoice",
          "mp", auth="mp", body=InvoiceBody, status=201, response=responses.InvoiceOfOrder),
    Route("GET", f"{M}/orders/{{order_no}}/invoice", get_invoice, "My invoice request", "mp",
          auth="mp", response=responses.InvoiceOfOrder),
]
SANDBOX_ROUTES = [
    Route("GET", "/sandbox/sns/jscode2session", sandbox_jscode2session,
          "Sandbox fake of WeChat jscode2session", "sandbox", query=Code2SessionQuery,
          response=responses.Code2SessionReply),
]
