"""Print spooler: the journal's print jobs -> the receipt printer, each exactly once.

Print jobs live in the journal (``add_print_job`` in the same transaction as the sale),
so a receipt survives a crash, a printer out of paper and a reboot. The spooler:

- waits on ``journal.print_signal`` (a new job) or ``retry_s`` (re-check the printer);
- asks the printer for its status first (DLE EOT): out of paper, cover open, offline
  or unplugged leaves every job pending with the reason (``print_job_failed``), and
  the job prints when the printer is back;
- renders the receipt from the journal's copy of the order (``order_receipt``) and
  sends it with one ``write``; when the bytes are taken, the job is done. A job is
  written once: it is remembered in memory until the journal has marked it done, so
  a journal hiccup after a successful write does not print it again. (A crash in the
  few ms between the write and the journal update is the one window left: the
  receipt may come out twice then, which beats a sale without a receipt.)
- ``reprint`` jobs print the order again marked 重印 REPRINT; ``test`` prints a test page.

``health()`` is the printer's entry in the agent's health report; transitions
(ok -> paper out -> ok) are logged once each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from common.jsontypes import JsonObject
from drivers.printer import PrinterError, PrinterStatus, ReceiptPrinter
from drivers.receipt import (
    ReceiptLayout,
    ReceiptOptions,
    layout_receipt,
    layout_test_page,
    render_escpos,
)
from drivers.state import ERROR, DeviceState

from .config import AgentConfig

if TYPE_CHECKING:
    from contract.wire.events import OrderCompletedData

    from .journal.printing import PrintJob

log = logging.getLogger(__name__)


def receipt_options(cfg: AgentConfig) -> ReceiptOptions:
    """Receipt options from the agent config (kiosk, printer and receipt sections)."""
    return ReceiptOptions(
        paper_mm=cfg.printer.paper_mm,
        encoding=cfg.printer.encoding,
        language=cfg.receipt.language,
        store_name=cfg.kiosk.store_name,
        store_name_en=cfg.kiosk.store_name_en,
        store_id=cfg.kiosk.store_id,
        kiosk_id=cfg.kiosk.kiosk_id,
        header=cfg.receipt.header,
        footer=cfg.receipt.footer,
        ereceipt_url=cfg.receipt.ereceipt_url,
        timezone=cfg.kiosk.timezone,
    )

# How often the printer is re-checked while jobs wait (and for the health report
# when idle). Five seconds: a shopper who just loaded paper sees the receipt quickly,
# and a DLE EOT poll costs the printer nothing.
RETRY_S = 5.0
# An order that is not in the journal cannot be printed; say so once in this long.
MISSING_ORDER_LOG_S = 300.0


class PrintJobSource(Protocol):
    """The part of :class:`kiosk_agent.journal.Journal` the spooler uses."""

    print_signal: asyncio.Event

    async def print_jobs_pending(self) -> list[PrintJob]: ...

    async def print_job_done(self, job_id: int) -> bool: ...

    async def print_job_failed(self, job_id: int, reason: str) -> bool: ...

    async def order_receipt(self, order_no: str) -> OrderCompletedData | None: ...


JobCallback = Callable[["PrintJob", str, str | None], Awaitable[None] | None]


class PrintSpooler:
    """Prints the journal's pending print jobs; an async context manager.

    Args:
        journal: the journal (or anything with the five print-job members).
        printer: the receipt printer (``drivers.printer.build_printer(cfg.printer)``).
        options: receipt options (``receipt_options(cfg)``).
        retry_s: printer re-check interval while jobs wait (``cfg.printer.retry_s``).
        on_job: optional ``callback(job, outcome, reason)`` with outcome ``"printed"``
            (once per job) or ``"pending"`` with the reason (on every pass the job could
            not print; ``job.last_error`` is the reason of the pass before).
    """

    def __init__(
        self,
        journal: PrintJobSource,
        printer: ReceiptPrinter,
        options: ReceiptOptions | None = None,
        *,
        retry_s: float = RETRY_S,
        on_job: JobCallback | None = None,
    ) -> None:
        self.journal = journal
        self.printer = printer
        self.options = options or ReceiptOptions()
        self.retry_s = retry_s
        self.on_job = on_job
        self.printed_jobs = 0
        self._written: set[int] = set()  # jobs whose bytes went out, until marked done
        self._pending = 0
        self._status: PrinterStatus | None = None
        self.device_state = DeviceState("printer", log)
        self._last_error: str | None = None
        self._last_printed: str | None = None
        self._missing_logged: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        # One write at a time: a slip printed now (print_now) never interleaves a receipt.
        self._write_lock = asyncio.Lock()

    # -- lifecycle -----------------------------------------------------------------
    async def __aenter__(self) -> PrintSpooler:
        self._stop.clear()
        self._task = asyncio.create_task(self.run(), name="print-spooler")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self.printer.close)

    def kick(self) -> None:
        """Re-check now (e.g. staff pressed "printer fixed" in the TUI)."""
        self._wake.set()

    async def run(self) -> None:
        """Spool until cancelled: one pass per new job or every ``retry_s``."""
        while not self._stop.is_set():
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug or a journal failure must not kill the spooler
                log.exception("print spooler pass failed; retrying in %.1fs", self.retry_s)
            signal = self.journal.print_signal
            waiters = [asyncio.ensure_future(signal.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(waiters, timeout=self.retry_s, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
            signal.clear()
            self._wake.clear()

    async def run_once(self) -> int:
        """One pass: check the printer, print what is pending. Returns jobs printed."""
        jobs = await self.journal.print_jobs_pending()
        self._pending = len(jobs)
        already_out = [j for j in jobs if j.job_id in self._written]
        jobs = [j for j in jobs if j.job_id not in self._written]
        for job in already_out:  # printed on an earlier pass; only the journal lags
            await self._finish(job)
        status = await asyncio.to_thread(self.printer.status)
        self._set_status(status)
        if not jobs:
            return 0
        if not status.ready:
            reason = status.reason or "not ready"
            for job in jobs:
                if job.last_error != reason:
                    await self.journal.print_job_failed(job.job_id, reason)
                await self._notify(job, "pending", reason)
            return 0
        printed = 0
        for job in jobs:
            try:
                data = await self._render(job)
            except Exception as err:  # bad data in one order must not block the others
                reason = f"cannot render: {type(err).__name__}: {err}"[:200]
                log.exception("print job %s: cannot render", job.job_id)
                if job.last_error != reason:
                    await self.journal.print_job_failed(job.job_id, reason)
                await self._notify(job, "pending", reason)
                continue
            if data is None:
                await self._notify(job, "pending", _missing_order(job.order_no))
                continue
            try:
                async with self._write_lock:
                    await asyncio.to_thread(self.printer.write, data)
            except PrinterError as err:
                reason = str(err)
                self._set_error(reason)
                await self.journal.print_job_failed(job.job_id, reason)
                await self._notify(job, "pending", reason)
                break  # the printer is in trouble: the rest waits for the next pass
            self._written.add(job.job_id)
            await self._finish(job)
            printed += 1
        return printed

    async def ready(self) -> bool:
        """Asks the printer now: can it print (paper in, cover shut, online)?"""
        status = await asyncio.to_thread(self.printer.status)
        self._set_status(status)
        return status.ready

    async def print_now(self, layout: ReceiptLayout) -> bool:
        """Print a slip that is not a journal job (a payment QR: worthless after a restart,
        so never queued); False when the printer is not ready or the write failed."""
        if not await self.ready():
            return False
        try:
            async with self._write_lock:
                await asyncio.to_thread(self.printer.write, render_escpos(layout))
        except PrinterError as err:
            self._set_error(str(err))
            return False
        return True

    # -- internals -----------------------------------------------------------------
    async def _render(self, job: PrintJob) -> bytes | None:
        if job.kind == "test":
            return render_escpos(layout_test_page(self.options, when=_now()))
        order = await self.journal.order_receipt(job.order_no) if job.order_no else None
        if order is None:
            reason = _missing_order(job.order_no)
            now = time.monotonic()
            if now - self._missing_logged.get(job.job_id, -MISSING_ORDER_LOG_S) >= MISSING_ORDER_LOG_S:
                log.error("print job %s: %s", job.job_id, reason)
                self._missing_logged[job.job_id] = now
            if job.last_error != reason:
                await self.journal.print_job_failed(job.job_id, reason)
            return None
        opts = self.options
        if job.kind == "reprint":
            opts = replace(opts, reprint=True)
        return render_escpos(layout_receipt(order, opts))

    async def _finish(self, job: PrintJob) -> None:
        try:
            await self.journal.print_job_done(job.job_id)
        except Exception:
            # The receipt is out; keep the job in _written so it is never sent again
            # and mark it done on a later pass.
            log.exception("print job %s printed but not marked done yet", job.job_id)
            return
        self._written.discard(job.job_id)
        self.printed_jobs += 1
        self._pending = max(0, self._pending - 1)
        self._last_printed = job.order_no
        log.info("printed %s for order %s (job %s)", job.kind, job.order_no, job.job_id)
        await self._notify(job, "printed", None)

    async def _notify(self, job: PrintJob, outcome: str, reason: str | None) -> None:
        if self.on_job is None:
            return
        try:
            result = self.on_job(job, outcome, reason)
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            log.exception("print job callback failed")

    def _set_status(self, status: PrinterStatus) -> None:
        self._status = status
        if not status.ready:
            self._transition("error", status.reason or "not ready")
        elif status.paper == "near_end":
            self._transition("warning", "paper near end")
        else:
            self._transition("ok", None)

    def _set_error(self, reason: str) -> None:
        self._last_error = reason
        self._transition("error", reason)

    def _transition(self, state: str, reason: str | None) -> None:
        if self.device_state.set(state, reason) and state == ERROR:
            self._last_error = reason

    def health(self) -> JsonObject:
        """The printer's health entry: ``{"state": "error", "reason": "paper out", ...}``."""
        st = self._status
        state, reason = self.device_state.snapshot()
        return {
            "state": state,
            "reason": reason,
            "online": st.online if st else None,
            "paper": st.paper if st else "unknown",
            "cover_open": st.cover_open if st else None,
            "pending_jobs": self._pending,
            "printed_jobs": self.printed_jobs,
            "last_printed": self._last_printed,
            "last_error": self._last_error,
        }


def _missing_order(order_no: str | None) -> str:
    return f"order {order_no!r} not in the journal"


def _now() -> datetime:
    return datetime.now(UTC)
