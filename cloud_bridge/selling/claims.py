"""Claiming a kiosk order in the mini-program with the receipt's QR token.

The receipt's QR code carries the order number and ``t=<receipt_token>``, a 128-bit
secret the kiosk made for that order (the cloud keeps only its SHA-256). A claim must
present it: an order number and a total (sequential numbers, guessable totals) no
longer prove anything. Refusals are logged and recorded, and they are rate-limited per
mini-program user and per source address, counted in the database so that every bridge
worker sees the same count.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import Database
from cloud_bridge.errors import NotFound, TooManyRequests
from cloud_bridge.models import Order, now

from .models import ReceiptClaimRefusal

log = logging.getLogger(__name__)

# A shopper mistypes or rescans a few times; a guesser tries thousands. Per 15 minutes:
CLAIM_WINDOW = timedelta(minutes=15)
MAX_REFUSALS_PER_USER = 5
MAX_REFUSALS_PER_SOURCE = 20  # a shop's Wi-Fi shares one address among many shoppers


async def check_claim_rate(session: AsyncSession, openid: str, source: str) -> None:
    """429 when this user or address has been refused too often lately."""
    since = now() - CLAIM_WINDOW
    for column, value, limit, what in (
            (ReceiptClaimRefusal.openid, openid, MAX_REFUSALS_PER_USER, "user"),
            (ReceiptClaimRefusal.source, source, MAX_REFUSALS_PER_SOURCE, "address")):
        n = await session.scalar(select(func.count()).select_from(ReceiptClaimRefusal)
                                 .where(column == value, ReceiptClaimRefusal.at >= since))
        if (n or 0) >= limit:
            log.warning("receipt claim throttled for %s %s", what, value[:16])
            raise TooManyRequests(f"too many failed claims for this {what}; try later",
                                  retry_after=int(CLAIM_WINDOW.total_seconds()))


def token_matches(order: Order, token: str) -> bool:
    """Whether ``token`` is the order's receipt token (constant-time)."""
    stored = (order.details or {}).get("receipt_token_sha256")
    if not stored:
        return False
    return hmac.compare_digest(stored, hashlib.sha256(token.encode()).hexdigest())


async def refuse_claim(db: Database, openid: str, source: str, order_no: str, reason: str) -> NotFound:
    """Record and log a refused claim (in its own transaction, so it counts even though
    the request fails); returns the 404 to raise (the same for every reason)."""
    log.warning("receipt claim refused (%s): order %s by %s from %s", reason, order_no[:64],
                openid[:16], source)

    async def add(s: AsyncSession) -> None:
        s.add(ReceiptClaimRefusal(openid=openid[:64], source=source[:64],
                                  order_no=order_no[:64], reason=reason, at=now()))

    await db.transact(add)
    return NotFound(f"order {order_no} not found")
