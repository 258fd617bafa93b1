"""One shopper session's tally, summarised as a ``session.summary`` outbox event at its end.

A session starts at the first product scan of a cart and ends when the cart is paid,
cancelled (by the shopper, or emptied line by line), abandoned (the cart timer) or parked.
:class:`SessionRecorder` follows the checkout through its listeners (the mechanism the
customer display uses) and counts into a :class:`SessionTally`: units scanned and taken
off, payment attempts and methods, the time from pressing pay to paid, error codes (the
agent reports the refusals the shopper met). Counters and codes only: no personal data
(a member by id), never a payment code or a provider's reason text.

Each session's summary is appended to the outbox once (its tally is dropped the moment
the summary is built); the outbox delivers it at least once and the bridge stores it
once by event id, so each session counts exactly once. A session cut short by a restart
of the agent has no summary (its tally was in memory); its order events still reach the
funnel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from common.jsontypes import JsonObject
from contract.wire.base import utcnow
from contract.wire.events import (
    ERROR_CODE_PATTERN,
    MAX_SESSION_COUNT,
    SESSION_SUMMARY,
    SessionOutcome,
    SessionSummaryData,
    uuid7,
)

from .checkout import Checkout, Ev, State

if TYPE_CHECKING:
    from .journal import Journal

log = logging.getLogger(__name__)

# A summary the journal could not take (disk full, I/O error) is tried again this often;
# it waits in memory meanwhile (the journal's own health check reports the disk).
WRITE_RETRY_S = 5.0
# Codes beyond this many distinct ones in one session are counted as ``other_error``
# (the contract caps a summary at 30 codes).
MAX_ERROR_CODES = 25
_ERROR_CODE = re.compile(ERROR_CODE_PATTERN)


@dataclass
class SessionTally:
    """What happened in one session so far (see the module docstring)."""

    started_at: datetime = field(default_factory=utcnow)
    session_id: str = field(default_factory=uuid7)
    items_scanned: int = 0
    items_removed: int = 0
    payment_attempts: int = 0
    payment_methods: list[str] = field(default_factory=list)
    pay_requested_at: datetime | None = None
    errors: Counter[str] = field(default_factory=Counter)
    help_calls: int = 0

    def scanned(self, units: int = 1) -> None:
        self.items_scanned = min(self.items_scanned + units, MAX_SESSION_COUNT)

    def removed(self, units: int) -> None:
        if units > 0:
            self.items_removed = min(self.items_removed + units, MAX_SESSION_COUNT)

    def pay_requested(self) -> None:
        """The shopper pressed pay (the first press starts the time-to-pay clock)."""
        if self.pay_requested_at is None:
            self.pay_requested_at = utcnow()

    def payment_tried(self, method: str) -> None:
        self.payment_attempts = min(self.payment_attempts + 1, MAX_SESSION_COUNT)
        if method not in self.payment_methods:
            self.payment_methods.append(method)

    def error(self, code: str) -> None:
        """Count an error code (a refusal code or a payment outcome, never free text)."""
        if not _ERROR_CODE.match(code):
            code = "other_error"  # not a code: never let it into (or break) the summary
        if code not in self.errors and len(self.errors) >= MAX_ERROR_CODES:
            code = "other_error"
        if self.errors[code] < MAX_SESSION_COUNT:
            self.errors[code] += 1

    def summary(self, outcome: SessionOutcome, *, order_no: str | None = None,
                member_id: str | None = None) -> tuple[str, JsonObject]:
        """The ``session.summary`` outbox event ``(type, data)`` of the session ending now."""
        ended = utcnow()
        pay_s = None
        if outcome == "paid" and self.pay_requested_at is not None:
            pay_s = round(max((ended - self.pay_requested_at).total_seconds(), 0.0), 3)
        data = SessionSummaryData.model_validate({
            "session_id": self.session_id, "started_at": self.started_at, "ended_at": ended,
            "outcome": outcome, "items_scanned": self.items_scanned,
            "items_removed": self.items_removed, "payment_attempts": self.payment_attempts,
            "payment_methods": self.payment_methods, "pay_seconds": pay_s,
            "errors": dict(self.errors), "help_calls": self.help_calls,
            "order_no": order_no, "member_id": member_id,
        })
        return SESSION_SUMMARY, data.model_dump(mode="json")


# Checkout events that end a session, with the outcome they give it.
_ENDS: dict[Ev, SessionOutcome] = {
    Ev.PAYMENT_SUCCEEDED: "paid", Ev.CANCEL: "cancelled", Ev.TIMEOUT: "abandoned",
    Ev.PARK: "parked", Ev.MAINTENANCE_ON: "cancelled",
}


class SessionRecorder:
    """Counts the sessions of one checkout and appends their summaries to the outbox.

    A component of the agent (``run(stop)``): it attaches its listener to the checkout
    that ``checkout()`` returns and writes ended sessions' summaries as they come.

    Args:
        journal: the journal whose outbox the summaries go to (``append_events``).
        checkout: returns the agent's checkout (``None`` before it exists).
    """

    def __init__(self, journal: Journal, checkout: Callable[[], Checkout | None]) -> None:
        self.journal = journal
        self._checkout = checkout
        self.tally: SessionTally | None = None
        self.pending: list[tuple[str, JsonObject]] = []
        self._units = 0
        self._member: str | None = None
        self._order_no: str | None = None
        self._wake = asyncio.Event()

    # -- counting (sync: called from the checkout's listeners and the agent) ----------

    def listener(self, co: Checkout, event: Ev) -> None:
        """The checkout's listener: count ``event``; end the session when it ends one."""
        units = sum(int(getattr(i, "qty", 1)) for i in co.items)
        if event == Ev.SCAN_PRODUCT and self.tally is None:
            self.tally, self._units = SessionTally(), 0
        tally = self.tally
        if tally is None:
            return
        if event in _ENDS:
            pass  # a cart cleared by its end (void, park) was not taken off item by item
        elif units > self._units:
            tally.scanned(units - self._units)
        elif units < self._units:
            tally.removed(self._units - units)
        self._units = units
        member = getattr(co.member, "member_id", None)
        self._member = member or self._member
        self._order_no = co.order_no or self._order_no
        if event == Ev.REQUEST_PAYMENT:
            tally.pay_requested()
        elif event == Ev.PAYMENT_STARTED and co.attempt is not None:
            tally.payment_tried(co.attempt.provider)
        elif event == Ev.PAYMENT_FAILED and co.attempt is not None:
            tally.error("payment_reversed" if co.attempt.status == "reversed"
                        else "payment_failed")
        elif event == Ev.PAYMENT_UNKNOWN:
            tally.error("payment_unknown")
        if event in _ENDS:
            self._end(_ENDS[event])
        elif event == Ev.REMOVE_LINE and co.state == State.IDLE:
            self._end("cancelled")  # the cart was emptied line by line

    def refused(self, code: str) -> None:
        """The shopper met a refusal (its stable code) during the current session."""
        if self.tally is not None:
            self.tally.error(code)

    def help_called(self) -> None:
        """The shopper called staff (呼叫店员) during the current session."""
        if self.tally is not None:
            self.tally.help_calls = min(self.tally.help_calls + 1, MAX_SESSION_COUNT)

    def _end(self, outcome: SessionOutcome) -> None:
        tally, self.tally = self.tally, None
        if tally is None:
            return
        try:
            self.pending.append(tally.summary(outcome, order_no=self._order_no,
                                              member_id=self._member))
        except Exception:  # a broken summary must never touch the sale
            log.exception("session summary dropped")
        self._units, self._member, self._order_no = 0, None, None
        self._wake.set()

    # -- writing -----------------------------------------------------------------------

    async def flush(self) -> int:
        """Append the ended sessions' summaries in one transaction; how many."""
        batch, self.pending = self.pending, []
        if not batch:
            return 0
        try:
            await self.journal.append_events(batch)
        except Exception:
            self.pending[:0] = batch  # kept, in order, for the next try
            raise
        return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the checkout and write summaries until ``stop``; the last ones then."""
        co = self._checkout()
        if co is None:
            return
        co.listeners.append(self.listener)
        try:
            while not stop.is_set():
                waker = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waker, stopper}, return_when=asyncio.FIRST_COMPLETED)
                for f in (waker, stopper):
                    f.cancel()
                self._wake.clear()
                try:
                    await self.flush()
                except Exception as err:
                    log.warning("session summaries not written yet (%s); retrying", err)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), WRITE_RETRY_S)
                    self._wake.set()
        finally:
            with contextlib.suppress(ValueError):
                co.listeners.remove(self.listener)
            with contextlib.suppress(Exception):
                await self.flush()
