"""Paying a mini-program order from the member's stored value (储值), with a payment password.

The password is the member's own 6 digits (argon2-hashed; never logged). Attempts are
counted before the hash is checked (:func:`_take_attempt`): after ``MAX_FAILURES`` in a
row the password is locked for ``LOCKOUT_S`` across every worker, and guesses sent at
once cannot get more than ``MAX_FAILURES`` checks. Changing a set password needs the
current one (re-authentication). The payment itself is one transaction: the balance
debit (``pay:V<order_no>``, once), a paid ``Payment`` row, the order paid (with its
store alert) and the failure count cleared. A WeChat prepay left open on the order is
closed at WeChat first, so the order cannot be paid twice.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import re
from datetime import timedelta
from typing import TypedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import orders
from cloud_bridge.db import Database
from cloud_bridge.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    TooManyRequests,
    Unavailable,
)
from cloud_bridge.models import Order, now
from cloud_bridge.payments import jsapi
from cloud_bridge.payments.models import AWAITING, FAILED, PAID, Payment
from cloud_bridge.payments.providers.stored_value import InsufficientBalance, apply_entry
from cloud_bridge.payments.providers.wechat import WechatPayProvider
from cloud_bridge.payments.service import PaymentService
from cloud_bridge.payments.store import business_date

from .models import PayPassword

log = logging.getLogger(__name__)

# Wrong passwords in a row before the lock: WeChat Pay and Alipay allow about five.
MAX_FAILURES = 5
# Long enough that guessing 6 digits is hopeless (5 tries per 30 min), short enough
# that a member who mistyped can pay again the same day.
LOCKOUT_S = 1800
PASSWORD = re.compile(r"^[0-9]{6}$")
_HASHER = PasswordHasher()


def weak(password: str) -> bool:
    """All one digit, or a run up or down (123456, 987654): the first guesses tried."""
    steps = {int(b) - int(a) for a, b in itertools.pairwise(password)}
    return len(steps) == 1 and steps <= {-1, 0, 1}


def out_trade_no(order_no: str) -> str:
    return "V" + order_no


def _check_new(password: str) -> None:
    if not PASSWORD.match(password):
        raise InvalidRequest("a payment password is 6 digits")
    if weak(password):
        raise InvalidRequest("this payment password is too easy to guess")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def _take_attempt(db: Database, member_id: str) -> tuple[str, int]:
    """Count one attempt (refused while locked); the hash to check and the tries left."""
    async def work(s: AsyncSession) -> tuple[str, int]:
        pw = await s.get(PayPassword, member_id, with_for_update=True)
        if pw is None:
            raise Conflict("no payment password yet: set one first")
        at = now()
        if pw.locked_until is not None and pw.locked_until > at:
            wait = (pw.locked_until - at).total_seconds()
            raise TooManyRequests("payment password locked after too many wrong tries",
                                  retry_after=max(1, math.ceil(wait)))
        if pw.locked_until is not None:
            pw.failures, pw.locked_until = 0, None
        pw.failures += 1
        if pw.failures >= MAX_FAILURES:   # this is the last try: wrong, and it stays locked
            pw.locked_until = at + timedelta(seconds=LOCKOUT_S)
        return pw.password_hash, MAX_FAILURES - pw.failures

    password_hash, left = await db.transact(work)
    return password_hash, left


async def _check(db: Database, member_id: str, password: str) -> None:
    password_hash, left = await _take_attempt(db, member_id)
    if not await asyncio.to_thread(_verify, password_hash, password):
        log.warning("wrong payment password for member %s (%d tries left)", member_id, left)
        if left <= 0:
            raise TooManyRequests("payment password locked after too many wrong tries",
                                  retry_after=LOCKOUT_S)
        raise Forbidden(f"wrong payment password ({left} tries left)")


def _clear_failures(pw: PayPassword | None) -> None:
    if pw is not None:
        pw.failures, pw.locked_until = 0, None


async def set_password(db: Database, member_id: str, password: str,
                       current: str | None) -> None:
    """Set the payment password; changing one needs the current password."""
    _check_new(password)
    async with db.read() as s:
        exists = await s.get(PayPassword, member_id) is not None
    if exists:
        if current is None:
            raise Forbidden("changing the payment password needs the current one")
        await _check(db, member_id, current)
    password_hash = await asyncio.to_thread(_HASHER.hash, password)

    async def work(s: AsyncSession) -> None:
        pw = await s.get(PayPassword, member_id, with_for_update=True)
        if pw is None:
            s.add(PayPassword(member_id=member_id, password_hash=password_hash, failures=0,
                              updated_at=now()))
        else:
            pw.password_hash, pw.updated_at = password_hash, now()
            _clear_failures(pw)

    await db.transact(work)
    log.info("payment password %s for member %s", "changed" if exists else "set", member_id)


async def _close_open_prepay(db: Database, payments: PaymentService | None,
                             order_no: str) -> None:
    """A WeChat prepay of the order still payable: close it at WeChat first."""
    from .service import out_trade_no_for

    no = out_trade_no_for(order_no)
    row = await payments.store.get(no) if payments is not None else None
    if row is None or row["status"] != AWAITING:
        return
    provider = payments.providers.get("wechat") if payments is not None else None
    if not isinstance(provider, WechatPayProvider) or payments is None:
        raise Unavailable("the order's WeChat payment is open and WeChat Pay is not configured")
    outcome = await jsapi.close(provider, no)
    if outcome == "paid":
        raise Conflict(f"order {order_no} was paid with WeChat Pay")
    if outcome == "unknown":
        raise Unavailable("WeChat did not confirm closing the open payment; try again")
    await payments.store.transition(no, (AWAITING,), FAILED, reason="paid_by_stored_value",
                                    provider_code="CLOSED")


class StoredValuePayment(TypedDict):
    order_no: str
    status: str
    amount: int
    currency: str
    balance: int


async def pay(db: Database, payments: PaymentService | None, *, member_id: str, openid: str,
              order_no: str, password: str) -> StoredValuePayment:
    """Pay one of the caller's unpaid orders from their stored value; the balance after."""
    async with db.read() as s:
        order = await s.scalar(select(Order).where(Order.order_no == order_no))
        if order is None or order.openid != openid:
            raise NotFound(f"order {order_no} not found")
        if order.status != orders.CREATED or order.source != "mp" or order.total <= 0:
            raise Conflict(f"order {order_no} is {order.status}: nothing to pay")
    await _check(db, member_id, password)
    await _close_open_prepay(db, payments, order_no)
    no = out_trade_no(order_no)

    async def work(s: AsyncSession) -> StoredValuePayment:
        o = await orders.get_order(s, order_no, lock=True)
        if o.status != orders.CREATED:
            raise Conflict(f"order {order_no} is {o.status}: nothing to pay")
        try:
            after = await apply_entry(s, member_id, -o.total, f"pay:{no}")
        except InsufficientBalance:
            raise Conflict("the stored value is not enough for this order") from None
        at = now()
        s.add(Payment(out_trade_no=no, order_no=order_no, store=o.store, kiosk=None,
                      method="stored_value", amount=o.total, currency=o.currency, status=PAID,
                      member_id=member_id, attempts=1, business_date=business_date(at),
                      created_at=at, updated_at=at, settled_at=at, provider_code="PASSWORD"))
        await orders.mark_paid(s, order_no, f"mp:{openid}", tender={
            "method": "stored_value", "amount": o.total, "currency": o.currency,
            "out_trade_no": no, "member_id": member_id})
        _clear_failures(await s.get(PayPassword, member_id, with_for_update=True))
        return {"order_no": order_no, "status": o.status, "amount": o.total,
                "currency": o.currency, "balance": after}

    paid = await db.transact(work)
    log.info("mini-program order %s paid from stored value", order_no)
    return paid
