"""Database access of the payments package: rows, claims and state transitions.

Every transition is a conditional UPDATE (``WHERE status IN (...)``), so two bridge
workers racing on one payment cannot both win: the loser's rowcount is 0.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cloud_bridge.db import Database

from .models import CHARGING, FINAL, SETTLING, UNKNOWN, Payment

CHINA_TZ = timezone(timedelta(hours=8))


def utcnow() -> datetime:
    return datetime.now(UTC)


def business_date(at: datetime | None = None) -> str:
    """The day a provider books a payment on (its bills are in China time)."""
    return (at or utcnow()).astimezone(CHINA_TZ).strftime("%Y-%m-%d")


def snapshot(p: Payment) -> dict[str, Any]:
    return {
        "out_trade_no": p.out_trade_no, "order_no": p.order_no, "method": p.method,
        "amount": p.amount, "currency": p.currency, "status": p.status, "reason": p.reason,
        "provider_code": p.provider_code, "provider_ref": p.provider_ref,
        "card_last4": p.card_last4, "refunded": p.refunded, "store": p.store, "kiosk": p.kiosk,
        "member_id": p.member_id,
    }


class PaymentStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, out_trade_no: str) -> dict[str, Any] | None:
        async with self.db.session() as s:
            p = await s.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no))
            return snapshot(p) if p else None

    async def create(self, *, status: str, **fields: Any) -> tuple[bool, dict[str, Any]]:
        """Insert a new payment; (False, existing) when the out_trade_no is known already."""
        now = utcnow()

        async def work(s):
            existing = await s.scalar(
                select(Payment).where(Payment.out_trade_no == fields["out_trade_no"]))
            if existing is not None:
                return False, snapshot(existing)
            p = Payment(status=status, business_date=business_date(now), created_at=now,
                        updated_at=now, attempts=1 if status == CHARGING else 0,
                        unknown_since=now if status == UNKNOWN else None, **fields)
            s.add(p)
            await s.flush()
            return True, snapshot(p)

        try:
            return await self.db.transact(work)
        except IntegrityError:
            existing = await self.get(fields["out_trade_no"])
            assert existing is not None
            return False, existing

    async def transition(self, out_trade_no: str, from_status: tuple[str, ...], to_status: str,
                         **fields: Any) -> bool:
        """Move to ``to_status`` only from one of ``from_status``; True when this call did it."""
        now = utcnow()
        values: dict[str, Any] = {"status": to_status, "updated_at": now, **fields}
        if to_status in FINAL:
            values["settled_at"] = now
            values["lease_until"] = None
        if to_status == UNKNOWN and "unknown_since" not in fields:
            values.setdefault("lease_until", None)

        async def work(s):
            res = await s.execute(
                update(Payment)
                .where(Payment.out_trade_no == out_trade_no, Payment.status.in_(from_status))
                .values(**values))
            return res.rowcount == 1

        return await self.db.transact(work)

    async def mark_unknown(self, out_trade_no: str, reason: str, code: str) -> bool:
        now = utcnow()

        async def work(s):
            p = await s.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no))
            if p is None or p.status != CHARGING:
                return False
            p.status = UNKNOWN
            p.reason = reason
            p.provider_code = code
            p.updated_at = now
            p.unknown_since = p.unknown_since or now
            return True

        return await self.db.transact(work)

    async def claim_for_settlement(self, out_trade_no: str, lease_s: float,
                                   charge_stale_s: float) -> dict[str, Any] | None:
        """Take the right to settle: from unknown, from an orphaned charging row (its worker
        died), or from a settling row whose lease ran out. None when someone else holds it."""
        now = utcnow()

        async def work(s):
            # FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serializes writers.
            p = await s.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no)
                               .with_for_update())
            if p is None:
                return None
            ok = (
                p.status == UNKNOWN
                or (p.status == CHARGING and p.updated_at < now - timedelta(seconds=charge_stale_s))
                or (p.status == SETTLING and (p.lease_until is None or p.lease_until < now))
            )
            if not ok:
                return None
            res = await s.execute(
                update(Payment)
                .where(Payment.out_trade_no == out_trade_no, Payment.status == p.status)
                .values(status=SETTLING, lease_until=now + timedelta(seconds=lease_s),
                        updated_at=now, unknown_since=p.unknown_since or now))
            if res.rowcount != 1:
                return None
            snap = snapshot(p)
            snap["status"] = SETTLING
            snap["unknown_since"] = p.unknown_since or now
            return snap

        return await self.db.transact(work)

    async def list(self, *, status: tuple[str, ...] | None = None, day: str | None = None,
                   methods: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            q = select(Payment)
            if status:
                q = q.where(Payment.status.in_(status))
            if day:
                q = q.where(Payment.business_date == day)
            if methods:
                q = q.where(Payment.method.in_(methods))
            return [snapshot(p) for p in await s.scalars(q.order_by(Payment.id))]
