"""Local PayPal REST gateway: OAuth2 client credentials, Orders v2 create + capture
(``PayPal-Request-Id`` makes both idempotent), order lookup, capture refunds.

A kiosk sale is paid with a vaulted PayPal/Venmo payment source the shopper
approved on their phone, so the sandbox approves an order that names one.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from common.jsontypes import JsonObject
from contract.money import major_text, parse_major

from .common import Gateway
from .ledger import Ledger, PayError, Trade

log = logging.getLogger(__name__)

def to_value(amount: int, currency: str) -> str:
    return major_text(amount, currency)


def from_value(value: str, currency: str) -> int:
    return parse_major(str(value), currency)


class PaypalGateway(Gateway):
    name = "paypal"

    def __init__(self, ledger: Ledger | None = None, hold_s: float | None = None) -> None:
        super().__init__(ledger or Ledger("paypal", "", r"^[A-Za-z0-9_-]{4,64}$",
                                          single_use_codes=False),
                         **({"hold_s": hold_s} if hold_s is not None else {}))
        self.client_id = "sandbox-" + secrets.token_hex(6)
        self.client_secret = secrets.token_hex(16)
        self._tokens: set[str] = set()
        self._requests: dict[str, tuple[int, JsonObject]] = {}
        self._orders: dict[str, str] = {}     # order id -> out_trade_no
        self._pending: dict[str, dict] = {}   # created, not captured

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/oauth2/token", self.token)
        app.router.add_post("/v2/checkout/orders", self.create_order)
        app.router.add_get("/v2/checkout/orders/{id}", self.get_order)
        app.router.add_post("/v2/checkout/orders/{id}/capture", self.capture)
        app.router.add_post("/v2/payments/captures/{id}/refund", self.refund)

    async def token(self, request: web.Request) -> web.Response:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_urlsafe(24)
        self._tokens.add(token)
        return web.json_response({"access_token": token, "token_type": "Bearer",
                                  "expires_in": 32400})

    def _auth(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self._tokens:
            return web.json_response({"name": "AUTHENTICATION_FAILURE"}, status=401)
        return None

    def order_json(self, order_id: str) -> JsonObject:
        no = self._orders[order_id]
        if no in self._pending:
            p = self._pending[no]
            return {"id": order_id, "status": "APPROVED", "purchase_units": [
                {"custom_id": no, "invoice_id": no, "amount": p["amount"]}]}
        trade: Trade = self.ledger.trades[no]
        refunds = [{"id": r.refund_id, "status": "COMPLETED", "invoice_id": r.out_refund_no,
                    "amount": {"currency_code": trade.currency,
                               "value": to_value(r.amount, trade.currency)}}
                   for r in trade.refunds.values()]
        cap_status = {"SUCCESS": "COMPLETED", "REVOKED": "REFUNDED"}.get(trade.state, "DECLINED")
        if trade.refunds and trade.refunded >= trade.amount:
            cap_status = "REFUNDED"
        elif trade.refunds:
            cap_status = "PARTIALLY_REFUNDED"
        return {"id": order_id, "status": "COMPLETED" if trade.debited else "VOIDED",
                "purchase_units": [{
                    "custom_id": no, "invoice_id": no,
                    "amount": {"currency_code": trade.currency,
                               "value": to_value(trade.amount, trade.currency)},
                    "payments": {"captures": [{
                        "id": trade.transaction_id, "status": cap_status,
                        "amount": {"currency_code": trade.currency,
                                   "value": to_value(trade.amount, trade.currency)}}],
                        "refunds": refunds}}]}

    async def _once(self, request: web.Request,
                    produce: Callable[[], Awaitable[tuple[int, JsonObject]]]) -> web.Response:
        rid = request.headers.get("PayPal-Request-Id")
        if rid and rid in self._requests:
            status, body = self._requests[rid]
            return web.json_response(body, status=status)
        status, body = await produce()
        if rid and status < 500:
            self._requests[rid] = (status, body)
        return web.json_response(body, status=status)

    async def create_order(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        body = await request.json()

        async def produce() -> tuple[int, JsonObject]:
            try:
                unit = body["purchase_units"][0]
                no = unit["invoice_id"]
                token = body["payment_source"]["token"]["id"]
                amount = unit["amount"]
            except (KeyError, IndexError, TypeError):
                return 400, {"name": "INVALID_REQUEST"}
            if no in self.ledger.trades or no in self._pending:
                return 422, {"name": "UNPROCESSABLE_ENTITY",
                             "details": [{"issue": "DUPLICATE_INVOICE_ID"}]}
            order_id = secrets.token_hex(8).upper()
            self._orders[order_id] = no
            self._pending[no] = {"amount": amount, "token": token,
                                 "description": unit.get("description", "")}
            return 201, self.order_json(order_id)

        return await self._once(request, produce)

    async def get_order(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        oid = request.match_info["id"]
        if oid not in self._orders:
            return web.json_response({"name": "RESOURCE_NOT_FOUND"}, status=404)
        return web.json_response(self.order_json(oid))

    async def capture(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        oid = request.match_info["id"]
        no = self._orders.get(oid)
        fault = self.ledger.faults.pick("pay", no)
        if fault and fault.kind in ("http_503", "systemerror", "drop"):
            if fault.kind == "drop":
                await self.hold()
            return web.json_response({"name": "INTERNAL_SERVER_ERROR"}, status=500)

        async def produce() -> tuple[int, JsonObject]:
            if no is None:
                return 404, {"name": "RESOURCE_NOT_FOUND"}
            pending = self._pending.get(no)
            if pending is None:
                return 422, {"name": "UNPROCESSABLE_ENTITY",
                             "details": [{"issue": "ORDER_ALREADY_CAPTURED"}]}
            currency = pending["amount"]["currency_code"]
            try:
                trade = self.ledger.pay(no, from_value(pending["amount"]["value"], currency),
                                        currency, pending["token"], pending["description"], fault)
            except PayError as err:
                self._pending.pop(no, None)
                return 422, {"name": "UNPROCESSABLE_ENTITY",
                             "details": [{"issue": "INSTRUMENT_DECLINED", "description": err.message}]}
            self._pending.pop(no, None)
            if trade.state == "USERPAYING":
                self.ledger._debit(trade)
            return 201, self.order_json(oid)

        response = await self._once(request, produce)
        if fault and fault.kind == "timeout":
            await self.hold()
        if fault and fault.kind == "http_500":
            return web.json_response({"name": "INTERNAL_SERVER_ERROR"}, status=500)
        return response

    async def refund(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        capture_id = request.match_info["id"]
        body = await request.json() if request.can_read_body else {}

        async def produce() -> tuple[int, JsonObject]:
            trade = next((t for t in self.ledger.trades.values()
                          if t.transaction_id == capture_id), None)
            if trade is None:
                return 404, {"name": "RESOURCE_NOT_FOUND"}
            amount = (from_value(body["amount"]["value"], trade.currency)
                      if body.get("amount") else trade.amount - trade.refunded)
            refund_no = body.get("invoice_id") or request.headers.get("PayPal-Request-Id") or ""
            try:
                refund = self.ledger.refund(trade.out_trade_no, refund_no, amount)
            except PayError as err:
                return 422, {"name": "UNPROCESSABLE_ENTITY",
                             "details": [{"issue": "REFUND_AMOUNT_EXCEEDED"
                                          if err.code == "REFUND_EXCEEDS" else err.code}]}
            return 201, {"id": refund.refund_id, "status": "COMPLETED", "invoice_id": refund_no,
                         "amount": {"currency_code": trade.currency,
                                    "value": to_value(refund.amount, trade.currency)}}

        return await self._once(request, produce)
