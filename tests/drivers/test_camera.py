"""Cameras: replay, newest-frame-wins, watchdog, faults and recovery (drivers/camera.py)."""

from __future__ import annotations

import logging
import time

import cv2
import numpy as np
import pytest

from drivers import camera as camera_mod
from drivers.camera import CaptureCamera, ReplayCamera, V4L2Camera, open_camera
from kiosk_agent.config import CameraSection
from tests.support.waiting import until


def _frames(n: int) -> list[np.ndarray]:
    return [np.full((48, 64, 3), i, np.uint8) for i in range(n)]


@pytest.fixture
def fast_reopen(monkeypatch) -> None:
    """Shrink the reopen backoff so fault tests take milliseconds."""
    monkeypatch.setattr(camera_mod, "REOPEN_BACKOFF_S", 0.01)
    monkeypatch.setattr(camera_mod, "REOPEN_BACKOFF_MAX_S", 0.02)


async def test_replay_frames_in_order_then_ended() -> None:
    async with ReplayCamera(_frames(5), fps=200) as cam:
        seen, seq = [], -1
        while (frame := await cam.next_frame(seq, wait_s=2.0)) is not None:
            seen.append(int(frame.image[0, 0, 0]))
            seq = frame.seq
        assert cam.health().state == "ended"
    assert seen == sorted(seen) and seen[-1] == 4


async def test_replay_folder_loops(tmp_path) -> None:
    for i, img in enumerate(_frames(3)):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), img)
    (tmp_path / "notes.txt").write_text("not an image")
    async with ReplayCamera(tmp_path, fps=200, loop=True) as cam:
        seq = -1
        for _ in range(7):  # more frames than files: it looped
            frame = await cam.next_frame(seq, wait_s=2.0)
            assert frame is not None and frame.image.shape == (48, 64, 3)
            seq = frame.seq
        assert seq >= 7


async def test_replay_video_file(tmp_path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for img in _frames(4):
        writer.write(img)
    writer.release()
    async with ReplayCamera(path, fps=200) as cam:
        count, seq = 0, -1
        while (frame := await cam.next_frame(seq, wait_s=2.0)) is not None:
            count, seq = count + 1, frame.seq
    assert count >= 1


async def test_replay_missing_path_is_an_error_state(tmp_path) -> None:
    async with ReplayCamera(tmp_path / "nope", fps=50) as cam:
        await until(lambda: cam.health().state == "error")
        assert "does not exist" in cam.health().reason


def test_spooling_needs_a_folder_not_frames() -> None:
    frame = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="folder"):
        ReplayCamera([frame], spool=True)


async def test_newest_frame_wins_and_stale_frames_are_dropped() -> None:
    async with ReplayCamera(_frames(60), fps=400) as cam:
        first = await cam.next_frame(-1, wait_s=2.0)
        # A slow decoder: several frames arrive before it asks for the next one.
        await until(lambda: cam.latest().seq >= first.seq + 5)
        newest = await cam.next_frame(first.seq, wait_s=2.0)
        assert newest.seq > first.seq + 1  # skipped straight to a recent frame
        assert cam.health().dropped > 0


class FlakyDevice:
    """A capture device that gives ``good`` frames, then fails (unplug) or gives garbage."""

    def __init__(self, good: int, then: str = "fail") -> None:
        self.good = good
        self.then = then
        self.released = False

    def read(self):
        if self.good > 0:
            self.good -= 1
            return True, np.full((48, 64, 3), 100, np.uint8)
        time.sleep(0.002)
        if self.then == "none":
            return True, None
        if self.then == "garbage":
            return True, np.zeros((2, 2), np.uint8)
        return False, None

    def release(self) -> None:
        self.released = True


async def test_missing_then_unplugged_then_recovered(fast_reopen, caplog) -> None:
    # open #1, #2: missing; #3: works for 5 frames then unplugged; #4+: works forever
    opened: list[FlakyDevice | None] = [None, None, FlakyDevice(5), FlakyDevice(10**9)]
    calls = []

    def opener():
        calls.append(1)
        return opened[min(len(calls) - 1, len(opened) - 1)]

    caplog.set_level(logging.WARNING, logger="drivers.camera")
    async with CaptureCamera(opener, watchdog_s=0.1, name="test cam") as cam:
        await until(lambda: cam.health().state == "error")
        assert "cannot open" in cam.health().reason
        await until(lambda: cam.health().state == "ok")  # device appeared
        frame = await cam.next_frame(-1, wait_s=2.0)
        assert frame is not None
        await until(lambda: len(calls) >= 4 and cam.health().state == "ok")
        assert cam.health().reopens >= 3
        assert opened[2].released
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    # once for "missing" (two failed opens), once for the unplug: not once per retry
    assert len(errors) == 2, [r.getMessage() for r in errors]
    assert any("recovered" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("garbage", ["none", "garbage"])
async def test_garbage_frames_put_camera_in_error(fast_reopen, garbage) -> None:
    async with CaptureCamera(lambda: FlakyDevice(0, then=garbage), watchdog_s=0.05) as cam:
        await until(lambda: cam.health().state == "error")
        assert "no frame for" in cam.health().reason
        assert await cam.next_frame(-1, wait_s=0.05) is None


async def test_opener_exception_is_an_error_not_a_crash(fast_reopen) -> None:
    def opener():
        raise OSError("permission denied")

    async with CaptureCamera(opener, watchdog_s=0.05) as cam:
        await until(lambda: cam.health().state == "error")
        assert "permission denied" in cam.health().reason


async def test_v4l2_missing_device_is_error_not_crash(fast_reopen) -> None:
    async with V4L2Camera("/dev/video-does-not-exist", watchdog_s=0.1) as cam:
        await until(lambda: cam.health().state == "error")
        assert "cannot open device" in cam.health().reason
        assert await cam.next_frame(-1, wait_s=0.05) is None
    assert cam.health().state == "stopped"


def test_open_camera_follows_config(tmp_path) -> None:
    assert open_camera(CameraSection(kind="none")) is None
    replay = open_camera(CameraSection(kind="replay", replay_path=tmp_path, replay_fps=5))
    assert isinstance(replay, ReplayCamera) and replay.fps == 5
    v4l2 = open_camera(CameraSection(kind="v4l2", device="/dev/video3", watchdog_s=2))
    assert isinstance(v4l2, V4L2Camera) and v4l2.watchdog_s == 2
    with pytest.raises(ValueError):
        open_camera(CameraSection(kind="replay"))
