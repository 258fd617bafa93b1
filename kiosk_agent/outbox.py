"""Outbox delivery: journal -> MQTT ``events``, deleted only on the cloud's end-to-end ack.

:class:`OutboxDrainer` reads undelivered events from the journal in batches, in
``seq`` order, and publishes them (QoS 1) while at most ``window`` events are in
flight (published, not yet acked by the cloud). A PUBACK only means the broker
has the event, so it is not awaited (:meth:`Link.publish_nowait`); the event leaves
the journal when an :class:`EventAck` on ``events/ack`` lists it (the acks that come
while events are in flight are gathered into one delete transaction). An event not
acked within ``ack_timeout_s`` is published again, and after a reconnect every
in-flight event is published again at once (the broker may have lost it); the
cloud dedupes by ``event_id``, so the effect is exactly once. An event the cloud
rejects goes to the journal's dead-letter list with the reason and frees its slot,
so it never blocks the events behind it.

The offline policy (``[offline]``) turns the outbox's depth and oldest unsent age,
plus the offline stored-value spend the agent reports, into ``ok``, ``warning`` or
``paused`` (offline tenders paused) through :meth:`OutboxDrainer.offline_state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import aiomqtt

from common.jsontypes import JsonObject
from contract.wire.base import WireError, decode
from contract.wire.events import EventAck

from .config import OfflineSection, OutboxSection
from .link import Link, LinkDown

if TYPE_CHECKING:
    from .journal import Journal
    from .journal.outbox import OutboxRow

log = logging.getLogger(__name__)

# How often the offline policy is re-evaluated from the journal's outbox stats.
OFFLINE_CHECK_S = 5.0
# Ids acked by the cloud are deleted in one transaction per this many.
ACK_DELETE_BATCH = 1000
# While events are in flight, acks are gathered this long (or until a window's worth)
# before their transaction: its commit (an fsync) costs the journal thread ~300 us of
# CPU, ~14 us per id in batches of 35 (one consumer ack), ~4 us in batches of 250.
ACK_GATHER_S = 0.05

OfflineState = Literal["ok", "warning", "paused"]


@dataclass(slots=True)
class _InFlight:
    seq: int
    payload: bytes
    sent_at: float
    sends: int = 1


class OutboxDrainer:
    """Delivers the journal's outbox over the link; an async context manager.

    Args:
        journal: The open :class:`kiosk_agent.journal.Journal`.
        link: The kiosk's :class:`Link` (the drainer registers its ``events/ack`` handler).
        outbox: ``[outbox]`` config (window, batch, ack_timeout_s).
        offline: ``[offline]`` limits.
        offline_stored_value: Coroutine returning fen of stored-value spent offline and
            not yet delivered (supplied by the agent; 0 when not given).
    """

    def __init__(
        self,
        journal: Journal,
        link: Link,
        outbox: OutboxSection | None = None,
        offline: OfflineSection | None = None,
        offline_stored_value: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.journal = journal
        self.link = link
        self.cfg = outbox or OutboxSection()
        self.offline = offline or OfflineSection()
        self.offline_stored_value = offline_stored_value
        self.inflight: OrderedDict[str, _InFlight] = OrderedDict()
        self.published = 0  # publishes handed to the link, resends included
        self.resent = 0
        self.acked = 0
        self.rejected = 0
        self._buffer: deque[OutboxRow] = deque()
        self._read_seq = -1
        self._exhausted = False
        self._acked_not_deleted: set[str] = set()
        self._to_delete: list[str] = []
        self._to_reject: list[tuple[str, str]] = []
        self._wake = asyncio.Event()
        self._store_wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._state: OfflineState = "ok"
        self._state_reason = ""
        self._state_at = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._reading: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> OutboxDrainer:
        self.link.add_handler(self.link.topics.events_ack, self._on_ack_message)
        self.link.on_connect(self._on_reconnect)
        await self.refresh_offline_state()
        self._tasks = [
            asyncio.create_task(self._drain_loop(), name="outbox-drain"),
            asyncio.create_task(self._store_loop(), name="outbox-acks"),
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        tasks = [*self._tasks, *([self._reading] if self._reading else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # Acks already received are worth keeping: delete them before we go.
        with contextlib.suppress(Exception):
            await self._flush_store()

    async def run(self, stop: asyncio.Event) -> None:
        """Agent component protocol: work happens in background tasks until ``stop``."""
        await stop.wait()

    async def _on_reconnect(self) -> None:
        # The broker may have lost what was in flight (crash): resend all of it now
        # (all at 0, still in send order before anything sent later).
        for item in self.inflight.values():
            item.sent_at = 0.0
        self._wake.set()

    # -- delivery --------------------------------------------------------------------

    async def _drain_loop(self) -> None:
        while True:
            await self.link.connected.wait()
            now = time.monotonic()
            timeout = self.cfg.ack_timeout_s
            # ``inflight`` is kept in send order (a resend moves its event to the end), so
            # the events due for a resend are at its front: one sweep, no timer per event.
            due: list[tuple[str, _InFlight]] = []
            for eid, it in self.inflight.items():
                if now - it.sent_at < timeout:
                    break
                due.append((eid, it))
            for event_id, item in due:
                if item.sends > 1 or item.sent_at > 0:
                    log.info("event %s unacked after %.1fs; resending", event_id, timeout)
                item.sent_at = time.monotonic()
                item.sends += 1
                self.inflight.move_to_end(event_id)
                self.resent += 1
                self._publish(item.payload)
            # Read ahead: the next batch is fetched while the buffer still holds a window's
            # worth, so the read (queued on the journal thread behind the ack deletes and
            # their fsyncs) does not leave the window empty.
            if (self._reading is None and len(self._buffer) < self.cfg.window
                    and not self._exhausted_wait_needed()):
                self._reading = asyncio.create_task(self._read_more(), name="outbox-read")
            reading = self._reading
            if reading is not None and (reading.done() or not self._buffer):
                self._reading = None
                await reading  # its rows are in the buffer; a journal error is raised here
            while self._buffer and len(self.inflight) < self.cfg.window:
                row = self._buffer.popleft()
                if row.event_id in self._acked_not_deleted or row.event_id in self.inflight:
                    continue
                self.inflight[row.event_id] = _InFlight(row.seq, row.payload, time.monotonic())
                self._publish(row.payload)
            if self._buffer and len(self.inflight) < self.cfg.window:
                continue
            if not self._buffer and not self._exhausted and len(self.inflight) < self.cfg.window:
                continue
            if time.monotonic() - self._state_at >= OFFLINE_CHECK_S:
                await self.refresh_offline_state()
            self._idle.set()
            await self._sleep()
            self._idle.clear()

    def _exhausted_wait_needed(self) -> bool:
        # Journal read to the end and no new commit since: nothing to read.
        return self._exhausted and not self.journal.outbox_signal.is_set()

    async def _read_more(self) -> None:
        self.journal.outbox_signal.clear()
        rows = await self.journal.outbox_pending(self.cfg.batch, after_seq=self._read_seq)
        if rows:
            self._buffer.extend(rows)
            self._read_seq = rows[-1].seq
        self._exhausted = len(rows) < self.cfg.batch
        self._wake.set()

    async def _sleep(self) -> None:
        """Until an ack frees a slot, new events are committed, or a resend falls due."""
        now = time.monotonic()
        oldest = next(iter(self.inflight.values()), None)  # the earliest sent: see _drain_loop
        next_due = oldest.sent_at + self.cfg.ack_timeout_s if oldest else now + OFFLINE_CHECK_S
        delay = max(min(next_due, now + OFFLINE_CHECK_S) - now, 0.0)
        waiters = [asyncio.ensure_future(self._wake.wait())]
        if len(self.inflight) < self.cfg.window:
            waiters.append(asyncio.ensure_future(self.journal.outbox_signal.wait()))
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        self._wake.clear()

    def _publish(self, payload: bytes) -> None:
        """Start one QoS 1 publish; its PUBACK is not awaited (the window is freed by the
        end-to-end ack), and an event whose publish failed stays in flight: resent on
        reconnect or when its ack is overdue."""
        try:
            self.link.publish_nowait(self.link.topics.events, payload, qos=1)
            self.published += 1
        except LinkDown as err:
            log.debug("event publish failed: %s", err)
        except ValueError as err:  # paho refused the message itself (e.g. too large)
            log.error("event publish refused: %s", err)

    # -- acks ------------------------------------------------------------------------

    async def _on_ack_message(self, message: aiomqtt.Message) -> None:
        try:
            ack = decode(EventAck, message.payload)
        except WireError as err:
            log.warning("dropped malformed events/ack: %s", err.reason)
            return
        self.handle_ack(ack)

    def handle_ack(self, ack: EventAck) -> None:
        """Free the slots of acked and rejected events; their journal writes are batched."""
        for event_id in ack.acked:
            self.inflight.pop(event_id, None)
            if event_id not in self._acked_not_deleted:
                self._acked_not_deleted.add(event_id)
                self._to_delete.append(event_id)
        for rej in ack.rejected:
            self.inflight.pop(rej.event_id, None)
            self._acked_not_deleted.add(rej.event_id)
            self._to_reject.append((rej.event_id, rej.reason))
        self._wake.set()
        self._store_wake.set()

    async def _store_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._store_wake.wait()
            # While events are in flight their acks keep coming: gather them (up to a
            # window's worth, for at most ACK_GATHER_S) into one transaction, one fsync.
            # Nothing in flight (the last ack of a drain, a single sale): store at once.
            deadline = loop.time() + ACK_GATHER_S
            while self.inflight and len(self._to_delete) < self.cfg.window:
                left = deadline - loop.time()
                if left <= 0:
                    break
                self._store_wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._store_wake.wait(), left)
            self._store_wake.clear()
            await self._flush_store()

    async def _flush_store(self) -> None:
        while self._to_delete or self._to_reject:
            if self._to_delete:
                batch = self._to_delete[:ACK_DELETE_BATCH]
                del self._to_delete[:ACK_DELETE_BATCH]
                await self.journal.outbox_ack(batch)
                self.acked += len(batch)
                self._acked_not_deleted.difference_update(batch)
            if self._to_reject:
                rejects, self._to_reject = self._to_reject, []
                for event_id, reason in rejects:
                    await self.journal.outbox_reject(event_id, reason)
                    self.rejected += 1
                    self._acked_not_deleted.discard(event_id)

    async def wait_idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until nothing is in flight or queued and every ack is stored (tests, shutdown)."""
        async def _wait() -> None:
            while True:
                # Cheap in-memory check first; the journal only confirms.
                if (not self.inflight and not self._buffer and not self._to_delete
                        and not self._to_reject and self._exhausted and self._idle.is_set()):
                    stats = await self.journal.outbox_stats()
                    if stats.depth == 0 and not self.inflight and not self._to_delete:
                        return
                await asyncio.sleep(0.01)

        await asyncio.wait_for(_wait(), timeout)

    # -- offline policy --------------------------------------------------------------

    async def refresh_offline_state(self) -> OfflineState:
        """Re-evaluate the offline policy from the journal now."""
        stats = await self.journal.outbox_stats()
        age = time.time() - stats.oldest_created_at if stats.oldest_created_at else 0.0
        spent = await self.offline_stored_value() if self.offline_stored_value else 0
        lim = self.offline
        state: OfflineState = "ok"
        reason = ""
        if age >= lim.max_oldest_unsent_s:
            state, reason = "paused", f"oldest unsent event is {age:.0f}s old"
        elif stats.depth >= lim.max_queue_depth:
            state, reason = "paused", f"{stats.depth} events queued"
        elif spent >= lim.max_offline_stored_value_fen > 0:
            state, reason = "paused", f"{spent} fen stored value spent offline"
        elif age >= lim.warn_oldest_unsent_s:
            state, reason = "warning", f"oldest unsent event is {age:.0f}s old"
        elif stats.depth >= lim.warn_queue_depth:
            state, reason = "warning", f"{stats.depth} events queued"
        if state != self._state:
            level = logging.INFO if state == "ok" else logging.WARNING
            log.log(level, "offline policy: %s -> %s %s", self._state, state, reason)
        self._state, self._state_reason, self._state_at = state, reason, time.monotonic()
        return state

    def offline_state(self) -> OfflineState:
        """``ok``, ``warning`` (health warning) or ``paused`` (offline tenders paused)."""
        return self._state

    @property
    def offline_reason(self) -> str:
        return self._state_reason

    async def offline_tender_allowed(self, amount_fen: int) -> bool:
        """Whether a stored-value tender of ``amount_fen`` may be taken while offline."""
        if await self.refresh_offline_state() == "paused":
            return False
        if amount_fen > self.offline.max_offline_sale_fen:
            return False
        spent = await self.offline_stored_value() if self.offline_stored_value else 0
        return spent + amount_fen <= self.offline.max_offline_stored_value_fen

    async def telemetry_fields(self) -> JsonObject:
        """Queue depth, oldest unsent age, dead letters and offline health for :class:`Telemetry`."""
        stats = await self.journal.outbox_stats()
        return {
            "queue_depth": stats.depth,
            "oldest_unsent_s": (
                max(time.time() - stats.oldest_created_at, 0.0) if stats.oldest_created_at else None
            ),
            "dead_letters": stats.dead_letters,
            "offline_health": self._state,
        }
