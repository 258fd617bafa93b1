"""Refunds (退款), full and partial.

* Idempotent by out_refund_no (Alipay's out_request_no): asking again returns the
  recorded refund; the same number with another amount is refused.
* The amount is reserved in the database *before* the provider is called, in one
  transaction that checks paid - (refunded + reserved) >= amount, so concurrent
  requests can never refund more than was paid.
* A refund whose outcome is unknown is **queried** before any retry; only a refund
  the provider does not know is sent again (with the same out_refund_no).
"""

from __future__ import annotations

import logging
from typing import TypedDict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import PAID, Payment, PaymentRefund
from .service import PaymentService
from .store import utcnow

log = logging.getLogger(__name__)

OPEN = ("pending", "unknown")


class RefundError(Exception):
    """A refund refused before reaching the provider: ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class RefundRow(TypedDict):
    """A refund as the service hands it out: its row, copied inside the transaction."""

    out_refund_no: str
    out_trade_no: str
    amount: int
    status: str
    provider_ref: str | None
    reason: str | None


class _PaidPayment(TypedDict):
    """What a refund needs of the payment it refunds."""

    out_trade_no: str
    method: str
    amount: int
    currency: str
    provider_ref: str | None
    refunded: int


def _snap(r: PaymentRefund) -> RefundRow:
    return {"out_refund_no": r.out_refund_no, "out_trade_no": r.out_trade_no, "amount": r.amount,
            "status": r.status, "provider_ref": r.provider_ref, "reason": r.reason}


class RefundService:
    def __init__(self, payments: PaymentService) -> None:
        self.payments = payments
        self.db = payments.db

    async def get(self, out_refund_no: str) -> RefundRow | None:
        async with self.db.session() as s:
            r = await s.scalar(select(PaymentRefund).where(PaymentRefund.out_refund_no == out_refund_no))
            return _snap(r) if r else None

    async def _reserve(self, out_trade_no: str, out_refund_no: str, amount: int, reason: str,
                       who: str | None) -> tuple[_PaidPayment, RefundRow, bool]:
        async def work(s: AsyncSession) -> tuple[_PaidPayment, RefundRow, bool]:
            pay = await s.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no)
                                 .with_for_update())
            if pay is None:
                raise RefundError("not_found", f"no payment {out_trade_no}")
            existing = await s.scalar(
                select(PaymentRefund).where(PaymentRefund.out_refund_no == out_refund_no))
            if existing is not None:
                if existing.out_trade_no != out_trade_no or existing.amount != amount:
                    raise RefundError("refund_mismatch",
                                      f"{out_refund_no} exists with another payment or amount")
                return _pay(pay), _snap(existing), False
            if pay.status != PAID:
                raise RefundError("not_paid", f"payment {out_trade_no} is {pay.status}")
            held = await s.scalar(
                select(func.coalesce(func.sum(PaymentRefund.amount), 0))
                .where(PaymentRefund.out_trade_no == out_trade_no,
                       PaymentRefund.status.in_(("success", *OPEN))))
            if amount <= 0 or (held or 0) + amount > pay.amount:
                raise RefundError("exceeds_paid",
                                  f"refund {amount} + refunded {held} > paid {pay.amount}")
            r = PaymentRefund(out_refund_no=out_refund_no, out_trade_no=out_trade_no,
                              amount=amount, status="pending", reason=reason[:256] or None,
                              requested_by=who, created_at=utcnow(), updated_at=utcnow())
            s.add(r)
            await s.flush()
            return _pay(pay), _snap(r), True

        return await self.db.transact(work)

    async def _finish(self, out_refund_no: str, status: str, provider_ref: str | None,
                      code: str) -> RefundRow:
        async def work(s: AsyncSession) -> RefundRow:
            r = await s.scalar(select(PaymentRefund).where(
                PaymentRefund.out_refund_no == out_refund_no).with_for_update())
            if r is None:  # reserved before the provider was called
                raise RuntimeError(f"refund {out_refund_no} vanished")
            if r.status == "success":
                return _snap(r)
            r.status = status
            r.provider_ref = provider_ref or r.provider_ref
            r.provider_code = code
            r.updated_at = utcnow()
            if status == "success":
                pay = await s.scalar(select(Payment).where(Payment.out_trade_no == r.out_trade_no)
                                     .with_for_update())
                if pay is None:  # a refund's payment is never deleted
                    raise RuntimeError(f"payment {r.out_trade_no} of refund {out_refund_no} vanished")
                pay.refunded = pay.refunded + r.amount
                pay.updated_at = utcnow()
            return _snap(r)

        return await self.db.transact(work)

    async def refund(self, out_trade_no: str, out_refund_no: str, amount: int, reason: str = "",
                     requested_by: str | None = None) -> RefundRow:
        """Refund ``amount`` of a paid payment. Returns the refund row (status success,
        pending, failed or unknown)."""
        pay, r, new = await self._reserve(out_trade_no, out_refund_no, amount, reason, requested_by)
        if r["status"] in ("success", "failed"):
            return r
        provider = self.payments.provider(pay["method"])
        if not new:
            # Asked again while its outcome is open: query before any retry.
            q = await provider.refund_query(out_trade_no, out_refund_no, pay["provider_ref"])
            if q.status in ("success", "pending"):
                return await self._finish(out_refund_no, q.status, q.provider_ref, q.code)
            if q.status == "unknown":
                return r
            # not_found: the provider never got it; sending it again is safe.
        out = await provider.refund(out_trade_no, out_refund_no, amount, pay["amount"],
                                    pay["currency"], pay["provider_ref"], reason)
        if out.status == "not_found":
            out.status = "failed"
        if out.status == "failed":
            log.warning("refund %s of %s refused by %s: %s", out_refund_no, out_trade_no,
                        pay["method"], out.code)
        return await self._finish(out_refund_no, out.status, out.provider_ref, out.code)

    async def retry_open(self) -> int:
        """Re-drive every pending/unknown refund (query first); returns how many settled."""
        async with self.db.session() as s:
            rows = list(await s.scalars(select(PaymentRefund).where(PaymentRefund.status.in_(OPEN))))
        done = 0
        for r in rows:
            res = await self.refund(r.out_trade_no, r.out_refund_no, r.amount, r.reason or "")
            done += res["status"] in ("success", "failed")
        return done


def _pay(p: Payment) -> _PaidPayment:
    return {"out_trade_no": p.out_trade_no, "method": p.method, "amount": p.amount,
            "currency": p.currency, "provider_ref": p.provider_ref, "refunded": p.refunded}
