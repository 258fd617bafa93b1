"""Kiosk side of payments: the checkout's payment gateway over the MQTT link.

* The attempt (out_trade_no, amount, provider; never the payment code) is in the
  journal before ``payment.charge`` leaves the kiosk. A retry reuses the same
  out_trade_no and amount.
* ``auth_code`` lives only in this call's memory and in the request in transit.
* An unknown outcome (no reply before the deadline, link lost, the cloud still
  settling) is settled by asking ``payment.settle`` until the cloud answers paid,
  failed or reversed; after a restart :meth:`KioskPayments.resume_unsettled` does the
  same for every attempt left pending or unknown in the journal.
* Offline tender rule: with the link down, member stored value is accepted within
  the ``[offline]`` limits; the sale's tender is marked offline and the cloud applies
  it to the member's balance when the order event arrives. Other methods need the
  cloud, so the shopper is told to ask staff; nothing was charged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from pydantic import ValidationError

from common.jsontypes import JsonMapping
from contract.tenders import ChargeMethod
from contract.wire import rpc as wire_rpc
from contract.wire.base import validation_reason
from contract.wire.payments import ChargeParams, ChargeResult, SettleParams, shopper_message

from .config import AgentConfig, OfflineSection
from .journal import Journal, PaymentAttempt
from .link import Link, LinkDown, RpcFailed, RpcTimeout
from .offline_caps import check_offline_sale

if TYPE_CHECKING:
    from contract.wire.events import MemberProofData

log = logging.getLogger(__name__)

# Pause between payment.settle calls while the cloud is still settling or unreachable.
SETTLE_RETRY_S = 2.0
# Deadline of one payment.settle request: the cloud may poll the provider meanwhile.
SETTLE_RPC_TIMEOUT_S = 15.0
# RPC error codes meaning "the cloud did not act on this request".
NOT_RUN_CODES = frozenset({"bad_params", "bad_request", "method_unavailable",
                           "payments_unavailable", "unknown_method", "member_code_refused"})


@dataclass
class PaymentOutcome:
    """What the checkout gets back (``status``: paid | failed | unknown | reversed)."""

    status: str
    out_trade_no: str
    reason: str | None = None
    provider_ref: str | None = None
    masked: str | None = None
    offline: bool = False
    message_zh: str = ""
    message_en: str = ""

    @classmethod
    def of(cls, status: str, out_trade_no: str, reason: str | None = None, *,
           offline: bool = False, message_zh: str | None = None,
           message_en: str | None = None) -> PaymentOutcome:
        """An outcome with the shopper's message for ``status``/``reason`` unless given."""
        zh, en = shopper_message(status, reason)
        return cls(status, out_trade_no, reason, offline=offline,
                   message_zh=zh if message_zh is None else message_zh,
                   message_en=en if message_en is None else message_en)


class KioskPayments:
    """Implements the checkout's ``PaymentGateway`` (``charge``) plus settlement."""

    def __init__(self, link: Link, journal: Journal, *, charge_timeout_s: float = 30.0,
                 settle_timeout_s: float = 90.0, settle_rpc_timeout_s: float = SETTLE_RPC_TIMEOUT_S,
                 settle_retry_s: float = SETTLE_RETRY_S, max_offline_sale: int = 20000,
                 max_offline_total: int = 50000) -> None:
        self.link = link
        self.journal = journal
        self.charge_timeout_s = charge_timeout_s
        self.settle_timeout_s = settle_timeout_s
        self.settle_rpc_timeout_s = settle_rpc_timeout_s
        self.settle_retry_s = settle_retry_s
        self.max_offline_sale = max_offline_sale
        self.max_offline_total = max_offline_total
        self.offline_limits = OfflineSection(max_offline_sale_fen=max_offline_sale,
                                                  max_offline_stored_value_fen=max_offline_total)
        # Attempts a charge() in this process is still on (its checkout commits the sale).
        self._charging: set[str] = set()

    @classmethod
    def from_config(cls, link: Link, journal: Journal, config: AgentConfig) -> KioskPayments:
        out = cls(link, journal, charge_timeout_s=config.payments.charge_timeout_s,
                  settle_timeout_s=config.payments.settle_timeout_s,
                  max_offline_sale=config.offline.max_offline_sale_fen,
                  max_offline_total=config.offline.max_offline_stored_value_fen)
        out.offline_limits = config.offline  # all four caps (age and queue count too)
        return out

    async def _ensure_attempt(self, order_no: str, out_trade_no: str, provider: str,
                              amount: int, currency: str) -> None:
        """The checkout persists attempts itself; a caller that did not gets it done here."""
        known = await self.journal.payment_attempts(order_no=order_no)
        if not any(a.out_trade_no == out_trade_no for a in known):
            await self.journal.begin_payment_attempt(order_no, out_trade_no, provider, amount,
                                                     currency)

    async def record(self, out: PaymentOutcome) -> PaymentOutcome:
        """Write the outcome on its journaled attempt; returns it."""
        status = out.status if out.status != "unknown" else "unknown"
        await self.journal.set_payment_attempt_status(out.out_trade_no, status,
                                                      provider_ref=out.provider_ref,
                                                      reason=out.reason)
        return out

    # ------------------------------------------------------------ charge
    async def charge(self, order_no: str, out_trade_no: str, provider: str, amount: int,
                     currency: str, auth_code: str | None, *, member_id: str | None = None,
                     payer_token: str | None = None, card_last4: str | None = None,
                     member_proof: MemberProofData | None = None) -> PaymentOutcome:
        """Charge one attempt. ``member_proof`` (``MemberProofData``): the member code the
        cart's member was attached with; stored value sends its code to the cloud, and
        offline spends at most the stored value its snapshot shows."""
        self._charging.add(out_trade_no)
        try:
            return await self._charge(order_no, out_trade_no, provider, amount, currency,
                                      auth_code, member_id, payer_token, card_last4,
                                      member_proof)
        finally:
            del auth_code
            self._charging.discard(out_trade_no)

    async def _charge(self, order_no: str, out_trade_no: str, provider: str, amount: int,
                      currency: str, auth_code: str | None, member_id: str | None,
                      payer_token: str | None, card_last4: str | None,
                      member_proof: MemberProofData | None = None) -> PaymentOutcome:
        await self._ensure_attempt(order_no, out_trade_no, provider, amount, currency)
        if provider == "stored_value" and not self.link.connected.is_set():
            return await self._offline_stored_value(out_trade_no, amount, member_id,
                                                    member_proof)
        member_code = (member_proof.code if member_proof is not None and provider == "stored_value"
                       else None)
        try:
            params = ChargeParams(order_no=order_no, out_trade_no=out_trade_no,
                                  method=cast(ChargeMethod, provider),  # validated by pydantic
                                  amount=amount, currency=currency,
                                  auth_code=auth_code or None,  # stored value has no code
                                  payer_token=payer_token, card_last4=card_last4,
                                  member_id=member_id, member_code=member_code)
        except ValidationError as err:
            # str(err) quotes the rejected input (the payment code itself): only the
            # field path and message go to the log. Nothing was sent, nothing charged.
            log.warning("payment %s not sent: %s", out_trade_no, validation_reason(err))
            return await self.record(PaymentOutcome.of("failed", out_trade_no, "bad_params"))
        payload = params.model_dump(exclude_none=True)
        del auth_code, params
        try:
            result = await self.link.request(wire_rpc.PAYMENT_CHARGE, payload, self.charge_timeout_s)
        except LinkDown:
            log.warning("payment %s not sent: link down", out_trade_no)
            if provider == "stored_value":
                return await self._offline_stored_value(out_trade_no, amount, member_id,
                                                        member_proof)
            return await self.record(PaymentOutcome.of("failed", out_trade_no, "offline_limit"))
        except RpcFailed as err:
            if err.code in NOT_RUN_CODES:
                log.warning("payment %s refused by the cloud: %s", out_trade_no, err.code)
                return await self.record(PaymentOutcome.of("failed", out_trade_no, err.code))
            log.warning("payment %s: cloud error %s; settling", out_trade_no, err.code)
            return await self.settle_attempt(out_trade_no, order_no, provider, amount, currency)
        except (TimeoutError, RpcTimeout, OSError) as err:
            log.warning("payment %s: no reply (%s); settling", out_trade_no, type(err).__name__)
            await self.journal.set_payment_attempt_status(out_trade_no, "unknown",
                                                          reason="no_reply")
            return await self.settle_attempt(out_trade_no, order_no, provider, amount, currency)
        finally:
            payload.pop("auth_code", None)
        out = self._from_result(result)
        if out.status == "unknown":
            await self.record(out)
            return await self.settle_attempt(out_trade_no, order_no, provider, amount, currency)
        return await self.record(out)

    @staticmethod
    def _from_result(result: JsonMapping) -> PaymentOutcome:
        r = ChargeResult.model_validate(result)
        masked = f"****{r.card_last4}" if r.card_last4 else None
        return PaymentOutcome(r.status, r.out_trade_no, r.reason, r.provider_ref, masked,
                              False, r.message_zh, r.message_en)

    # ------------------------------------------------------------ settle
    async def settle_attempt(self, out_trade_no: str, order_no: str | None, provider: str,
                             amount: int, currency: str) -> PaymentOutcome:
        """Ask the cloud to settle until it answers paid, failed or reversed (bounded)."""
        params = SettleParams(out_trade_no=out_trade_no, order_no=order_no,
                              method=cast(ChargeMethod, provider),
                              amount=amount, currency=currency).model_dump(exclude_none=True)
        end = time.monotonic() + self.settle_timeout_s
        last = PaymentOutcome.of("unknown", out_trade_no, "settling")
        while time.monotonic() < end:
            try:
                result = await self.link.request(
                    wire_rpc.PAYMENT_SETTLE, params,
                    min(self.settle_rpc_timeout_s, max(end - time.monotonic(), 0.5)))
                last = self._from_result(result)
                if last.status != "unknown":
                    log.info("payment %s settled by the cloud: %s", out_trade_no, last.status)
                    return await self.record(last)
            except (TimeoutError, LinkDown, RpcTimeout, OSError) as err:
                log.warning("payment %s: settle not answered (%s)", out_trade_no,
                            type(err).__name__)
            except RpcFailed as err:
                log.warning("payment %s: settle refused: %s", out_trade_no, err.code)
            await asyncio.sleep(min(self.settle_retry_s, max(end - time.monotonic(), 0)))
        log.error("payment %s still unknown after %.0fs; kept for later", out_trade_no,
                  self.settle_timeout_s)
        await self.journal.set_payment_attempt_status(out_trade_no, "unknown", reason="unsettled")
        return last

    async def resume_unsettled(self) -> list[PaymentOutcome]:
        """After a restart: settle every attempt the journal holds as pending or unknown.

        One found paid has lost its cart with the restart: its sale is committed from
        the draft the checkout saved with the attempt, so the money has its order.
        """
        outs = []
        for status in ("pending", "unknown"):
            attempts: list[PaymentAttempt] = await self.journal.payment_attempts(status=status)
            for a in attempts:
                if a.out_trade_no in self._charging:
                    continue  # a live checkout is settling it and commits its own sale
                out = await self.settle_attempt(a.out_trade_no, a.order_no, a.provider,
                                                a.amount, a.currency)
                if out.status == "paid":
                    sale = await self.journal.commit_paid_attempt(a.out_trade_no)
                    if sale is not None:
                        log.warning("payment %s was paid before a restart: sale %s committed",
                                    a.out_trade_no, sale.order_no)
                outs.append(out)
        return outs

    # ------------------------------------------------------------ offline
    async def _offline_stored_value(self, out_trade_no: str, amount: int,
                                    member_id: str | None, member_proof: MemberProofData | None = None
                                    ) -> PaymentOutcome:
        if not member_id:
            return await self.record(PaymentOutcome.of("failed", out_trade_no, "code_missing"))
        # Every offline cap is checked now, at the moment of sale (kiosk_agent.offline_caps),
        # and the member's own balance as their signed code showed it.
        balance = member_proof.stored_value if member_proof is not None else None
        refusal = await check_offline_sale(self.journal, self.offline_limits, amount,
                                           member_balance=balance)
        if refusal is not None:
            log.warning("offline stored value %s refused (%s): %s", out_trade_no,
                        refusal.reason, refusal.detail)
            return await self.record(PaymentOutcome.of(
                "failed", out_trade_no, refusal.reason, message_zh=refusal.zh,
                message_en=refusal.en))
        log.info("offline stored value %s accepted for member %s: %d fen", out_trade_no,
                 member_id, amount)
        return await self.record(PaymentOutcome.of("paid", out_trade_no, "offline",
                                                     offline=True))
