"""PayPal Orders v2 (create + capture) for cross-border sales in another currency.

``PayPal-Request-Id`` is derived from our out_trade_no / out_refund_no on every
POST, so repeating a request returns the first result instead of acting twice.
The payer approved a vaulted PayPal or Venmo payment source on their phone; the
kiosk passes its token (never account credentials).
"""

from __future__ import annotations

import base64
import logging
import time

import aiohttp

from contract.money import major_text, parse_major

from .base import (
    ChargeRequest,
    Outcome,
    PaymentProvider,
    QueryStatus,
    RefundOutcome,
    ReverseOutcome,
)

log = logging.getLogger(__name__)
# A capture's status -> the query outcome (anything else: failed).
CAPTURE_STATES: dict[str, QueryStatus] = {
    "COMPLETED": "paid", "PARTIALLY_REFUNDED": "paid", "REFUNDED": "reversed", "PENDING": "pending",
}


def to_value(amount: int, currency: str) -> str:
    return major_text(amount, currency)


def from_value(value: str, currency: str) -> int:
    """A PayPal ``value`` in minor units; ``MoneyError`` (a ValueError) when malformed."""
    return parse_major(str(value), currency)


class PaypalProvider(PaymentProvider):
    name = "paypal"
    methods = ("paypal",)

    def __init__(self, *, base_url: str, client_id: str, client_secret: str,
                 timeout_s: float | None = None) -> None:
        super().__init__(**({"timeout_s": timeout_s} if timeout_s else {}))
        self.base_url = base_url.rstrip("/")
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._token: tuple[str, float] | None = None
        self._pending: dict[str, dict] = {}

    async def _bearer(self) -> dict[str, str]:
        if self._token is None or self._token[1] < time.time():
            async with self.session.post(
                self.base_url + "/v1/oauth2/token", data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {self._basic}"},
            ) as resp:
                data = await resp.json(content_type=None)
                if resp.status != 200:
                    raise aiohttp.ClientError(f"paypal oauth: HTTP {resp.status}")
            self._token = (data["access_token"], time.time() + int(data["expires_in"]) - 60)
        return {"Authorization": f"Bearer {self._token[0]}"}

    async def _post(self, path: str, body: dict, request_id: str) -> tuple[int, dict]:
        headers = {**await self._bearer(), "PayPal-Request-Id": request_id,
                   "Content-Type": "application/json", "Prefer": "return=representation"}
        async with self.session.post(self.base_url + path, json=body, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)

    async def _get(self, path: str) -> tuple[int, dict]:
        async with self.session.get(self.base_url + path, headers=await self._bearer()) as resp:
            return resp.status, await resp.json(content_type=None)

    def _order_body(self, req: ChargeRequest) -> dict:
        return {"intent": "CAPTURE",
                "purchase_units": [{"invoice_id": req.out_trade_no, "custom_id": req.out_trade_no,
                                    "description": req.description[:127],
                                    "amount": {"currency_code": req.currency,
                                               "value": to_value(req.amount, req.currency)}}],
                "payment_source": {"token": {"id": req.payer_token, "type": "BILLING_AGREEMENT"}}}

    async def charge(self, req: ChargeRequest) -> Outcome:
        if not req.payer_token:
            return Outcome("failed", reason="code_missing")
        try:
            status, order = await self._post("/v2/checkout/orders", self._order_body(req),
                                             f"create-{req.out_trade_no}")
            if status >= 500:
                return Outcome("unknown", reason="system_error", code=str(status))
            if status not in (200, 201):
                return Outcome("failed", reason="rejected", code=_issue(order))
            self._pending[req.out_trade_no] = {"order_id": order["id"]}
            status, order = await self._post(f"/v2/checkout/orders/{order['id']}/capture", {},
                                             f"capture-{req.out_trade_no}")
        except (TimeoutError, aiohttp.ClientError, ValueError, KeyError):
            return Outcome("unknown", reason="timeout")
        if status in (200, 201) and order.get("status") == "COMPLETED":
            cap = _capture(order)
            if cap is None or _captured_amount(cap, req.currency) != req.amount:
                return Outcome("unknown", reason="mismatch")
            return Outcome("paid", code="COMPLETED", provider_ref=cap["id"], amount=req.amount,
                           extra={"order_id": order["id"]})
        if status >= 500:
            return Outcome("unknown", reason="system_error", code=str(status))
        return Outcome("failed", reason="declined", code=_issue(order))

    async def _order_for(self, out_trade_no: str, provider_ref: str | None) -> dict | None:
        order_id = (self._pending.get(out_trade_no) or {}).get("order_id")
        if order_id is None:
            # After a restart: repeating the create with its PayPal-Request-Id returns the
            # order created the first time; an empty body creates nothing new.
            status, order = await self._post("/v2/checkout/orders",
                                             {"intent": "CAPTURE", "purchase_units": []},
                                             f"create-{out_trade_no}")
            if status not in (200, 201) or "id" not in order:
                return None
            order_id = order["id"]
        status, order = await self._get(f"/v2/checkout/orders/{order_id}")
        return order if status == 200 else None

    async def query(self, out_trade_no: str, provider_ref: str | None = None) -> Outcome:
        try:
            order = await self._order_for(out_trade_no, provider_ref)
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return Outcome("unknown", reason="timeout")
        if order is None:
            return Outcome("not_found")
        cap = _capture(order)
        if cap is None:
            return Outcome("failed", code=str(order.get("status")))
        return Outcome(CAPTURE_STATES.get(cap["status"], "failed"), code=cap["status"],
                       provider_ref=cap["id"])

    async def reverse(self, out_trade_no: str, provider_ref: str | None = None) -> ReverseOutcome:
        try:
            order = await self._order_for(out_trade_no, provider_ref)
            cap = _capture(order) if order else None
            if cap is None or cap["status"] == "REFUNDED":
                return ReverseOutcome(True, action="none" if cap is None else "refund")
            status, _ = await self._post(f"/v2/payments/captures/{cap['id']}/refund",
                                         {"invoice_id": f"reverse-{out_trade_no}"},
                                         f"reverse-{out_trade_no}")
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return ReverseOutcome(False, retry=True, code="timeout")
        if status in (200, 201):
            return ReverseOutcome(True, action="refund")
        return ReverseOutcome(False, retry=status >= 500, code=str(status))

    async def refund(self, out_trade_no: str, out_refund_no: str, amount: int, total: int,
                     currency: str, provider_ref: str | None = None,
                     reason: str = "") -> RefundOutcome:
        if not provider_ref:
            return RefundOutcome("failed", code="capture id unknown")
        try:
            status, data = await self._post(
                f"/v2/payments/captures/{provider_ref}/refund",
                {"amount": {"value": to_value(amount, currency), "currency_code": currency},
                 "invoice_id": out_refund_no, "note_to_payer": reason[:255] or None},
                out_refund_no)
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return RefundOutcome("unknown", code="timeout")
        if status in (200, 201):
            return RefundOutcome("success", amount=amount, provider_ref=data.get("id"))
        if status >= 500:
            return RefundOutcome("unknown", code=str(status))
        return RefundOutcome("failed", code=_issue(data))

    async def refund_query(self, out_trade_no: str, out_refund_no: str,
                           provider_ref: str | None = None) -> RefundOutcome:
        try:
            order = await self._order_for(out_trade_no, provider_ref)
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return RefundOutcome("unknown", code="timeout")
        if order is None:
            return RefundOutcome("not_found")
        for unit in order.get("purchase_units", []):
            for r in unit.get("payments", {}).get("refunds", []):
                if r.get("invoice_id") == out_refund_no:
                    return RefundOutcome("success", provider_ref=r.get("id"),
                                         amount=from_value(r["amount"]["value"],
                                                           r["amount"]["currency_code"]))
        return RefundOutcome("not_found")


def _captured_amount(capture: dict, currency: str) -> int | None:
    """The capture's amount in minor units; None (never a match) when malformed."""
    try:
        return from_value(capture["amount"]["value"], currency)
    except (KeyError, TypeError, ValueError):
        log.warning("paypal capture amount malformed")
        return None


def _capture(order: dict) -> dict | None:
    for unit in order.get("purchase_units", []):
        caps = unit.get("payments", {}).get("captures", [])
        if caps:
            return caps[0]
    return None


def _issue(body: dict) -> str:
    details = body.get("details") or [{}]
    return str(details[0].get("issue") or body.get("name") or "")
