"""Console API (``/api/v1/admin/...``): orders, stock, statistics, invoices, fleet, commands.

Every route but the login needs an admin bearer token. Store staff see their
own store only (a request for another store is 403, an order of another store
is 404 so that order numbers do not leak); head office sees every store.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject
from contract.signing import sign_shadow
from contract.wire.commands import CommandName
from contract.wire.shadow import ShadowDesired
from contract.wire.topics import KioskTopics

from . import auth, commands, fleet, inventory, invoices, keys, orders, responses, stats
from .config import BridgeConfig
from .db import Database, get_row
from .errors import Conflict, Forbidden, NotFound, Unavailable
from .ingest import Ingest
from .models import Alert, Order, RefundRequest
from .openapi import Call, Ident, IsoDate, QueryModel, RequestModel, Route, ShortText, Text
from .selling.staff_calls import attach_to_fleet

MAX_FEN = 10**12  # bounds every amount a request may carry (a trillion fen)
MAX_QTY = 10**7


def _db(call: Call) -> Database:
    return call.app[keys.DB_KEY]


def _config(call: Call) -> BridgeConfig:
    return call.app[keys.CONFIG_KEY]


def _page(call: Call, limit: int) -> int:
    return min(limit, _config(call).http.page_max)


async def _visible_order(session: AsyncSession, call: Call, order_no: str, lock: bool = False) -> Order:
    order = await orders.get_order(session, order_no, lock=lock)
    if call.principal.role != auth.HEAD_OFFICE and order.store != call.principal.store:
        raise NotFound(f"order {order_no} not found")
    return order


# --------------------------------------------------------------------------- session


class LoginBody(RequestModel):
    username: ShortText
    secret: Text


async def admin_login(call: Call) -> JsonObject:
    """Exchange username + secret for a bearer token."""
    # Throttled, with lockout, and argon2 outside any transaction (cloud_bridge.security).
    from .security import runtime as security_runtime
    from .security import service as security

    body = call.body_as(LoginBody)
    token, expires, user = await security.login(
        _db(call), security_runtime.guard(call.app), body.username, body.secret,
        security.caller_source(call.request.remote), _config(call).auth.admin_token_ttl_s)
    return {"token": token, "expires_at": expires.isoformat(), "role": user.role,
            "store": user.store, "username": user.username}


async def admin_whoami(call: Call) -> JsonObject:
    """The caller's identity and scope."""
    p = call.principal
    return {"username": p.username, "role": p.role, "store": p.store}


# --------------------------------------------------------------------------- orders


class OrdersQuery(QueryModel):
    store: Ident | None = None
    status: orders.OrderStatus | None = None
    date_from: IsoDate | None = None
    date_to: IsoDate | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


async def list_orders(call: Call) -> JsonObject:
    """Orders, newest first, filtered by store, status and business date."""
    q = call.query_as(OrdersQuery)
    store = call.principal.store_scope(q.store)
    async with _db(call).session() as s:
        rows, total = await orders.list_orders(
            s, store=store, status=q.status, date_from=q.date_from, date_to=q.date_to,
            limit=_page(call, q.limit), offset=q.offset)
    return {"total": total, "items": [orders.order_summary(o) for o in rows]}


async def get_order(call: Call) -> orders.OrderDetailJson:
    """One order with lines, history (who and when), notes, refunds, returns, invoice."""
    async with _db(call).session() as s:
        order = await _visible_order(s, call, call.path["order_no"])
        return await orders.order_detail(s, order, staff=True)


class StatusBody(RequestModel):
    status: orders.ManualTarget
    carrier: ShortText | None = None
    tracking_no: ShortText | None = None
    reason: Text | None = None


async def change_order_status(call: Call) -> orders.OrderDetailJson:
    """Move the order along its lifecycle (paid, pending shipment, shipped, ...)."""
    b = call.body_as(StatusBody)
    async with _db(call).session() as s:
        order = await _visible_order(s, call, call.path["order_no"], lock=True)
        if b.status == orders.PAID and order.source == "mp" and order.status == orders.CREATED:
            await orders.mark_paid(s, order.order_no, call.principal.actor)
        else:
            await orders.change_status(s, order, b.status, call.principal.actor,
                                       carrier=b.carrier, tracking_no=b.tracking_no,
                                       reason=b.reason)
        return await orders.order_detail(s, order, staff=True)


class OrderNoteBody(RequestModel):
    text: Text


async def add_order_note(call: Call) -> JsonObject:
    """Add a note (special request, gift message, staff remark)."""
    async with _db(call).session() as s:
        order = await _visible_order(s, call, call.path["order_no"])
        note = await orders.add_note(s, order, call.principal.actor,
                                     call.body_as(OrderNoteBody).text)
        await s.flush()
        return {"order_no": order.order_no, "at": note.at.isoformat(), "author": note.author,
                "text": note.text}


class RefundBody(RequestModel):
    amount: int = Field(ge=1, le=MAX_FEN, description="fen")
    reason: Text
    confirm: bool = Field(default=False, description="a second identical refund within a "
                          "minute is refused (409) unless confirmed")


async def request_refund(call: Call) -> orders.RefundJson:
    """Store a refund request and execute it (the refund's status is in the reply).

    ``Idempotency-Key``: the same key and request answer the same refund, never a new one
    (:mod:`.security.refund_guard`).
    """
    from .security import refund_guard as guard

    body = call.body_as(RefundBody)
    actor, key = call.principal.actor, guard.key_of(call.request.headers)
    asked = guard.fingerprint(call.request.path, body)
    async with _db(call).session() as s:
        order = await _visible_order(s, call, call.path["order_no"], lock=True)
        first = await guard.earlier_refund(s, actor, key, asked) if key else None
        if first is not None:  # the same request again: the same refund, as it is now
            req = await get_row(s, RefundRequest, first)
            return orders.refund_json(req, order.order_no)
        if not body.confirm:
            await guard.refuse_repeat(s, order.id, body.amount)
        req = await orders.request_refund(s, order, body.amount, body.reason, actor)
        if key:
            guard.remember(s, actor, key, asked, req.id)
        out = orders.refund_json(req, order.order_no)
    # Executed after the commit by the payments side (cloud_bridge.payments.runtime).
    executor = call.app[keys.SERVICES_KEY].refunds
    return (await executor.execute(out["id"]) or out) if executor is not None else out


class RefundsQuery(QueryModel):
    store: Ident | None = None
    status: Literal["requested", "processing", "succeeded", "failed"] | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


async def list_refunds(call: Call) -> JsonObject:
    """Refund requests, newest first."""
    q = call.query_as(RefundsQuery)
    store = call.principal.store_scope(q.store)
    stmt = (select(RefundRequest, Order).join(Order, Order.id == RefundRequest.order_id)
            .order_by(RefundRequest.id.desc()).limit(_page(call, q.limit)).offset(q.offset))
    if store is not None:
        stmt = stmt.where(Order.store == store)
    if q.status is not None:
        stmt = stmt.where(RefundRequest.status == q.status)
    async with _db(call).session() as s:
        rows = (await s.execute(stmt)).all()
    return {"items": [orders.refund_json(r, o.order_no) for r, o in rows]}


class ReturnLine(RequestModel):
    line_no: int = Field(ge=1, le=100000)
    qty: int = Field(ge=1, le=MAX_QTY)


class ReturnBody(RequestModel):
    kind: Literal["return", "exchange"]
    reason: Text
    restock: bool = True
    location: Literal["shelf", "quarantine", "damaged"] | None = Field(
        default=None, description="where the goods go: the shelf when restocked (default), "
        "else quarantine or damaged keeps them aside by lot; none: not kept")
    lines: list[ReturnLine] = Field(min_length=1, max_length=200)


async def record_return(call: Call) -> JsonObject:
    """Record a return or exchange (with reason); restocked units go back on hand."""
    b = call.body_as(ReturnBody)
    async with _db(call).session() as s:
        order = await _visible_order(s, call, call.path["order_no"], lock=True)
        rec = await orders.record_return(s, order, kind=b.kind, reason=b.reason,
                                         restock=b.restock,
                                         lines=[(ln.line_no, ln.qty) for ln in b.lines],
                                         actor=call.principal.actor, location=b.location)
        return {"id": rec.id, "order_no": order.order_no, "kind": rec.kind,
                "restock": rec.restock, "lines": rec.lines, "order_status": order.status}


# --------------------------------------------------------------------------- stock


class StockQuery(QueryModel):
    store: Ident | None = None
    product_id: Ident | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


async def list_stock(call: Call) -> JsonObject:
    """Stock on hand per store and product (negative means oversold; see alerts)."""
    q = call.query_as(StockQuery)
    store = call.principal.store_scope(q.store)
    async with _db(call).session() as s:
        rows = await inventory.list_stock(s, store, q.product_id, _page(call, q.limit), q.offset)
    return {"items": [inventory.stock_json(r) for r in rows]}


class StockSetBody(RequestModel):
    on_hand: int = Field(ge=0, le=MAX_QTY * 1000)


async def set_stock(call: Call) -> inventory.StockJson:
    """Set the counted stock of a product (stock take or delivery)."""
    store, product_id = call.path["store"], call.path["product_id"]
    call.principal.check_store(store)
    async with _db(call).session() as s:
        row = await inventory.set_on_hand(s, store, product_id,
                                          call.body_as(StockSetBody).on_hand)
        return inventory.stock_json(row)


class StockAdjustBody(RequestModel):
    delta: int = Field(ge=-MAX_QTY * 1000, le=MAX_QTY * 1000)
    reason: Text


async def adjust_stock(call: Call) -> JsonObject:
    """Add (delivery) or remove (damage, shrinkage) units; a shortfall raises an alert."""
    body = call.body_as(StockAdjustBody)
    store, product_id = call.path["store"], call.path["product_id"]
    call.principal.check_store(store)
    async with _db(call).session() as s:
        alerts = await inventory.apply_deltas(
            s, {(store, product_id): body.delta}, source="adjustment",
            context={(store, product_id): {"reason": body.reason,
                                           "by": call.principal.actor}})
        row = await s.get(inventory.Stock, (store, product_id), populate_existing=True)
        if row is None:  # a zero adjustment of a product never counted
            row = inventory.Stock(store=store, product_id=product_id, on_hand=0,
                                  updated_at=None)
        return {**inventory.stock_json(row), "alerts": len(alerts)}


class AlertsQuery(QueryModel):
    store: Ident | None = None
    kind: Ident | None = None
    resolved: bool = False
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


async def list_alerts(call: Call) -> JsonObject:
    """Alerts staff must look at: oversells, duplicate order numbers."""
    q = call.query_as(AlertsQuery)
    store = call.principal.store_scope(q.store)
    stmt = (select(Alert).where(Alert.resolved == q.resolved).order_by(Alert.id.desc())
            .limit(_page(call, q.limit)).offset(q.offset))
    if store is not None:
        stmt = stmt.where(Alert.store == store)
    if q.kind is not None:
        stmt = stmt.where(Alert.kind == q.kind)
    async with _db(call).session() as s:
        rows = (await s.scalars(stmt)).all()
    return {"items": [inventory.alert_json(a) for a in rows]}


async def resolve_alert(call: Call) -> JsonObject:
    """Mark an alert as dealt with."""
    async with _db(call).session() as s:
        alert = await s.get(Alert, int(call.path["alert_id"]))
        if alert is None:
            raise NotFound(f"alert {call.path['alert_id']} not found")
        call.principal.check_store(alert.store)
        alert.resolved = True
        return inventory.alert_json(alert)


# --------------------------------------------------------------------------- stats, invoices


class StatsQuery(QueryModel):
    store: Ident | None = None
    date_from: IsoDate | None = None
    date_to: IsoDate | None = None


async def order_stats(call: Call) -> JsonObject:
    """Per store per business day: orders, revenue, average order value, refunds (fen)."""
    q = call.query_as(StatsQuery)
    store = call.principal.store_scope(q.store)
    async with _db(call).session() as s:
        rows = await stats.daily_stats(s, store=store, date_from=q.date_from, date_to=q.date_to)
    return {"items": rows}


class InvoicesQuery(QueryModel):
    store: Ident | None = None
    status: invoices.InvoiceStatus | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


async def list_invoices(call: Call) -> JsonObject:
    """Invoice (发票) requests with their status."""
    q = call.query_as(InvoicesQuery)
    store = call.principal.store_scope(q.store)
    async with _db(call).session() as s:
        rows = await invoices.list_invoices(s, store=store, status=q.status,
                                            limit=_page(call, q.limit), offset=q.offset)
    return {"items": [{**orders.invoice_json(i), "order_no": o.order_no, "store": o.store}
                      for i, o in rows]}


class InvoiceStatusBody(RequestModel):
    status: invoices.InvoiceStatus
    error: Text | None = None


async def set_invoice_status(call: Call) -> JsonObject:
    """Record the outcome of issuing an invoice."""
    body = call.body_as(InvoiceStatusBody)
    async with _db(call).session() as s:
        inv = await s.get(invoices.Invoice, int(call.path["invoice_id"]))
        if inv is None:
            raise NotFound(f"invoice {call.path['invoice_id']} not found")
        order = await get_row(s, Order, inv.order_id)
        call.principal.check_store(order.store)
        inv = await invoices.set_status(s, inv.id, body.status, body.error)
        return {**orders.invoice_json(inv), "order_no": order.order_no}


# --------------------------------------------------------------------------- fleet


class FleetQuery(QueryModel):
    store: Ident | None = None


async def fleet_view(call: Call) -> JsonObject:
    """Every kiosk: online/offline since when, queue depth, oldest unsent, devices, versions."""
    store = call.principal.store_scope(call.query_as(FleetQuery).store)
    async with _db(call).session() as s:
        items = await fleet.fleet_view(s, store)
        await attach_to_fleet(s, items)  # 呼叫店员 on each kiosk's row until answered
        return {"items": items}


async def kiosk_detail(call: Call) -> JsonObject:
    """One kiosk: fleet row, last telemetry, reported and desired shadow, command results."""
    store, kiosk = call.path["store"], call.path["kiosk"]
    call.principal.check_store(store)
    async with _db(call).session() as s:
        detail = await fleet.kiosk_detail(s, store, kiosk)
    if detail is None:
        raise NotFound(f"kiosk {store}/{kiosk} not known")
    return detail


class CommandBody(RequestModel):
    name: CommandName
    args: JsonObject = Field(default_factory=dict, max_length=32)


def _publisher(call: Call) -> Ingest:
    ingest = call.app.get(keys.INGEST_KEY)
    if ingest is None or not ingest.connected.is_set():
        raise Unavailable("the bridge is not connected to the MQTT broker")
    return ingest


async def send_command(call: Call) -> JsonObject:
    """Sign and send a fleet command (ping, reboot, maintenance, reprint, ...)."""
    body = call.body_as(CommandBody)
    store, kiosk = call.path["store"], call.path["kiosk"]
    call.principal.check_store(store)
    config = _config(call)
    key = commands.load_signing_key(config)
    if key is None:
        raise Unavailable("no command signing key provisioned "
                          f"(credential {config.commands.signing_key_credential})")
    ingest = _publisher(call)
    cmd = await commands.publish_command(ingest, key, store, kiosk, body.name,
                                         body.args, ttl_s=config.commands.ttl_s)
    return {"cmd_id": cmd.cmd_id, "name": cmd.name, "store": store, "kiosk": kiosk,
            "expires_at": cmd.expires_at.isoformat()}


class ShadowBody(RequestModel):
    version: int = Field(ge=1, le=2**31 - 1)
    config: JsonObject = Field(max_length=100)


# Desired-state keys that move money (offline stored-value spending): head office only.
MONEY_SHADOW_KEYS = {"offline": {"max_offline_stored_value_fen", "max_offline_sale_fen"}}


async def set_shadow(call: Call) -> JsonObject:
    """Publish a new desired configuration (retained, signed like a command); the kiosk
    reports what it applied. Offline money limits: head office only."""
    body = call.body_as(ShadowBody)
    store, kiosk = call.path["store"], call.path["kiosk"]
    call.principal.check_store(store)
    for section, keys_ in MONEY_SHADOW_KEYS.items():
        values = body.config.get(section)
        if isinstance(values, dict) and keys_ & set(values) and \
                call.principal.role != auth.HEAD_OFFICE:
            raise Forbidden(f"only head office sets {section} money limits")
    key = commands.load_signing_key(_config(call))
    if key is None:
        raise Unavailable("no command signing key provisioned: a desired state is signed")
    ingest = _publisher(call)
    async with _db(call).session() as s:
        current = await fleet.kiosk_detail(s, store, kiosk)
        last = current.get("desired_version") if current else None
        if isinstance(last, int) and last and body.version <= last:
            raise Conflict(f"version must be above {last}")
        await fleet.record_desired(s, store, kiosk, body.version, body.config)
    desired = sign_shadow(ShadowDesired(version=body.version, config=body.config,
                                        store=store, kiosk=kiosk), key)
    await ingest.publish(KioskTopics(store, kiosk).shadow_desired, desired.encode(), qos=1,
                         retain=True)
    return {"store": store, "kiosk": kiosk, "version": desired.version}


async def get_shadow(call: Call) -> JsonObject:
    """Desired and reported configuration of a kiosk."""
    store, kiosk = call.path["store"], call.path["kiosk"]
    call.principal.check_store(store)
    async with _db(call).session() as s:
        detail = await fleet.kiosk_detail(s, store, kiosk)
    if detail is None:
        raise NotFound(f"kiosk {store}/{kiosk} not known")
    return {"desired_version": detail["desired_version"], "desired": detail["desired"],
            "reported": detail["reported"], "config_version": detail["config_version"]}


INT_ID = {"type": "integer", "minimum": 1, "maximum": 10**15}
A = "/api/v1/admin"
NO_BROKER = "the bridge is not connected to the MQTT broker"
NO_BROKER_OR_KEY = "no command signing key provisioned, or " + NO_BROKER
ROUTES = [
    Route("POST", f"{A}/session", admin_login, "Log in (username + secret) for a token",
          "admin", body=LoginBody, response=responses.AdminSession,
          responses={401: "wrong username or secret",
                     429: "too many attempts or locked out (see Retry-After)"}),
    Route("GET", f"{A}/me", admin_whoami, "Who am I", "admin", auth="admin",
          response=responses.AdminIdentity, roles=auth.ROLES),
    Route("GET", f"{A}/orders", list_orders, "List orders", "admin", auth="admin",
          query=OrdersQuery, response=responses.OrderList),
    Route("GET", f"{A}/orders/{{order_no}}", get_order, "Order detail", "admin", auth="admin",
          response=responses.StaffOrderDetail),
    Route("POST", f"{A}/orders/{{order_no}}/status", change_order_status, "Change order status",
          "admin", auth="admin", body=StatusBody, response=responses.StaffOrderDetail),
    Route("POST", f"{A}/orders/{{order_no}}/notes", add_order_note, "Add a note", "admin",
          auth="admin", body=OrderNoteBody, status=201, response=responses.OrderNote),
    Route("POST", f"{A}/orders/{{order_no}}/refunds", request_refund, "Request a refund",
          "admin", auth="admin", body=RefundBody, status=201, response=responses.Refund),
    Route("POST", f"{A}/orders/{{order_no}}/returns", record_return,
          "Record a return or exchange", "admin", auth="admin", body=ReturnBody, status=201,
          response=responses.ReturnRecorded),
    Route("GET", f"{A}/refunds", list_refunds, "List refund requests", "admin", auth="admin",
          query=RefundsQuery, response=responses.RefundList),
    Route("GET", f"{A}/stock", list_stock, "Stock on hand", "admin", auth="admin",
          query=StockQuery, response=responses.StockList),
    Route("PUT", f"{A}/stock/{{store}}/{{product_id}}", set_stock, "Set counted stock",
          "admin", auth="admin", body=StockSetBody, response=responses.StockRow),
    Route("POST", f"{A}/stock/{{store}}/{{product_id}}/adjust", adjust_stock, "Adjust stock",
          "admin", auth="admin", body=StockAdjustBody, response=responses.StockAdjusted),
    Route("GET", f"{A}/alerts", list_alerts, "Open alerts", "admin", auth="admin",
          query=AlertsQuery, response=responses.AlertList),
    Route("POST", f"{A}/alerts/{{alert_id}}/resolve", resolve_alert, "Resolve an alert",
          "admin", auth="admin", path_params={"alert_id": INT_ID}, response=responses.AlertOut),
    Route("GET", f"{A}/stats/daily", order_stats, "Order statistics per store and day",
          "admin", auth="admin", query=StatsQuery, response=responses.DailyStatsList),
    Route("GET", f"{A}/invoices", list_invoices, "Invoice requests", "admin", auth="admin",
          query=InvoicesQuery, response=responses.InvoiceList),
    Route("POST", f"{A}/invoices/{{invoice_id}}/status", set_invoice_status,
          "Set invoice status", "admin", auth="admin", body=InvoiceStatusBody,
          path_params={"invoice_id": INT_ID}, response=responses.InvoiceOfOrder),
    Route("GET", f"{A}/fleet", fleet_view, "Fleet view", "admin", auth="admin",
          query=FleetQuery, response=responses.FleetList),
    Route("GET", f"{A}/kiosks/{{store}}/{{kiosk}}", kiosk_detail, "Kiosk detail", "admin",
          auth="admin", response=responses.KioskDetail),
    Route("POST", f"{A}/kiosks/{{store}}/{{kiosk}}/commands", send_command,
          "Send a signed command", "admin", auth="admin", body=CommandBody, status=202,
          response=responses.CommandSent, responses={503: NO_BROKER_OR_KEY}),
    Route("GET", f"{A}/kiosks/{{store}}/{{kiosk}}/shadow", get_shadow, "Kiosk shadow",
          "admin", auth="admin", response=responses.KioskShadow),
    Route("PUT", f"{A}/kiosks/{{store}}/{{kiosk}}/shadow", set_shadow,
          "Publish desired configuration", "admin", auth="admin", body=ShadowBody, status=202,
          response=responses.ShadowPublished, responses={503: NO_BROKER_OR_KEY}),
]
