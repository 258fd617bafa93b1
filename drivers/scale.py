"""Serial scale speaking the Mettler Toledo continuous output format.

Most retail counter scales sold in China (顶尖/Aclas, 大华/Dahua, 凯士/CAS, and Toledo's
own) can send "Toledo continuous" on RS-232 / USB CDC: the scale sends one frame per
display update, unasked, at 9600 8N1 by default::

    STX SWA SWB SWC W W W W W W T T T T T T CR [CHK]

* ``STX`` 0x02; ``CR`` 0x0D; ``CHK`` (optional, on when the scale's checksum setting is)
  the two's complement of the 7-bit sum of STX..CR, so that the sum of all is 0 mod 128;
* ``W``/``T``: the displayed weight and the tare, six ASCII digits each, no decimal
  point, no sign (leading zeros may be spaces);
* status word A (``SWA``): bits 0-2 the decimal point (0 ``XXXX00``, 1 ``XXXXX0``,
  2 ``XXXXXX``, 3 ``XXXXX.X``, 4 ``XXXX.XX``, 5 ``XXX.XXX``, 6 ``XX.XXXX``, 7 ``X.XXXXX``);
  bits 3-4 the increment (1: x1, 2: x2, 3: x5); bit 5 always 1;
* status word B (``SWB``): bit 0 net (1) or gross (0); bit 1 negative; bit 2 out of range
  (over capacity or under zero); bit 3 in motion; bit 4 kg (1) or lb (0); bit 5 always 1;
  bit 6 not zeroed since power-up;
* status word C (``SWC``): bit 3 print request; bit 5 always 1 (otherwise unused here).

A weight is taken only when it is **stable**: the scale says "not in motion" on at least
:data:`STABLE_FRAMES` consecutive frames spanning :data:`STABLE_MIN_S`, all within
:data:`STABLE_TOLERANCE_G` of each other, not negative, not out of range, in kg, and at
least :data:`MIN_WEIGHT_G` (an empty pan or a leaf of lettuce falling off is not a sale).
**Tare**: the scale's own tare (the frame's net bit) is honoured; :meth:`SerialScale.tare`
also takes the current stable gross as a software tare (a shopper's bag or box) that is
subtracted until :meth:`SerialScale.clear_tare`.

Faults: a missing or unplugged port puts the scale in ``error`` and it is reopened every
``reopen_s``; frames with a bad checksum, bad digits or missing status bits are dropped
and counted (a wrong baud rate looks like this) and put the scale in ``error``
("garbage") until the next good frame. Reading is one thread (pyserial blocks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from drivers.state import ERROR, OK, DeviceState

log = logging.getLogger(__name__)

STX = 0x02
CR = 0x0D
FRAME_BODY = 16  # STX .. last tare digit
# A frame that does not end by this many bytes after its STX is noise.
MAX_FRAME = 18
# How many consecutive motion-free frames, over how long, make a weight stable: a
# scale sends ~10 frames/s, and a pack set down settles in well under half a second.
STABLE_FRAMES = 3
STABLE_MIN_S = 0.3
# Two frames agree when within this many grams (one or two divisions of a 2 g scale).
STABLE_TOLERANCE_G = 2
# Less than this on the pan is "nothing": no weighed sale under 5 g.
MIN_WEIGHT_G = 5
# pyserial read timeout: how fast the reader notices a stop request.
READ_POLL_S = 0.1
REOPEN_S = 2.0
# A reading older than this is stale (the scale stopped talking).
STALE_S = 1.5

_DECIMALS = {0: -2, 1: -1, 2: 0, 3: 1, 4: 2, 5: 3, 6: 4, 7: 5}


class ScaleFrameError(ValueError):
    """A frame that is not valid Toledo continuous output; ``str()`` is the reason."""


class ScaleNotStable(Exception):
    """No stable weight in time; ``reason`` says why (motion, empty, overload, stale...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ScaleReading:
    """One frame, decoded. Weights in grams (kg scales only; lb is refused)."""

    displayed_g: int
    tare_g: int
    net: bool
    negative: bool
    out_of_range: bool
    motion: bool
    kg: bool
    at: float

    @property
    def gross_g(self) -> int:
        """The gross weight: displayed plus the scale's tare when it shows net."""
        return self.displayed_g + self.tare_g if self.net else self.displayed_g


def _digits(raw: bytes, field: str) -> int:
    text = raw.decode("ascii", errors="replace").replace(" ", "0")
    if len(text) != 6 or not text.isdigit():
        raise ScaleFrameError(f"{field} digits {raw!r}")
    return int(text)


def _to_grams(value: int, point: int) -> int:
    # The digits are in kg with `point` decimals: grams = value * 10**(3 - point).
    shift = 3 - _DECIMALS[point]
    if shift >= 0:
        return value * int(10**shift)
    return round(value / int(10**-shift))


def checksum(body: bytes) -> int:
    """The CHK byte for ``body`` (STX .. CR): sum of all is 0 modulo 128."""
    return (-sum(body)) & 0x7F


def parse_frame(frame: bytes, at: float | None = None) -> ScaleReading:
    """Decode one frame (``STX`` .. ``CR``, with or without the checksum byte)."""
    if len(frame) not in (FRAME_BODY + 1, FRAME_BODY + 2) or frame[0] != STX \
            or frame[FRAME_BODY] != CR:
        raise ScaleFrameError(f"bad frame length or delimiters ({len(frame)} bytes)")
    if len(frame) == FRAME_BODY + 2 and (sum(frame) & 0x7F) != 0:
        raise ScaleFrameError("checksum mismatch")
    swa, swb, swc = frame[1], frame[2], frame[3]
    if not (swa & 0x20 and swb & 0x20 and swc & 0x20):
        raise ScaleFrameError("status bytes without their fixed bit 5")
    point = swa & 0x07
    displayed = _to_grams(_digits(frame[4:10], "weight"), point)
    tare = _to_grams(_digits(frame[10:16], "tare"), point)
    return ScaleReading(
        displayed_g=displayed, tare_g=tare, net=bool(swb & 0x01), negative=bool(swb & 0x02),
        out_of_range=bool(swb & 0x04), motion=bool(swb & 0x08), kg=bool(swb & 0x10),
        at=time.monotonic() if at is None else at)


def make_frame(grams: int, *, tare_g: int = 0, net: bool = False, motion: bool = False,
               negative: bool = False, out_of_range: bool = False, kg: bool = True,
               point: int = 5, with_checksum: bool = True) -> bytes:
    """A frame as a scale sends it (the fake scale and tests); ``point`` 5 = ``XXX.XXX`` kg."""
    factor = 10 ** (3 - _DECIMALS[point])
    swa = 0x20 | (1 << 3) | point
    swb = 0x20 | net | negative << 1 | out_of_range << 2 | motion << 3 | kg << 4
    body = bytes([STX, swa, swb, 0x20]) + f"{grams // factor:06d}{tare_g // factor:06d}".encode()
    body += bytes([CR])
    return body + bytes([checksum(body)]) if with_checksum else body


class FrameSplitter:
    """Bytes in, frames out (each from an STX to its CR, plus a checksum byte if one
    follows: told apart from the next frame's STX). Noise between frames is counted."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buf.extend(data)
        frames: list[bytes] = []
        while True:
            start = self._buf.find(bytes([STX]))
            if start < 0:
                self.dropped += bool(self._buf)
                self._buf.clear()
                return frames
            if start:
                self.dropped += 1
                del self._buf[:start]
            if len(self._buf) < FRAME_BODY + 1:
                return frames
            if self._buf[FRAME_BODY] != CR:
                self.dropped += 1
                del self._buf[:1]
                continue
            if len(self._buf) == FRAME_BODY + 1:
                return frames  # wait: a checksum byte may follow
            take = FRAME_BODY + 1 if self._buf[FRAME_BODY + 1] == STX else FRAME_BODY + 2
            frames.append(bytes(self._buf[:take]))
            del self._buf[:take]


class StableRule:
    """The stable-weight rule over recent readings (see the module docstring)."""

    def __init__(self, frames: int = STABLE_FRAMES, min_s: float = STABLE_MIN_S,
                 tolerance_g: int = STABLE_TOLERANCE_G, min_weight_g: int = MIN_WEIGHT_G):
        self.frames, self.min_s = frames, min_s
        self.tolerance_g, self.min_weight_g = tolerance_g, min_weight_g
        self._recent: deque[ScaleReading] = deque(maxlen=64)
        self._last: ScaleReading | None = None

    def add(self, reading: ScaleReading) -> None:
        self._last = reading
        if reading.motion or reading.negative or reading.out_of_range:
            self._recent.clear()  # a stable run starts after the last unsettled frame
        else:
            self._recent.append(reading)

    @property
    def last(self) -> ScaleReading | None:
        """The latest reading, settled or not."""
        return self._last

    def stable_gross(self, now: float | None = None) -> int:
        """The stable gross weight in grams; :class:`ScaleNotStable` with the reason if none."""
        last = self._last
        if last is None:
            raise ScaleNotStable("no reading from the scale")
        if (time.monotonic() if now is None else now) - last.at > STALE_S:
            raise ScaleNotStable("the scale stopped sending")
        if not last.kg:
            raise ScaleNotStable("the scale is set to lb, not kg")
        if last.out_of_range:
            raise ScaleNotStable("over capacity or under zero")
        if last.negative:
            raise ScaleNotStable("negative weight (zero the scale)")
        if last.motion:
            raise ScaleNotStable("in motion")
        # The settled run: the latest motion-free frames all within the tolerance of each
        # other; it must hold enough frames over enough time (whatever the frame rate).
        run: list[ScaleReading] = []
        lo = hi = last.gross_g
        for r in reversed(self._recent):
            lo, hi = min(lo, r.gross_g), max(hi, r.gross_g)
            if hi - lo > self.tolerance_g:
                break
            run.append(r)
        if len(run) < self.frames:
            raise ScaleNotStable("in motion" if len(self._recent) >= self.frames else "settling")
        if last.at - run[-1].at < self.min_s:
            raise ScaleNotStable("settling")
        return last.gross_g


class SerialScale:
    """A Toledo-continuous scale on a serial port: ``async with SerialScale(port) as s``."""

    def __init__(self, port: str, baudrate: int = 9600, *, reopen_s: float = REOPEN_S,
                 rule: StableRule | None = None) -> None:
        self.port = port
        self.baudrate = baudrate
        self.reopen_s = reopen_s
        self.rule = rule or StableRule()
        self.frames = 0
        self.dropped = 0
        self.software_tare_g = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.device_state = DeviceState(f"scale {port}", log)

    async def __aenter__(self) -> SerialScale:
        self._stop.clear()
        self._thread = threading.Thread(target=self._reader, name="scale", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)
            self._thread = None

    async def run(self, stop: asyncio.Event) -> None:
        """As an agent component: the reader thread works until ``stop``."""
        await stop.wait()

    # -- what the checkout uses ------------------------------------------------------
    def current(self) -> int:
        """The stable net weight now (grams, software tare taken off); ScaleNotStable if none."""
        with self._lock:
            last = self.rule.last
            if last is not None and not last.motion and \
                    last.gross_g - self.software_tare_g < self.rule.min_weight_g:
                raise ScaleNotStable("nothing on the scale")  # no need to wait for that
            gross = self.rule.stable_gross()
        net = gross - self.software_tare_g
        if net < self.rule.min_weight_g:
            raise ScaleNotStable("nothing on the scale")
        return net

    async def stable_weight(self, timeout_s: float = 3.0) -> int:
        """Wait up to ``timeout_s`` for a stable net weight (grams)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.current()
            except ScaleNotStable:
                if time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(0.05)

    async def tare(self, timeout_s: float = 3.0) -> int:
        """Take the current stable gross as the tare (a bag or box); returns it in grams."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with self._lock:
                    gross = self.rule.stable_gross()
                self.software_tare_g = gross
                return gross
            except ScaleNotStable:
                if time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(0.05)

    def clear_tare(self) -> None:
        self.software_tare_g = 0

    def health(self) -> dict[str, Any]:
        state, reason = self.device_state.snapshot()
        return {"state": state, "reason": reason, "port": self.port, "frames": self.frames,
                "dropped": self.dropped, "tare_g": self.software_tare_g}

    # -- the reader thread -----------------------------------------------------------
    def feed(self, data: bytes, splitter: FrameSplitter) -> None:
        """Decode ``data`` (the reader thread; tests may call it directly)."""
        before = splitter.dropped
        good = 0
        for frame in splitter.feed(data):
            try:
                reading = parse_frame(frame)
            except ScaleFrameError as err:
                self.dropped += 1
                self.device_state.set(ERROR, f"garbage on the line: {err}")
                continue
            good += 1
            with self._lock:
                self.rule.add(reading)
        self.frames += good
        if splitter.dropped > before:
            self.dropped += splitter.dropped - before
            self.device_state.set(ERROR, "garbage on the line (wrong baud rate or noise)")
        elif good:
            self.device_state.set(OK, None)

    def _reader(self) -> None:
        import serial

        while not self._stop.is_set():
            try:
                port = serial.Serial(self.port, self.baudrate, timeout=READ_POLL_S)
            except (serial.SerialException, OSError, ValueError) as err:
                self.device_state.set(ERROR, f"cannot open {self.port}: {err}")
                self._stop.wait(self.reopen_s)
                continue
            splitter = FrameSplitter()
            try:
                while not self._stop.is_set():
                    data = port.read(port.in_waiting or 1)
                    if data:
                        self.feed(data, splitter)
            except (serial.SerialException, OSError) as err:
                self.device_state.set(ERROR, f"disconnected: {err}")
            finally:
                with contextlib.suppress(Exception):
                    port.close()
            self._stop.wait(self.reopen_s)
