"""Card payments through a Stripe-style processor.

The kiosk's certified card terminal tokenizes the card; the bridge only ever sees
the processor's payment-method token and the last four digits. No card number or
CVV is accepted, stored or logged. Every POST carries an ``Idempotency-Key``
derived from our out_trade_no / out_refund_no, so a retry can never charge twice.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import aiohttp

from .base import (
    ChargeRequest,
    Outcome,
    PaymentProvider,
    QueryStatus,
    RefundOutcome,
    ReverseOutcome,
)

log = logging.getLogger(__name__)
# A payment intent's status -> the query outcome (anything else: unknown).
INTENT_STATES: dict[str, QueryStatus] = {
    "succeeded": "paid", "processing": "pending", "canceled": "reversed",
    "requires_payment_method": "failed",
}

DECLINES = {"insufficient_funds": "insufficient_funds", "expired_card": "code_expired",
            "invalid_payment_method": "code_invalid"}


class CardProvider(PaymentProvider):
    name = "card"
    methods = ("card", "unionpay")

    def __init__(self, *, base_url: str, secret_key: str, timeout_s: float | None = None) -> None:
        super().__init__(**({"timeout_s": timeout_s} if timeout_s else {}))
        self.base_url = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {secret_key}"}

    async def _post(self, path: str, form: dict, key: str) -> tuple[int, dict]:
        async with self.session.post(self.base_url + path, data=form,
                                     headers={**self._auth, "Idempotency-Key": key}) as resp:
            return resp.status, await resp.json(content_type=None)

    async def _get(self, path: str) -> tuple[int, dict]:
        async with self.session.get(self.base_url + path, headers=self._auth) as resp:
            return resp.status, await resp.json(content_type=None)

    async def charge(self, req: ChargeRequest) -> Outcome:
        if not req.payer_token:
            return Outcome("failed", reason="code_missing")
        form = {"amount": str(req.amount), "currency": req.currency.lower(),
                "payment_method": req.payer_token, "confirm": "true",
                "description": req.description, "metadata[out_trade_no]": req.out_trade_no,
                "metadata[last4]": req.card_last4 or ""}
        try:
            status, data = await self._post("/v1/payment_intents", form, f"charge-{req.out_trade_no}")
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            log.warning("card charge %s: outcome unknown (%s)", req.out_trade_no, type(err).__name__)
            return Outcome("unknown", reason="timeout" if isinstance(err, TimeoutError) else "transport")
        if status == 200 and data.get("status") == "succeeded":
            if int(data.get("amount", -1)) != req.amount:
                return Outcome("unknown", reason="mismatch")
            return Outcome("paid", code="succeeded", provider_ref=data.get("id"), amount=req.amount,
                           extra={"last4": req.card_last4 or ""})
        if status == 200:
            return Outcome("unknown", reason="user_paying", code=str(data.get("status")))
        error = data.get("error", {})
        if status == 402:
            decline = str(error.get("decline_code", ""))
            return Outcome("failed", reason=DECLINES.get(decline, "declined"), code=decline)
        if 400 <= status < 500:
            return Outcome("failed", reason="rejected", code=str(error.get("code") or error.get("type")))
        return Outcome("unknown", reason="system_error", code=str(status))

    async def _find(self, out_trade_no: str) -> tuple[int, dict | None]:
        q = quote(f"metadata['out_trade_no']:'{out_trade_no}'")
        status, data = await self._get(f"/v1/payment_intents/search?query={q}")
        found = (data.get("data") or [None])[0] if status == 200 else None
        return status, found

    async def query(self, out_trade_no: str, provider_ref: str | None = None) -> Outcome:
        try:
            status, pi = await self._find(out_trade_no)
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return Outcome("unknown", reason="timeout")
        if status != 200:
            return Outcome("unknown", reason="system_error", code=str(status))
        if pi is None:
            return Outcome("not_found")
        st = pi.get("status")
        mapped = INTENT_STATES.get(str(st), "unknown")
        if st == "succeeded" and pi.get("amount_refunded", 0) >= pi.get("amount", 0) > 0:
            mapped = "reversed"
        return Outcome(mapped, code=str(st), provider_ref=pi.get("id"), amount=pi.get("amount"))

    async def reverse(self, out_trade_no: str, provider_ref: str | None = None) -> ReverseOutcome:
        try:
            status, pi = await self._find(out_trade_no)
            if status != 200:
                return ReverseOutcome(False, retry=True, code=str(status))
            if pi is None:
                return ReverseOutcome(True, action="none")
            if pi["status"] == "succeeded":
                if pi.get("amount_refunded", 0) >= pi["amount"]:
                    return ReverseOutcome(True, action="refund")
                status, _data = await self._post(
                    "/v1/refunds", {"payment_intent": pi["id"],
                                    "metadata[out_refund_no]": f"reverse-{out_trade_no}"},
                    f"reverse-{out_trade_no}")
                if status == 200:
                    return ReverseOutcome(True, action="refund")
            else:
                status, _ = await self._post(f"/v1/payment_intents/{pi['id']}/cancel", {},
                                                f"cancel-{out_trade_no}")
                if status == 200:
                    return ReverseOutcome(True, action="close")
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return ReverseOutcome(False, retry=True, code="timeout")
        return ReverseOutcome(False, retry=status >= 500, code=str(status))

    async def _intent_id(self, out_trade_no: str, provider_ref: str | None) -> str | None:
        """The payment intent of a trade: the recorded reference, else looked up."""
        if provider_ref:
            return provider_ref
        _, pi = await self._find(out_trade_no)
        return None if pi is None else pi["id"]

    async def refund(self, out_trade_no: str, out_refund_no: str, amount: int, total: int,
                     currency: str, provider_ref: str | None = None,
                     reason: str = "") -> RefundOutcome:
        try:
            pi_id = await self._intent_id(out_trade_no, provider_ref)
            if pi_id is None:
                return RefundOutcome("failed", code="resource_missing")
            status, data = await self._post(
                "/v1/refunds", {"payment_intent": pi_id, "amount": str(amount),
                                "metadata[out_refund_no]": out_refund_no}, out_refund_no)
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return RefundOutcome("unknown", code="timeout")
        if status == 200:
            return RefundOutcome("success", amount=data.get("amount"), provider_ref=data.get("id"))
        if status >= 500:
            return RefundOutcome("unknown", code=str(status))
        return RefundOutcome("failed", code=str(data.get("error", {}).get("code")))

    async def refund_query(self, out_trade_no: str, out_refund_no: str,
                           provider_ref: str | None = None) -> RefundOutcome:
        try:
            pi_id = await self._intent_id(out_trade_no, provider_ref)
            if pi_id is None:
                return RefundOutcome("not_found")
            status, data = await self._get(f"/v1/refunds?payment_intent={pi_id}")
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return RefundOutcome("unknown", code="timeout")
        if status != 200:
            return RefundOutcome("unknown", code=str(status))
        for r in data.get("data", []):
            if r.get("metadata", {}).get("out_refund_no") == out_refund_no:
                return RefundOutcome("success", amount=r.get("amount"), provider_ref=r.get("id"))
        return RefundOutcome("not_found")
