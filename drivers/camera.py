"""Cameras: OpenCV/V4L2 capture and a replay camera, behind one protocol.

Capture runs in its own thread and hands frames to the event loop through a
one-frame slot: the newest frame wins and a frame nobody took in time is dropped
(Frigate's capture loop), so a slow decoder never works on old pictures.

A watchdog reopens the device after ``watchdog_s`` without a good frame; a
device that is missing, unplugged, or returns ``None``/garbage frames puts the
camera into the ``error`` state (logged at ERROR once per outage, not per retry)
and the camera recovers by itself when the device returns.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import numpy as np

from drivers.config import CameraSection, NoCameraConfig, ReplayCameraConfig
from drivers.state import ERROR, OK, DeviceState

log = logging.getLogger(__name__)

#: First wait before reopening a device that failed; doubles up to the cap. A
#: USB camera re-enumerates within ~1-2 s after replug, so the cap keeps
#: recovery quick without busy-looping on a missing /dev/videoN.
REOPEN_BACKOFF_S = 0.5
REOPEN_BACKOFF_MAX_S = 5.0
#: fps is the number of frames in this trailing window divided by its span.
FPS_WINDOW = 30
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")
#: Spool mode (replay camera): each new image is shown this long, as long as a
#: shopper holds an item up; enough frames for a 1D read to be confirmed.
SPOOL_HOLD_S = 0.6
#: Spool mode: how often the folder is looked at for new images.
SPOOL_POLL_S = 0.05

CameraState = Literal["starting", "ok", "error", "ended", "stopped"]


@dataclass(frozen=True)
class Frame:
    """One camera frame.

    Attributes:
        image: BGR (or grayscale) uint8 array.
        seq: increasing frame number from this camera (gaps: dropped frames).
        captured_at: ``time.monotonic()`` when the frame arrived from the device.
    """

    image: np.ndarray
    seq: int
    captured_at: float


@dataclass(frozen=True)
class CameraHealth:
    """What the health report shows for the camera."""

    state: CameraState
    reason: str
    fps: float
    frames: int
    dropped: int
    reopens: int


class Camera(Protocol):
    """A source of frames; an async context manager that starts/stops capture."""

    async def __aenter__(self) -> Camera: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def next_frame(self, after_seq: int = -1, wait_s: float | None = None) -> Frame | None:
        """The newest frame with ``seq > after_seq``; None after ``wait_s`` or when ended."""
        ...

    def latest(self) -> Frame | None:
        """The newest frame so far (without waiting)."""
        ...

    def health(self) -> CameraHealth:
        """Current state, reason and frame rate."""
        ...


class CaptureDevice(Protocol):
    """The one primitive of a capture device (``cv2.VideoCapture`` fits)."""

    def read(self) -> tuple[bool, Any]: ...

    def release(self) -> None: ...


class ThreadedCamera:
    """Base: a capture thread publishing into a newest-frame-wins slot.

    Subclasses implement :meth:`_run` (the thread body), calling
    :meth:`_publish` for each good frame and ``self.device_state.set(...)`` for its state.
    """

    name = "camera"

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._seq = 0
        self._frames = 0
        self._dropped = 0
        self._reopens = 0
        self._times: deque[float] = deque(maxlen=FPS_WINDOW)
        self.device_state = DeviceState(self.name, log, state="stopped", reason="")
        self._new_frame: asyncio.Event | None = None
        self._taken_seq = 0

    # lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> ThreadedCamera:
        self._loop = asyncio.get_running_loop()
        self._new_frame = asyncio.Event()
        self._stop.clear()
        self.device_state.name = self.name  # subclasses name themselves after __init__
        self.device_state.mark("starting", "")
        self._thread = threading.Thread(target=self._thread_main, name=self.name, daemon=True)
        self._thread.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
        self.device_state.mark("stopped", self.device_state.reason)

    def _thread_main(self) -> None:
        try:
            self._run()
        except Exception as err:  # a driver bug must show in health, not kill silently
            log.exception("%s capture thread crashed", self.name)
            self.device_state.set(ERROR, f"capture thread crashed: {err}")
        finally:
            self._wake()

    def _run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # thread side -----------------------------------------------------------------------
    def _publish(self, image: np.ndarray) -> None:
        now = time.monotonic()
        with self._cond:
            self._seq += 1
            if self._latest is not None and self._latest.seq > self._taken_seq:
                self._dropped += 1  # nobody took the previous frame: stale, dropped
            self._latest = Frame(image, self._seq, now)
            self._frames += 1
            self._times.append(now)
            self._cond.notify_all()
        self.device_state.set(OK, "")
        self._wake()

    def _wake(self) -> None:
        loop, ev = self._loop, self._new_frame
        if loop is not None and ev is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # loop closed while we were stopping
                pass

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; True when stop was requested."""
        return self._stop.wait(seconds)

    # consumer side ---------------------------------------------------------------------
    def latest(self) -> Frame | None:
        """The newest frame (may be one already returned)."""
        return self._latest

    async def next_frame(self, after_seq: int = -1, wait_s: float | None = None) -> Frame | None:
        """The newest frame with ``seq > after_seq``; None after ``wait_s`` or when ended/stopped."""
        assert self._new_frame is not None, "use the camera as an async context manager"
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while True:
            frame = self._latest
            if frame is not None and frame.seq > after_seq:
                self._taken_seq = frame.seq
                return frame
            if self.device_state.state in ("ended", "stopped") or self._stop.is_set():
                return None
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            self._new_frame.clear()
            # Re-check after clear: a frame may have landed between the check and clear.
            frame = self._latest
            if frame is not None and frame.seq > after_seq:
                continue
            try:
                await asyncio.wait_for(self._new_frame.wait(), remaining)
            except TimeoutError:
                return None

    def health(self) -> CameraHealth:
        """Current state, reason, fps over the last frames, counters."""
        times = list(self._times)
        fps = 0.0
        if len(times) >= 2 and time.monotonic() - times[-1] < 2.0:
            fps = (len(times) - 1) / max(times[-1] - times[0], 1e-6)
        state, reason = self.device_state.snapshot()
        return CameraHealth(cast(CameraState, state), reason or "", round(fps, 1), self._frames,
                            self._dropped, self._reopens)


def valid_frame(image: Any, width: int | None = None, height: int | None = None) -> str | None:
    """None for a usable frame, else why it is garbage."""
    if image is None:
        return "device returned no image"
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        return "device returned a non-image"
    if image.ndim not in (2, 3) or image.size == 0 or min(image.shape[:2]) < 16:
        return f"device returned a malformed frame {getattr(image, 'shape', None)}"
    return None


class CaptureCamera(ThreadedCamera):
    """A camera on any :class:`CaptureDevice` opener, with watchdog and reopen.

    Args:
        open_device: returns an opened device, or raises/returns None when the
            device is missing.
        watchdog_s: reopen after this long without a good frame.
        name: for logs and health.
    """

    def __init__(
        self, open_device: Callable[[], CaptureDevice | None], watchdog_s: float = 5.0,
        name: str = "camera",
    ) -> None:
        super().__init__()
        self._open_device = open_device
        self.watchdog_s = watchdog_s
        self.name = name

    def _run(self) -> None:
        backoff = REOPEN_BACKOFF_S
        first = True
        while not self._stop.is_set():
            if not first:
                self._reopens += 1
            first = False
            try:
                dev = self._open_device()
            except Exception as err:
                dev = None
                reason = f"cannot open device: {err}"
            else:
                reason = "cannot open device"
            if dev is None:
                self.device_state.set(ERROR, reason)
                if self._sleep(backoff):
                    return
                backoff = min(backoff * 2, REOPEN_BACKOFF_MAX_S)
                continue
            try:
                if self._read_until_stale(dev):
                    backoff = REOPEN_BACKOFF_S  # it worked for a while: retry quickly
            finally:
                try:
                    dev.release()
                except Exception:  # releasing a vanished device may fail; nothing to do
                    log.debug("%s release failed", self.name, exc_info=True)
            if self._sleep(backoff):
                return
            backoff = min(backoff * 2, REOPEN_BACKOFF_MAX_S)

    def _read_until_stale(self, dev: CaptureDevice) -> bool:
        """Read frames until stop or the watchdog fires; True if any frame was good."""
        last_good = time.monotonic()
        got_any = False
        last_problem = "no frame yet"
        while not self._stop.is_set():
            try:
                ok, image = dev.read()
                problem = None if ok else "read failed"
            except Exception as err:
                image, problem = None, f"read failed: {err}"
            if problem is None:
                problem = valid_frame(image)
            if problem is None:
                self._publish(image)
                last_good = time.monotonic()
                got_any = True
                continue
            last_problem = problem
            if time.monotonic() - last_good > self.watchdog_s:
                self.device_state.set(
                    ERROR, f"no frame for {self.watchdog_s:g} s ({last_problem}); reopening")
                return got_any
            # A failing read usually returns at once: do not spin on it.
            if self._sleep(min(0.05, self.watchdog_s / 10)):
                break
        return got_any


def open_v4l2(device: str | int, width: int, height: int, fps: int) -> CaptureDevice | None:
    """Open a V4L2 camera with OpenCV; None when it cannot be opened."""
    import cv2

    if isinstance(device, str) and device.isdigit():
        device = int(device)
    cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
    if not cap.isOpened():
        cap.release()
        return None
    cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
    cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
    cap.set(cv2.CAP_PROP_FPS, fps)
    # Keep the driver's own queue short: we want the newest frame, not a backlog.
    cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return cap


class V4L2Camera(CaptureCamera):
    """A USB/CSI camera through OpenCV's V4L2 backend (e.g. ``/dev/video0``)."""

    def __init__(
        self, device: str | int = "/dev/video0", width: int = 640, height: int = 480,
        fps: int = 15, watchdog_s: float = 5.0,
    ) -> None:
        super().__init__(lambda: open_v4l2(device, width, height, fps), watchdog_s,
                         name=f"camera {device}")
        self.device = device


class ReplayCamera(ThreadedCamera):
    """Replays a folder of images, a video file, or in-memory frames at ``fps``.

    The fake camera of tests and the demo. At the end it stops (state ``ended``)
    unless ``loop`` is set.

    With ``spool=True`` the source is a folder watched for new images: each one
    (oldest name first) is shown for :data:`SPOOL_HOLD_S` and then deleted, so a
    script can hold codes up at chosen moments. Write a file under a name starting
    with ``.`` and rename it into place: hidden names are not read.
    """

    def __init__(
        self, source: Path | str | Sequence[np.ndarray], fps: float = 10.0, loop: bool = False,
        spool: bool = False,
    ) -> None:
        super().__init__()
        if spool and not isinstance(source, (str, Path)):
            raise ValueError("a spooling replay camera watches a folder, not a list of frames")
        self.source = source
        self.fps = fps
        self.loop = loop
        self.spool = spool
        self.name = "replay camera"

    def _iter_once(self) -> Iterator[np.ndarray]:
        import cv2

        src = self.source
        if not isinstance(src, (str, Path)):
            yield from src
            return
        path = Path(src)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise FileNotFoundError(f"no images in {path}")
            for f in files:
                img = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if img is None:
                    log.warning("replay: cannot read %s", f)
                    continue
                yield img
            return
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
        if path.suffix.lower() in IMAGE_SUFFIXES:
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"cannot read image {path}")
            yield img
            return
        cap = cv2.VideoCapture(str(path))
        try:
            if not cap.isOpened():
                raise ValueError(f"cannot open video {path}")
            while True:
                ok, img = cap.read()
                if not ok:
                    return
                yield img
        finally:
            cap.release()

    def _run_spool(self) -> None:
        import cv2

        if not isinstance(self.source, (str, Path)):  # refused by __init__
            return
        folder = Path(self.source)
        folder.mkdir(parents=True, exist_ok=True)
        period = 1.0 / self.fps
        self.device_state.set(OK, "")
        while not self._stop.is_set():
            files = sorted(p for p in folder.iterdir()
                           if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
            if not files:
                if self._sleep(SPOOL_POLL_S):
                    return
                continue
            img = cv2.imread(str(files[0]), cv2.IMREAD_COLOR)
            files[0].unlink(missing_ok=True)
            if img is None:
                log.warning("replay: cannot read %s", files[0])
                continue
            end = time.monotonic() + SPOOL_HOLD_S
            while time.monotonic() < end:
                self._publish(img)
                if self._sleep(period):
                    return

    def _run(self) -> None:
        if self.spool:
            try:
                self._run_spool()
            except OSError as err:
                self.device_state.set(ERROR, str(err))
            return
        period = 1.0 / self.fps
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                count = 0
                for img in self._iter_once():
                    delay = next_at - time.monotonic()
                    if delay > 0 and self._sleep(delay):
                        return
                    next_at = max(next_at + period, time.monotonic() - period)
                    self._publish(img)
                    count += 1
                    if self._stop.is_set():
                        return
                if not self.loop or count == 0:
                    break
        except (OSError, ValueError) as err:
            self.device_state.set(ERROR, str(err))
            return
        self.device_state.mark("ended", "replay finished")


def open_camera(cfg: CameraSection) -> ThreadedCamera | None:
    """The camera a :class:`drivers.config.CameraSection` asks for (None: no camera)."""
    if isinstance(cfg, NoCameraConfig):
        return None
    if isinstance(cfg, ReplayCameraConfig):
        return ReplayCamera(cfg.replay_path, fps=cfg.replay_fps, loop=cfg.replay_loop,
                            spool=cfg.replay_spool)
    return V4L2Camera(cfg.device, cfg.width, cfg.height, cfg.fps, cfg.watchdog_s)
