"""Payments inside the bridge process: one service, the periodic jobs, refund execution.

:func:`payments_ctx` is the app's ``cleanup_ctx`` for payments. It builds one
:class:`PaymentService` (and :class:`RefundService`) from ``[payments]`` and shares them
through the app's :class:`~cloud_bridge.services.BridgeServices` (the RPC handlers and the HTTP
routes use the same instance), then runs two loops until the app stops:

* settlement: :meth:`PaymentService.settle_all` every ``settle_interval_s``, so an
  attempt left *unknown* (kiosk gone, bridge restarted) is settled anyway;
* refunds: open refund requests (``requested``/``processing``) re-driven every
  ``refund_interval_s`` (query before any retry: :mod:`.refunds`).
* orphans: payments their stored order does not list (the shopper paid twice)
  refunded in full every ``orphan_interval_s`` (:mod:`.orphans`).

A refund request (``POST /api/v1/admin/orders/{no}/refunds``) is executed at once by
:class:`RefundExecutor`; one that does not finish within ``execute_timeout_s`` goes on
in the background and the loop picks it up if this worker dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import TypedDict

from aiohttp import web
from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import orders
from cloud_bridge.db import Database
from cloud_bridge.models import Order, RefundRequest, now

from . import late_paid
from .config import PaymentsSection
from .models import PAID, Payment
from .orphans import OrphanSweep, tendered_trade_nos
from .refunds import RefundError, RefundService
from .service import PaymentService

log = logging.getLogger(__name__)

ACTOR = "payments"
# Time one payment may take within a sweep (its query window plus reverses); what is
# left unknown waits for the next sweep. A stop cancels the sweep in between.
SWEEP_BUDGET_S = 60.0


class _RefundSource(TypedDict):
    """The payment a refund request is refunded from."""

    out_trade_no: str
    method: str


class RefundExecutor:
    """Executes refund requests of orders through :class:`RefundService`, idempotently.

    The request's ``out_refund_no`` is the provider's refund number, so executing a
    request twice (two workers, a retry after a crash) refunds once; the result is
    recorded on the order with :func:`orders.record_refund` (idempotent too).
    """

    def __init__(self, db: Database, refunds: RefundService, timeout_s: float = 15.0) -> None:
        self.db = db
        self.refunds = refunds
        self.timeout_s = timeout_s
        self._running: dict[int, asyncio.Task[None]] = {}

    async def _payment_for(self, order: Order, amount: int) -> _RefundSource | None:
        order_no = order.order_no
        async with self.db.session() as s:
            rows = (await s.scalars(select(Payment).where(
                Payment.order_no == order_no, Payment.status == PAID).order_by(Payment.id))).all()
            # Only the order's own tenders: a payment it does not list is an orphan
            # (refunded by the orphan sweep), never the money of this order's refunds.
            tendered = tendered_trade_nos(order)
            if tendered:
                rows = [p for p in rows if p.out_trade_no in tendered]
            for p in rows:
                if p.amount - p.refunded >= amount:
                    return {"out_trade_no": p.out_trade_no, "method": p.method}
            return None if not rows else {"out_trade_no": rows[0].out_trade_no,
                                          "method": rows[0].method}

    async def _record(self, request_id: int, succeeded: bool, error: str | None) -> None:
        async def work(s: AsyncSession) -> None:
            await orders.record_refund(s, request_id, succeeded=succeeded, actor=ACTOR,
                                       error=error)

        await self.db.transact(work)

    async def _json(self, request_id: int) -> orders.RefundJson | None:
        async with self.db.session() as s:
            row = (await s.execute(select(RefundRequest, Order.order_no)
                                   .join(Order, Order.id == RefundRequest.order_id)
                                   .where(RefundRequest.id == request_id))).first()
            return orders.refund_json(row[0], row[1]) if row else None

    async def _run(self, request_id: int) -> None:
        async with self.db.session() as s:
            row = (await s.execute(select(RefundRequest, Order)
                                   .join(Order, Order.id == RefundRequest.order_id)
                                   .where(RefundRequest.id == request_id))).first()
        if row is None:
            return
        req, order = row
        if req.status not in orders.OPEN_REFUND:
            return
        pay = await self._payment_for(order, req.amount)
        if pay is None:
            # Not paid through the bridge (cash, mini-program): staff settle it by hand.
            log.info("refund request %s: order %s has no bridge payment; left for staff",
                     request_id, order.order_no)
            return

        async def processing(s: AsyncSession) -> None:
            await s.execute(update(RefundRequest).where(
                RefundRequest.id == request_id, RefundRequest.status == "requested")
                .values(status="processing", updated_at=now()))

        await self.db.transact(processing)
        try:
            res = await self.refunds.refund(pay["out_trade_no"], req.out_refund_no, req.amount,
                                            req.reason or "", requested_by=req.requested_by)
        except RefundError as err:
            log.warning("refund request %s refused: %s", request_id, err)
            await self._record(request_id, False, err.code)
            return
        if res["status"] == "success":
            await self._record(request_id, True, None)
            log.info("refund request %s of order %s: %d fen refunded (%s)", request_id,
                     order.order_no, req.amount, pay["method"])
        elif res["status"] == "failed":
            await self._record(request_id, False, f"refused by {pay['method']}")
        # pending / unknown: stays processing; the loop queries it again later.

    async def execute(self, request_id: int) -> orders.RefundJson | None:
        """Execute one request, waiting at most ``timeout_s``; returns its JSON after."""
        task = self._running.get(request_id)
        if task is None:
            task = asyncio.create_task(self._guarded(request_id))
            self._running[request_id] = task
            task.add_done_callback(lambda _t: self._running.pop(request_id, None))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), self.timeout_s)
        return await self._json(request_id)

    async def _guarded(self, request_id: int) -> None:
        try:
            await self._run(request_id)
        except Exception:
            log.exception("refund request %s: execution failed; retried later", request_id)

    async def execute_open(self, older_than_s: float = 0.0) -> int:
        """Re-drive every open request of an order with a bridge payment; returns how many."""
        cutoff = now() - timedelta(seconds=older_than_s)
        async with self.db.session() as s:
            ids = list(await s.scalars(
                select(RefundRequest.id).join(Order, Order.id == RefundRequest.order_id)
                .where(RefundRequest.status.in_(orders.OPEN_REFUND),
                       RefundRequest.updated_at <= cutoff,
                       exists().where(Payment.order_no == Order.order_no,
                                      Payment.status == PAID))
                .order_by(RefundRequest.id)))
        for request_id in ids:
            await self.execute(request_id)
        return len(ids)

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)


async def _every(interval_s: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
    """Run ``job()`` every ``interval_s``; a failure is logged and the loop goes on."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("payments %s job failed; next run in %.0f s", name, interval_s)


async def _refund_late_paid(refunds: RefundService, out_trade_no: str) -> None:
    """A payment paid after it was recorded failed: refund it now, once."""
    try:
        await late_paid.refund(refunds, out_trade_no)
    except RefundError as err:  # the orphan sweep (or staff, from the alert) finishes it
        log.error("late payment %s not refunded yet: %s", out_trade_no, err)


def build_service(db: Database, section: PaymentsSection) -> PaymentService:
    """The payment service of ``[payments]`` (providers, stored value, settlement policy)."""
    return PaymentService.from_settings(db, section.settings())


async def payments_ctx(app: web.Application) -> AsyncIterator[None]:
    """The app's ``cleanup_ctx`` for payments: the service, refund executor and loops."""
    from cloud_bridge.keys import CONFIG_KEY, DB_KEY, SERVICES_KEY

    section = app[CONFIG_KEY].payments
    if not section.enabled:
        yield
        return
    db = app[DB_KEY]
    services = app[SERVICES_KEY]
    svc = build_service(db, section)
    executor = RefundExecutor(db, RefundService(svc), section.execute_timeout_s)
    services.payments = svc
    services.refunds = executor
    svc.on_late_paid = functools.partial(_refund_late_paid, executor.refunds)
    jobs: list[asyncio.Task[None]] = []
    if section.settle_interval_s > 0:
        jobs.append(asyncio.create_task(_every(
            section.settle_interval_s, "settlement",
            lambda: svc.settle_all(budget_s=SWEEP_BUDGET_S))))
    if section.orphan_interval_s > 0:
        sweep = OrphanSweep(db, executor.refunds, section.orphan_grace_s)
        jobs.append(asyncio.create_task(_every(
            section.orphan_interval_s, "orphan refunds", sweep.run)))
    if section.refund_interval_s > 0:
        jobs.append(asyncio.create_task(_every(
            section.refund_interval_s, "refunds",
            lambda: executor.execute_open(older_than_s=section.refund_interval_s))))
    try:
        yield
    finally:
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        await executor.close()
        await svc.close()
        services.payments = None
        services.refunds = None
