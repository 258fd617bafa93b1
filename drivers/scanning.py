"""Camera frames (and other scanners) -> one debounced async stream of scans.

::

    camera thread --newest frame--> decode thread (pipeline) --reads-->
        place guard (a read where another code was just read waits for two frames)
        -> confirm (unconfident 1D reads need the other engine on a later frame)
        -> classify (contract.codes) -> debounce -> bounded queue -> agent

Decoding never runs on the event loop: one dedicated decode thread, one frame
at a time; while it works the camera keeps overwriting its newest-frame slot, so
the next decode always takes the freshest picture.

Other scanners (the serial barcode scanner) feed the same stream through
:meth:`ScanSource.add_source` (an async iterable of ``(text, symbology)``) or
:meth:`ScanSource.feed`; their reads are trusted (a hardware scanner checks its
reads itself) but still classified and debounced with the camera's.

Debounce: a code seen again within ``debounce_s`` of its last sighting counts
once (a product held in front of the camera for five seconds is one item); after
``debounce_s`` without seeing it, the next sighting adds one more. Payment codes
are kept only in memory (the debounce table keys on a hash) and are masked in
every log line and in ``repr(scan)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import statistics
import time
from collections import deque
from collections.abc import AsyncIterable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from contract import codes

from .camera import Camera, CameraHealth
from .decoding import Decoded, Decoder, conflicting

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

#: An unconfident 1D read must be read again, by the other engine, within this
#: long: at 15 fps that is a dozen frames, plenty for a code held still.
CONFIRM_WINDOW_S = 1.0
#: Scans waiting for the agent. The agent takes a scan in microseconds; a full
#: queue means it is stuck, and then the oldest scans are the least useful.
SCAN_QUEUE_SIZE = 32
#: A read at the place where a different code was read this recently is contested:
#: one symbol carries one code, so one of the two texts is a misread ...
PLACE_WINDOW_S = 0.6
#: ... and it counts only once read there on this many frames in a row.
CONTESTED_FRAMES = 2
#: How long the camera loop waits for a frame before re-checking for stop.
FRAME_WAIT_S = 0.5
#: Decode latencies kept for the p50 in the health report.
LATENCY_WINDOW = 100

ScanState = Literal["ok", "error", "idle"]


@dataclass(frozen=True, repr=False)
class Scan:
    """One accepted scan.

    Attributes:
        text: the code (a payment code is a secret: see ``repr``).
        symbology: symbology name from :mod:`contract.codes` ("" when unknown).
        kind: product | wechat | alipay | member | staff (| unknown with emit_unknown).
        seen_at: ``time.monotonic()`` when the scan was accepted.
        frame_at: ``time.monotonic()`` when the frame that completed it arrived
            (for a serial scanner: when the line arrived).
        source: "camera" or the name given to :meth:`ScanSource.add_source`.
    """

    text: str
    symbology: str
    kind: codes.CodeKind
    seen_at: float
    frame_at: float
    source: str = "camera"

    def __repr__(self) -> str:
        return (f"Scan({codes.display_text(self.text, self.kind)!r}, {self.symbology or '?'}, "
                f"{self.kind}, source={self.source})")

    __str__ = __repr__


@dataclass(frozen=True)
class ScanHealth:
    """Health of the scan source for the agent's report."""

    state: ScanState
    reason: str
    fps: float  # frames decoded per second (recent)
    decode_ms_p50: float | None
    frames: int
    scans: int
    rejected: int
    camera: CameraHealth | None


def _key(text: str) -> str:
    # Hash: the debounce table must not become a store of payment codes.
    return hashlib.blake2s(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class Debouncer:
    """Same code within ``window_s`` of its last sighting counts once."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._last_seen: dict[str, float] = {}

    def accept(self, text: str, now: float) -> bool:
        """Record a sighting; True when it counts as a new scan."""
        k = _key(text)
        last = self._last_seen.get(k)
        self._last_seen[k] = now
        if len(self._last_seen) > 256:
            self._prune(now)
        return last is None or now - last > self.window_s

    def touch(self, text: str, now: float) -> None:
        """A sighting that cannot count (unconfirmed) still keeps a counted code 'held'."""
        k = _key(text)
        last = self._last_seen.get(k)
        if last is not None and now - last <= self.window_s:
            self._last_seen[k] = now

    def _prune(self, now: float) -> None:
        self._last_seen = {k: t for k, t in self._last_seen.items() if now - t <= self.window_s}


@dataclass
class _Pending:
    engine: str
    first_at: float


class Confirmer:
    """Holds unconfident 1D reads until the other engine reads them on a later frame."""

    def __init__(self, window_s: float = CONFIRM_WINDOW_S) -> None:
        self.window_s = window_s
        self._pending: dict[str, _Pending] = {}

    def offer(self, read: Decoded, now: float) -> bool:
        """True when ``read`` may be emitted now."""
        k = _key(read.text)
        if read.confident:
            self._pending.pop(k, None)
            return True
        p = self._pending.get(k)
        if p is not None and now - p.first_at <= self.window_s:
            if read.engine != p.engine:
                del self._pending[k]
                return True
            return False  # same engine again: may be the same misread again
        self._pending[k] = _Pending(read.engine, now)
        if len(self._pending) > 64:
            self._pending = {kk: v for kk, v in self._pending.items()
                             if now - v.first_at <= self.window_s}
        return False


class PlaceGuard:
    """Keeps one code per place across frames: a read where another text was just read
    waits until it is read there on :data:`CONTESTED_FRAMES` frames in a row.

    Within one frame the pipeline drops two texts read on one symbol; across frames a
    misread can come alone (a frame where only the wrong text was read, between frames
    with the right one). A product put where another one was a moment ago is delayed
    by a frame; an uncontested read passes at once.
    """

    def __init__(self, window_s: float = PLACE_WINDOW_S, frames: int = CONTESTED_FRAMES) -> None:
        self.window_s = window_s
        self.frames = frames
        self._recent: deque[tuple[float, Decoded]] = deque()
        self._streak: dict[str, int] = {}

    def admit(self, reads: list[Decoded], now: float) -> list[Decoded]:
        """The reads of one frame that may go on (to confirmation and the debounce)."""
        while self._recent and now - self._recent[0][0] > self.window_s:
            self._recent.popleft()
        out: list[Decoded] = []
        streak: dict[str, int] = {}
        for read in reads:
            if any(conflicting(read, seen) for _at, seen in self._recent):
                k = _key(read.text)
                streak[k] = self._streak.get(k, 0) + 1
                if streak[k] < self.frames:
                    continue
            out.append(read)
        self._streak = streak  # a frame without the contested text breaks its run
        self._recent.extend((now, r) for r in reads)
        if len(self._recent) > 256:
            self._recent = deque(list(self._recent)[-128:])
        return out


@dataclass
class ScanSource:
    """Turns camera frames and other scanners into a debounced stream of :class:`Scan`.

    Use as an async context manager, then ``await source.get()`` or
    ``async for scan in source``.

    Args:
        camera: a started-or-not camera (this source enters it), or None.
        decoder: the decode pipeline (default: :func:`drivers.decoding.make_decoder`).
        debounce_s: see the module docstring.
        confirm_1d: confirm unconfident 1D reads on a later frame (config
            ``decoder.confirm_1d``; turning it off trades false reads for speed).
        member_key: HMAC key for member codes (the agent passes its credential; without
            one no member code verifies).
        emit_unknown: also emit codes that classify as unknown (diagnostics).
        clock: monotonic clock (tests).
    """

    camera: Camera | None = None
    decoder: Decoder | None = None
    debounce_s: float = 1.5
    confirm_1d: bool = True
    member_key: str | bytes | None = None
    emit_unknown: bool = False
    queue_size: int = SCAN_QUEUE_SIZE
    clock: Callable[[], float] = time.monotonic
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._queue: asyncio.Queue[Scan] = asyncio.Queue(self.queue_size)
        self._debounce = Debouncer(self.debounce_s)
        self._confirm = Confirmer()
        self._places = PlaceGuard()
        self._executor: ThreadPoolExecutor | None = None
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._decode_times: deque[float] = deque(maxlen=30)
        self._frames = 0
        self._scans = 0
        self._rejected = 0
        self._decoder_error: str | None = None
        self._stack: contextlib.AsyncExitStack | None = None

    # lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> ScanSource:
        self._stack = contextlib.AsyncExitStack()
        if self.camera is not None:
            if self.decoder is None:
                from .decoding import make_decoder

                self.decoder = await asyncio.to_thread(make_decoder)
            await self._stack.enter_async_context(self.camera)
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="decode")
            self._tasks.append(asyncio.create_task(self._camera_loop(), name="scan-camera"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        if self._stack is not None:
            await self._stack.aclose()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # consumer side ---------------------------------------------------------------------
    async def get(self) -> Scan:
        """The next scan (waits)."""
        return await self._queue.get()

    def __aiter__(self) -> ScanSource:
        return self

    async def __anext__(self) -> Scan:
        return await self._queue.get()

    # other sources ---------------------------------------------------------------------
    def add_source(self, source: AsyncIterable[tuple[str, str]], name: str = "serial") -> None:
        """Merge another scanner's ``(text, symbology)`` stream into this one.

        Call inside ``async with``; the reader task ends with the source and is
        cancelled when this scan source closes. A failing source is logged once.
        """

        async def pump() -> None:
            try:
                async for text, symbology in source:
                    self.feed(text, symbology, source=name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scan source %s failed", name)

        self._tasks.append(asyncio.create_task(pump(), name=f"scan-{name}"))

    def feed(
        self, text: str, symbology: str = codes.UNKNOWN_SYMBOLOGY, *, source: str = "serial",
        frame_at: float | None = None,
    ) -> Scan | None:
        """Offer a trusted read (e.g. from a serial scanner); returns the Scan if accepted."""
        now = self.clock()
        return self._accept(text.strip(), symbology or "", now if frame_at is None else frame_at,
                            now, source)

    # camera side -----------------------------------------------------------------------
    async def _camera_loop(self) -> None:
        assert self.camera is not None and self.decoder is not None
        loop = asyncio.get_running_loop()
        seq = -1
        while True:
            frame = await self.camera.next_frame(seq, wait_s=FRAME_WAIT_S)
            if frame is None:
                if self.camera.health().state in ("ended", "stopped"):
                    return  # replay finished; other sources keep running
                continue
            seq = frame.seq
            t0 = time.perf_counter()
            def newer_frame_waiting(seq: int = frame.seq, cam: Camera = self.camera) -> bool:
                latest = cam.latest()
                return latest is not None and latest.seq > seq

            try:
                reads = await loop.run_in_executor(self._executor, self._decode, frame.image,
                                                   newer_frame_waiting)
            except Exception as err:
                if self._decoder_error is None:
                    log.error("decoder failed: %s", err, exc_info=True)
                self._decoder_error = f"decoder failed: {err}"
                continue
            if self._decoder_error is not None:
                log.warning("decoder works again")
                self._decoder_error = None
            self._latencies.append((time.perf_counter() - t0) * 1000)
            self._decode_times.append(self.clock())
            self._frames += 1
            now = self.clock()
            admitted = self._places.admit(reads, now) if self.confirm_1d else reads
            for read in reads:
                if any(read is a for a in admitted):
                    self._on_read(read, frame.captured_at, now)
                else:  # contested: still keeps a counted code 'held'
                    self._debounce.touch(read.text, now)

    def _decode(self, image: np.ndarray, should_stop: Callable[[], bool]) -> list[Decoded]:
        assert self.decoder is not None
        return self.decoder.decode(image, should_stop=should_stop)

    def _on_read(self, read: Decoded, frame_at: float, now: float) -> None:
        if self.confirm_1d and not self._confirm.offer(read, now):
            self._debounce.touch(read.text, now)
            log.debug("unconfirmed %s read %s by %s/%s", read.symbology,
                      codes.display_text(read.text, ""), read.engine, read.stage)
            return
        self._accept(read.text, read.symbology, frame_at, now, "camera")

    def _accept(
        self, text: str, symbology: str, frame_at: float, now: float, source: str
    ) -> Scan | None:
        kind = codes.classify(text, symbology, member_key=self.member_key)
        if kind == "unknown" and not self.emit_unknown:
            self._rejected += 1
            log.info("ignored unknown %s code %s from %s", symbology or "?",
                     codes.display_text(text, kind), source)
            return None
        if not self._debounce.accept(text, now):
            return None
        scan = Scan(text, symbology, kind, now, frame_at, source)
        if self._queue.full():
            dropped = self._queue.get_nowait()
            log.warning("scan queue full: dropped %r", dropped)
        self._queue.put_nowait(scan)
        self._scans += 1
        log.info("scan %r", scan)
        return scan

    # health ----------------------------------------------------------------------------
    def health(self) -> ScanHealth:
        """State (error when the camera or decoder fails), fps, decode latency p50."""
        cam = self.camera.health() if self.camera is not None else None
        state: ScanState = "ok"
        reason = ""
        if cam is not None and cam.state == "error":
            state, reason = "error", f"camera: {cam.reason}"
        elif self._decoder_error is not None:
            state, reason = "error", self._decoder_error
        elif cam is None:
            state, reason = "idle", "no camera"
        elif cam.state in ("ended", "stopped", "starting"):
            state, reason = "idle", f"camera {cam.state}"
        times = list(self._decode_times)
        fps = 0.0
        if len(times) >= 2 and self.clock() - times[-1] < 2.0:
            fps = (len(times) - 1) / max(times[-1] - times[0], 1e-6)
        p50 = statistics.median(self._latencies) if self._latencies else None
        return ScanHealth(state, reason, round(fps, 1), None if p50 is None else round(p50, 2),
                          self._frames, self._scans, self._rejected, cam)
