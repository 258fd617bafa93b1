"""The bridge's payment service: charge, status, settle, notifications.

One instance per bridge process (shared by RPC handlers and HTTP routes through the
app's services). It holds the provider clients and the settlement policy; all state
is in the database, so any worker can pick up any payment.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from multidict import CIMultiDict
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import Database
from common.jsontypes import JsonObject
from contract.numbers import NumberError, cloud_order_no
from contract.wire.payments import (
    ChargeParams,
    ChargeResult,
    ChargeStatus,
    SettleParams,
    shopper_message,
)

from . import late_paid
from .late_paid import LATE_PAID_FROM
from .models import (
    AWAITING,
    CHARGING,
    FAILED,
    FINAL,
    PAID,
    REVERSED,
    SETTLING,
    UNKNOWN,
    Payment,
    PaymentNotificationSeen,
)
from .providers.base import ChargeRequest, NotificationRejected, PaymentProvider
from .settlement import SettlementPolicy, settle_unknown_payment
from .store import PaymentConflict, PaymentRow, PaymentStore, utcnow

if TYPE_CHECKING:
    from .config import PaymentSettings

log = logging.getLogger(__name__)

# What a kiosk is told of a stored status: the settled ones as they are, anything still
# in flight (charging, settling, awaiting) as unknown.
_WIRE_STATUS: dict[str, ChargeStatus] = {PAID: "paid", FAILED: "failed", REVERSED: "reversed"}

# Seconds kept back from an RPC deadline so the reply reaches the kiosk in time.
REPLY_MARGIN_S = 1.0


class PaymentService:
    def __init__(self, db: Database, providers: dict[str, PaymentProvider],
                 policy: SettlementPolicy | None = None) -> None:
        self.db = db
        self.store = PaymentStore(db)
        self.providers = dict(providers)
        self.policy = policy or SettlementPolicy()
        # Refunds a payment paid after it was recorded failed/reversed (late_paid.refund,
        # set by the payments runtime with its refund service); unset, the alert stands
        # and the orphan sweep refunds it.
        self.on_late_paid: Callable[[str], Awaitable[object]] | None = None

    @classmethod
    def from_settings(cls, db: Database, settings: PaymentSettings) -> PaymentService:
        from .config import build_providers
        from .providers.stored_value import StoredValueProvider

        providers = build_providers(settings)
        if settings.stored_value:
            providers["stored_value"] = StoredValueProvider(db)
        s = settings.settlement
        policy = SettlementPolicy(query_window_s=s.query_window_s,
                                  query_interval_s=s.query_interval_s,
                                  reverse_attempts=s.reverse_attempts,
                                  reverse_interval_s=s.reverse_interval_s,
                                  charge_stale_s=s.charge_stale_s,
                                  request_timeout_s=settings.request_timeout_s)
        return cls(db, providers, policy)

    async def close(self) -> None:
        for p in self.providers.values():
            await p.close()

    def provider(self, method: str) -> PaymentProvider:
        p = self.providers.get(method)
        if p is None:
            raise KeyError(method)
        return p

    # ------------------------------------------------------------ results
    @staticmethod
    def result(row: PaymentRow) -> JsonObject:
        wire_status = _WIRE_STATUS.get(row["status"], "unknown")
        reason = row.get("reason") if wire_status in ("failed", "unknown") else None
        zh, en = shopper_message(wire_status, reason)
        # Validated: the stored method is a string column, the wire's a Literal.
        return ChargeResult.model_validate({
            "out_trade_no": row["out_trade_no"], "status": wire_status, "amount": row["amount"],
            "currency": row["currency"], "method": row["method"], "reason": row["reason"],
            "provider_ref": row["provider_ref"] if wire_status == PAID else None,
            "card_last4": row["card_last4"], "message_zh": zh, "message_en": en,
        }).model_dump(exclude_none=True)

    # ------------------------------------------------------------ charge
    async def charge(self, store_id: str, kiosk_id: str, params: ChargeParams,
                     budget_s: float | None = None) -> JsonObject:
        """Charge once. A repeat with the same out_trade_no never charges again: it gets
        the recorded outcome (or *unknown* while another worker is on it)."""
        provider = self.provider(params.method)
        try:
            order_no = cloud_order_no(store_id, kiosk_id, params.order_no)
            created, row = await self.store.create(
                status=CHARGING, out_trade_no=params.out_trade_no, order_no=order_no,
                store=store_id, kiosk=kiosk_id, method=params.method, amount=params.amount,
                currency=params.currency, card_last4=params.card_last4,
                member_id=params.member_id)
        except (PaymentConflict, NumberError) as err:
            return self._conflict(params, err)
        if not created:
            if (row["amount"], row["currency"], row["method"]) != (
                    params.amount, params.currency, params.method):
                log.warning("payment %s repeated with different amount/method: refused",
                            params.out_trade_no)
                zh, en = shopper_message("failed", "rejected")
                return {**self.result(row), "status": "failed", "reason": "duplicate_mismatch",
                        "message_zh": zh, "message_en": en}
            if row["status"] == UNKNOWN:
                return await self.settle_row(row["out_trade_no"], budget_s)
            return self.result(row)
        req = ChargeRequest(
            out_trade_no=params.out_trade_no, amount=params.amount, currency=params.currency,
            description=params.description, auth_code=params.auth_code,
            payer_token=params.payer_token, card_last4=params.card_last4,
            member_id=params.member_id, store_id=store_id, kiosk_id=kiosk_id)
        out = await provider.charge(req)
        if out.status == "paid":
            _, settled = await self.store.transition_row(
                params.out_trade_no, (CHARGING,), PAID,
                provider_ref=out.provider_ref, provider_code=out.code)
        elif out.status == "failed":
            _, settled = await self.store.transition_row(
                params.out_trade_no, (CHARGING,), FAILED,
                reason=out.reason, provider_code=out.code)
        else:
            await self.store.mark_unknown(params.out_trade_no, out.reason or "unknown", out.code)
            log.info("payment %s outcome unknown (%s %s); settling", params.out_trade_no,
                     out.reason, out.code)
            return await self.settle_row(params.out_trade_no, budget_s)
        if settled is None:  # created above in this call: only a deleted row lands here
            raise RuntimeError(f"payment {params.out_trade_no} vanished while it was charged")
        return self.result(settled)

    # ------------------------------------------------------------ status / settle
    async def status(self, out_trade_no: str, store_id: str, kiosk_id: str) -> JsonObject | None:
        """The recorded outcome of ``store_id``/``kiosk_id``'s own attempt; ``None`` for an
        unknown number or another kiosk's (no kiosk learns about another's payments)."""
        row = await self.store.get_own(out_trade_no, store_id, kiosk_id)
        return self.result(row) if row else None

    @staticmethod
    def _conflict(params: ChargeParams | SettleParams, err: Exception) -> JsonObject:
        """A number another store or kiosk owns: failed here, no provider is called."""
        log.error("payment %s refused: %s", params.out_trade_no, err)
        zh, en = shopper_message("failed", "rejected")
        return ChargeResult(
            out_trade_no=params.out_trade_no, status="failed", amount=params.amount,
            currency=params.currency, method=params.method, reason="number_conflict",
            message_zh=zh, message_en=en).model_dump(exclude_none=True)

    async def settle(self, store_id: str, kiosk_id: str, params: SettleParams,
                     budget_s: float | None = None) -> JsonObject:
        """Settle an attempt the kiosk is unsure of. When the charge never reached the
        cloud, the attempt is recorded as *unknown* first: a late charge request for the
        same out_trade_no then finds it and is not sent to the provider."""
        self.provider(params.method)
        try:
            order_no = (cloud_order_no(store_id, kiosk_id, params.order_no)
                        if params.order_no else None)
            _, row = await self.store.create(
                status=UNKNOWN, out_trade_no=params.out_trade_no, order_no=order_no,
                store=store_id, kiosk=kiosk_id, method=params.method, amount=params.amount,
                currency=params.currency, reason="kiosk_settle")
        except (PaymentConflict, NumberError) as err:
            return self._conflict(params, err)
        if row["status"] in FINAL:
            return self.result(row)
        return await self.settle_row(params.out_trade_no, budget_s)

    async def settle_row(self, out_trade_no: str, budget_s: float | None = None) -> JsonObject:
        claimed = await self.store.claim_for_settlement(out_trade_no, self.policy.lease_s,
                                                        self.policy.charge_stale_s)
        if claimed is None:   # final already, or another worker is on it
            row = await self.store.get(out_trade_no)
            assert row is not None
            return self.result(row)
        provider = self.provider(claimed["method"])
        row = await settle_unknown_payment(self.store, provider, claimed, self.policy, budget_s)
        return self.result(row)

    async def settle_all(self, budget_s: float | None = None) -> int:
        """Settle every unknown or orphaned payment (a periodic sweep); returns the count."""
        n = 0
        for row in await self.store.list(status=(UNKNOWN, CHARGING, SETTLING)):
            res = await self.settle_row(row["out_trade_no"], budget_s)
            n += res["status"] != UNKNOWN
        return n

    # ------------------------------------------------------------ notifications
    async def handle_notification(self, method: str, headers: Mapping[str, str],
                                  body: bytes) -> bool:
        """Verify and apply a provider notification. Refused ones are logged, change nothing.

        A notification settles a payment only when it carries the amount and currency
        we recorded; its replay key is stored in the same transaction as the change, so
        a refused notification leaves no trace and an accepted one is never applied twice.
        """
        provider = self.providers.get(method)
        if provider is None:
            log.warning("refused %s notification: provider not configured", method)
            return False
        # HTTP header names are case-insensitive: a proxy that lower-cases them (HTTP/2
        # does) must not break every notification.
        try:
            note = provider.verify_notification(CIMultiDict(headers), body)
        except NotificationRejected as err:
            log.warning("refused %s notification: %s", method, err.reason)
            return False

        async def apply(s: AsyncSession) -> str:
            row = await s.scalar(select(Payment).where(Payment.out_trade_no == note.out_trade_no)
                                 .with_for_update())
            late = row is not None and note.status == "paid" and row.status in LATE_PAID_FROM
            was = row.status if row is not None else None  # AWAITING: a JSAPI order
            if row is not None and note.status == "paid" and (
                    row.status in (CHARGING, UNKNOWN, AWAITING) or late):
                if note.amount is None or note.amount != row.amount:
                    return f"amount {note.amount} != recorded {row.amount}"
                if (note.currency or "") != row.currency:
                    return f"currency {note.currency} != recorded {row.currency}"
            s.add(PaymentNotificationSeen(replay_key=note.replay_key[:200], provider=method))
            await s.flush()
            if row is None:
                return "unknown"
            if late:  # charged after the shopper was told nothing was charged
                return await late_paid.record(s, row, note, method)
            if note.status == "paid" and row.status in (CHARGING, UNKNOWN, AWAITING):
                now = utcnow()
                await s.execute(
                    update(Payment)
                    .where(Payment.id == row.id,
                           Payment.status.in_((CHARGING, UNKNOWN, AWAITING)))
                    .values(status=PAID, provider_ref=note.provider_ref, provider_code="NOTIFY",
                            updated_at=now, settled_at=now, lease_until=None))
                if was == AWAITING:  # issue 19: the mini-program order is paid with it
                    from . import jsapi

                    await jsapi.on_paid(s, row, note.provider_ref)
            return ""

        try:
            problem = await self.db.transact(apply)
        except IntegrityError:
            log.warning("refused %s notification: replayed (%s)", method, note.replay_key[:40])
            return False
        if problem == late_paid.MARKER:  # now refund it (orphan refund number: once)
            if self.on_late_paid is not None:
                await self.on_late_paid(note.out_trade_no)
            return True
        if problem == "unknown":
            log.warning("%s notification for unknown out_trade_no %s", method, note.out_trade_no)
        elif problem:
            log.error("refused %s notification for %s: %s", method, note.out_trade_no, problem)
            return False
        return True
