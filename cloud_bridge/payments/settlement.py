"""Settling payments whose outcome is unknown: query for a bounded time, then reverse.

An outcome is unknown after a timeout, an HTTP 5xx, ``USERPAYING``, ``SYSTEMERROR``,
Alipay ``10003``/``20000``, a response that does not verify, a bridge or kiosk that
restarted mid-payment, or a lost link. The rules, in order:

1. Query the provider by out_trade_no. *paid* -> paid (the sale goes ahead);
   *failed* (closed, payer error) -> failed, nothing was taken; *reversed* -> reversed.
2. *pending* (payer still confirming), *unknown* or *not_found* (the charge may still be
   on its way) -> poll again with backoff until ``query_window_s`` after the outcome
   first became unknown.
3. Then reverse (WeChat) / cancel (Alipay) / void-or-refund, repeating while the
   provider says to (``recall`` / ``retry_flag=Y``, 5xx, timeouts), up to
   ``reverse_attempts``.
4. Still unsettled -> left *unknown* for the next settle call, logged as an ERROR.

Nothing here ever sends a new charge: retries of a charge happen only in
``PaymentService.charge`` with the same out_trade_no and amount, which providers
treat as the same trade.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from .models import FAILED, PAID, REVERSED, SETTLING, UNKNOWN
from .providers.base import PaymentProvider
from .store import PaymentRow, PaymentStore, utcnow

log = logging.getLogger(__name__)

# Defaults sized for real providers: WeChat asks merchants to poll for ~30 s after
# USERPAYING and not to reverse sooner than ~15 s after the charge. Tests shrink them.
QUERY_WINDOW_S = 30.0
QUERY_INTERVAL_S = 2.0
QUERY_INTERVAL_MAX_S = 5.0
REVERSE_ATTEMPTS = 10
REVERSE_INTERVAL_S = 1.0
# Provider states meaning "closed, nothing held" (as opposed to a payer error).
CLOSED_CODES = frozenset({"TRADE_CLOSED", "CLOSED", "REVOKED", "canceled", "VOIDED"})
# A settling lease longer than one full settle run, so only a dead worker loses it.
LEASE_MARGIN_S = 15.0


@dataclass
class SettlementPolicy:
    query_window_s: float = QUERY_WINDOW_S
    query_interval_s: float = QUERY_INTERVAL_S
    query_interval_max_s: float = QUERY_INTERVAL_MAX_S
    reverse_attempts: int = REVERSE_ATTEMPTS
    reverse_interval_s: float = REVERSE_INTERVAL_S
    charge_stale_s: float = 60.0
    request_timeout_s: float = 10.0
    lease_margin_s: float = LEASE_MARGIN_S

    @property
    def lease_s(self) -> float:
        """How long a settling claim lasts: one full settle run plus a margin."""
        per_call = self.request_timeout_s
        return (self.query_window_s + per_call
                + self.reverse_attempts * (self.reverse_interval_s + per_call)
                + self.lease_margin_s)


async def settle_unknown_payment(store: PaymentStore, provider: PaymentProvider,
                                 payment: PaymentRow, policy: SettlementPolicy,
                                 budget_s: float | None = None) -> PaymentRow:
    """Settle one claimed (``settling``) payment; returns its row afterwards.

    ``budget_s`` bounds this call (an RPC deadline): when it runs out before the query
    window ends, the payment goes back to *unknown* for a later call to finish.
    """
    no = payment["out_trade_no"]
    started = time.monotonic()
    since: datetime = payment.get("unknown_since") or utcnow()
    window_end = since.timestamp() + policy.query_window_s
    interval = policy.query_interval_s

    def budget_left() -> float:
        return float("inf") if budget_s is None else budget_s - (time.monotonic() - started)

    while True:
        q = await provider.query(no, payment.get("provider_ref"))
        if q.status == "paid":
            if q.amount is not None and q.amount != payment["amount"]:
                log.error("payment %s: provider amount %s differs from %s; reversing",
                          no, q.amount, payment["amount"])
                break
            row = await _transition(store, no, (SETTLING,), PAID, provider_ref=q.provider_ref,
                                    provider_code=q.code, reason=None)
            log.info("payment %s settled: paid (found by query)", no)
            return row
        if q.status == "reversed":
            return await _transition(store, no, (SETTLING,), REVERSED, provider_code=q.code)
        if q.status == "failed" and q.code in CLOSED_CODES:
            # Closed or revoked at the provider (e.g. our earlier cancel got through but its
            # reply was lost): nothing is held, the attempt is reversed.
            return await _transition(store, no, (SETTLING,), REVERSED, provider_code=q.code,
                                     reason="closed")
        if q.status == "failed":
            row = await _transition(store, no, (SETTLING,), FAILED, provider_code=q.code,
                                    reason=payment.get("reason") or "payer_failed")
            log.info("payment %s settled: failed (%s)", no, q.code)
            return row
        # pending, unknown, not_found: the money may still move; keep asking a while.
        left_in_window = window_end - time.time()
        if left_in_window <= 0:
            break
        pause = min(interval, left_in_window)
        if pause >= budget_left():
            return await _transition(store, no, (SETTLING,), UNKNOWN, lease_until=None)
        await asyncio.sleep(pause)
        interval = min(interval * 1.5, policy.query_interval_max_s)

    for attempt in range(1, policy.reverse_attempts + 1):
        r = await provider.reverse(no, payment.get("provider_ref"))
        if r.done:
            row = await _transition(store, no, (SETTLING,), REVERSED,
                                    provider_code=r.code or r.action,
                                    reason=f"reversed:{r.action or 'done'}")
            log.info("payment %s settled: reversed (%s) after %d call(s)", no, r.action, attempt)
            return row
        if not r.retry:
            break
        if policy.reverse_interval_s >= budget_left():
            break
        await asyncio.sleep(policy.reverse_interval_s)
    row = await _transition(store, no, (SETTLING,), UNKNOWN, lease_until=None)
    log.error("payment %s could not be settled yet; left unknown for the next settle", no)
    return row


async def _transition(store: PaymentStore, no: str, from_status: tuple[str, ...],
                      to_status: str, **fields: object) -> PaymentRow:
    """Transition and return the row afterwards, in one transaction."""
    _, row = await store.transition_row(no, from_status, to_status, **fields)
    if row is None:  # the row was claimed by this settle: only a deleted row lands here
        raise RuntimeError(f"payment {no} vanished while it was settled")
    return row
