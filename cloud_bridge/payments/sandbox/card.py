"""Local card processor with Stripe's API shape: PaymentIntents confirmed server-side
with a processor token (never a card number), ``Idempotency-Key`` on every POST,
search by metadata, refunds. Card data never reaches this gateway or the bridge:
the kiosk's card terminal tokenizes it and hands over the token and last four digits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from common.jsontypes import JsonObject

from .common import Gateway, form_fields
from .ledger import Ledger, PayError, Trade

log = logging.getLogger(__name__)

_SEARCH = re.compile(r"metadata\['out_trade_no'\]:'([^']+)'")


class CardGateway(Gateway):
    name = "card"

    def __init__(self, ledger: Ledger | None = None, hold_s: float | None = None) -> None:
        super().__init__(ledger or Ledger("card", "pi_", r"^(pm|tok)_[A-Za-z0-9_]{4,64}$",
                                          single_use_codes=False),
                         **({"hold_s": hold_s} if hold_s is not None else {}))
        self.secret_key = "sk_test_" + secrets.token_hex(12)
        self._idem: dict[str, tuple[str, int, JsonObject]] = {}
        self._pi_by_id: dict[str, str] = {}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/payment_intents", self.create_intent)
        app.router.add_get("/v1/payment_intents/search", self.search)
        app.router.add_get("/v1/payment_intents/{id}", self.retrieve)
        app.router.add_post("/v1/payment_intents/{id}/cancel", self.cancel)
        app.router.add_post("/v1/refunds", self.create_refund)
        app.router.add_get("/v1/refunds", self.list_refunds)

    def _auth(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.secret_key}":
            return web.json_response({"error": {"type": "invalid_request_error",
                                                 "message": "Invalid API Key provided"}}, status=401)
        return None

    async def _idempotent(self, request: web.Request, params: dict,
                          produce: Callable[[], Awaitable[tuple[int, JsonObject]]]) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
        if key and key in self._idem:
            seen_fp, status, body = self._idem[key]
            if seen_fp != fingerprint:
                return web.json_response({"error": {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used with the same "
                               "parameters they were first used with."}}, status=400)
            return web.json_response(body, status=status, headers={"Idempotent-Replayed": "true"})
        status, body = await produce()
        if key and status != 500:
            self._idem[key] = (fingerprint, status, body)
        return web.json_response(body, status=status)

    def intent_json(self, trade: Trade) -> JsonObject:
        status = {"SUCCESS": "succeeded", "REVOKED": "canceled", "USERPAYING": "processing",
                  "PAYERROR": "requires_payment_method", "CLOSED": "canceled"}[trade.state]
        if trade.state == "REVOKED" and trade.debited:
            status = "succeeded"    # a reversed card sale is a succeeded intent, fully refunded
        return {"id": trade.transaction_id, "object": "payment_intent", "amount": trade.amount,
                "currency": trade.currency.lower(), "status": status,
                "amount_refunded": trade.refunded + (trade.amount if trade.state == "REVOKED"
                                                     and trade.debited else 0),
                "latest_charge": "ch_" + trade.transaction_id[3:],
                "metadata": {"out_trade_no": trade.out_trade_no},
                "payment_method_details": {"card": {"last4": trade.meta.get("last4", "")}}}

    async def create_intent(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        form = await form_fields(request)
        no = form.get("metadata[out_trade_no]", "")
        fault = self.ledger.faults.pick("pay", no)
        if fault and fault.kind in ("drop", "http_503", "systemerror"):
            if fault.kind == "drop":
                await self.hold()
            return web.json_response({"error": {"type": "api_error",
                                                "message": "An unknown error occurred"}}, status=500)

        async def produce() -> tuple[int, JsonObject]:
            try:
                trade = self.ledger.pay(no, int(form["amount"]), form["currency"].upper(),
                                        form["payment_method"], form.get("description", ""),
                                        fault, meta={"last4": form.get("metadata[last4]", "")})
            except PayError as err:
                code = {"NOTENOUGH": "insufficient_funds", "AUTH_CODE_EXPIRED": "expired_card",
                        "AUTH_CODE_INVALID": "invalid_payment_method"}.get(err.code, err.code.lower())
                return 402, {"error": {"type": "card_error", "code": "card_declined",
                                       "decline_code": code, "message": err.message}}
            except (KeyError, ValueError):
                return 400, {"error": {"type": "invalid_request_error", "message": "bad params"}}
            if trade.state == "USERPAYING":   # cards do not wait on a phone: settle now
                self.ledger._debit(trade)
            self._pi_by_id[trade.transaction_id] = trade.out_trade_no
            return 200, self.intent_json(trade)

        response = await self._idempotent(request, form, produce)
        if fault and fault.kind == "timeout":
            await self.hold()
        if fault and fault.kind == "http_500":
            return web.json_response({"error": {"type": "api_error"}}, status=500)
        return response

    async def search(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        m = _SEARCH.search(request.query.get("query", ""))
        data = []
        if m and m.group(1) in self.ledger.trades:
            data.append(self.intent_json(self.ledger.trades[m.group(1)]))
        return web.json_response({"object": "search_result", "data": data, "has_more": False})

    async def retrieve(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        no = self._pi_by_id.get(request.match_info["id"])
        if no is None:
            return web.json_response({"error": {"type": "invalid_request_error",
                                                "code": "resource_missing"}}, status=404)
        return web.json_response(self.intent_json(self.ledger.trades[no]))

    async def cancel(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        no = self._pi_by_id.get(request.match_info["id"])
        if no is None:
            return web.json_response({"error": {"code": "resource_missing"}}, status=404)
        trade = self.ledger.trades[no]
        if trade.state == "SUCCESS":
            return web.json_response({"error": {
                "type": "invalid_request_error", "code": "payment_intent_unexpected_state",
                "message": "succeeded intents are refunded, not canceled"}}, status=400)
        self.ledger.reverse(no)
        return web.json_response(self.intent_json(trade))

    async def create_refund(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        form = await form_fields(request)

        async def produce() -> tuple[int, JsonObject]:
            no = self._pi_by_id.get(form.get("payment_intent", ""))
            if no is None:
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
            trade = self.ledger.trades[no]
            amount = int(form.get("amount") or trade.amount - trade.refunded)
            refund_no = form.get("metadata[out_refund_no]") or request.headers.get(
                "Idempotency-Key") or secrets.token_hex(8)
            try:
                refund = self.ledger.refund(no, refund_no, amount)
            except PayError as err:
                return 400, {"error": {"type": "invalid_request_error",
                                       "code": "charge_already_refunded"
                                       if err.code == "REFUND_EXCEEDS" else err.code.lower(),
                                       "message": err.message}}
            return 200, {"id": "re_" + refund.refund_id, "object": "refund",
                         "amount": refund.amount, "status": "succeeded",
                         "payment_intent": trade.transaction_id,
                         "metadata": {"out_refund_no": refund_no}}

        return await self._idempotent(request, form, produce)

    async def list_refunds(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        no = self._pi_by_id.get(request.query.get("payment_intent", ""))
        data = []
        if no is not None:
            trade = self.ledger.trades[no]
            data = [{"id": "re_" + r.refund_id, "object": "refund", "amount": r.amount,
                     "status": "succeeded", "payment_intent": trade.transaction_id,
                     "metadata": {"out_refund_no": r.out_refund_no}}
                    for r in trade.refunds.values()]
        return web.json_response({"object": "list", "data": data, "has_more": False})
