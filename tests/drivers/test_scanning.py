"""Frames and other scanners -> debounced scan stream (drivers/scanning.py)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import numpy as np
import pytest

from drivers import camera as camera_mod
from drivers import testimages
from drivers.camera import CaptureCamera, ReplayCamera
from drivers.decoding import Decoded
from drivers.scanning import PlaceGuard, ScanSource
from tests.support.waiting import until

WECHAT = "134567890123456712"
EAN = "6901234567892"


class FakeClock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedDecoder:
    """Returns reads by the frame's first pixel value; records the decoding thread."""

    def __init__(self, script: dict[int, list[Decoded]]) -> None:
        self.script = script
        self.threads: set[str] = set()

    def decode(self, image, should_stop=None):
        self.threads.add(threading.current_thread().name)
        return list(self.script.get(int(image[0, 0, 0]), []))


def _marked(values: list[int]) -> list[np.ndarray]:
    return [np.full((48, 64, 3), v, np.uint8) for v in values]


async def _drain(source: ScanSource) -> list:
    """Every scan, once the source's camera replay and other sources have ended (their
    tasks finish then): no time window that a loaded machine could miss."""
    _, running = await asyncio.wait(source._tasks, timeout=30)
    assert not running, "the replay did not end"
    scans = []
    while not source._queue.empty():
        scans.append(source._queue.get_nowait())
    return scans


async def test_camera_frames_become_scans_off_the_event_loop(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    frames = ([testimages.simple_frame(EAN, "EAN13")] * 4
              + [testimages.simple_frame(WECHAT, "CODE128")] * 4)
    cam = ReplayCamera(frames, fps=40)
    async with ScanSource(cam, member_key="k") as source:
        first = await asyncio.wait_for(source.get(), 10)
        second = await asyncio.wait_for(source.get(), 10)
        health = source.health()
    assert (first.text, first.symbology, first.kind) == (EAN, "EAN13", "product")
    assert (second.text, second.kind) == (WECHAT, "wechat")
    assert first.frame_at <= first.seen_at
    assert "1345************12" in repr(second) and WECHAT not in repr(second)
    assert health.decode_ms_p50 is not None and health.frames >= 2
    # a payment code never reaches a log line in clear
    assert not [r for r in caplog.records if WECHAT in r.getMessage()]


async def test_decoding_runs_in_the_decode_thread() -> None:
    dec = ScriptedDecoder({1: [Decoded(EAN, "EAN13", "zxing")]})
    async with ScanSource(ReplayCamera(_marked([1, 1]), fps=20), dec) as source:
        await asyncio.wait_for(source.get(), 5)
    assert dec.threads and all(t.startswith("decode") for t in dec.threads)


async def test_unconfident_read_needs_the_other_engine_on_a_later_frame() -> None:
    weak_pz = Decoded(EAN, "EAN13", "pyzbar", confident=False)
    weak_zx = Decoded(EAN, "EAN13", "zxing", confident=False)
    # frames: pyzbar alone, pyzbar alone again (same engine: no), then zxing (yes)
    dec = ScriptedDecoder({1: [weak_pz], 2: [weak_pz], 3: [weak_zx]})
    cam = ReplayCamera(_marked([1, 2]), fps=20)
    async with ScanSource(cam, dec) as source:
        assert await _drain(source) == []
    cam = ReplayCamera(_marked([1, 2, 3]), fps=20)
    async with ScanSource(cam, dec) as source:
        scans = await _drain(source)
    assert [s.text for s in scans] == [EAN]


OTHER_EAN = "6903952120090"
HERE = (300, 200, 480, 220)
THERE = (20, 380, 200, 400)


def test_a_read_where_another_code_was_just_read_waits_for_two_frames_in_a_row() -> None:
    guard = PlaceGuard(window_s=0.6, frames=2)
    right = Decoded(EAN, "EAN13", "zxing", box=HERE)
    wrong = Decoded(OTHER_EAN, "EAN13", "zxing", box=(302, 226, 481, 246))  # lower rows
    assert guard.admit([right], 0.0) == [right]  # nothing else was read there
    assert guard.admit([wrong], 0.07) == []  # contested
    assert guard.admit([right], 0.13) == []  # contested by the misread in turn
    assert guard.admit([wrong], 0.2) == []  # the run was broken: one frame again
    assert guard.admit([right], 0.27) == []
    assert guard.admit([right], 0.33) == [right]  # two frames in a row


def test_codes_in_other_places_or_after_the_window_pass_at_once() -> None:
    guard = PlaceGuard(window_s=0.6, frames=2)
    here = Decoded(EAN, "EAN13", "zxing", box=HERE)
    there = Decoded(OTHER_EAN, "EAN13", "zxing", box=THERE)
    assert guard.admit([here, there], 0.0) == [here, there]
    later = Decoded(OTHER_EAN, "EAN13", "zxing", box=HERE)
    assert guard.admit([later], 0.7) == [later]  # the first code is gone for 0.7 s
    qr = Decoded("https://mp.example.com/p/1", "QRCODE", "zxing", box=HERE)
    other_qr = Decoded("https://mp.example.com/p/2", "QRCODE", "zxing", box=HERE)
    assert guard.admit([qr], 1.4) == [qr] and guard.admit([other_qr], 1.5) == [other_qr]


async def test_a_lone_misread_between_reads_of_the_right_code_is_not_scanned() -> None:
    right = Decoded(EAN, "EAN13", "zxing", box=HERE)
    wrong = Decoded(OTHER_EAN, "EAN13", "zxing", box=HERE)
    dec = ScriptedDecoder({1: [right], 2: [wrong]})
    cam = ReplayCamera(_marked([1, 2, 1, 2, 1]), fps=20)
    # A clock that stands still: every frame is within the place window, however slowly
    # a loaded machine decodes them (frames the source skips only remove reads).
    async with ScanSource(cam, dec, clock=FakeClock()) as source:
        scans = await _drain(source)
    assert [s.text for s in scans] == [EAN]


async def test_confirmation_can_be_turned_off() -> None:
    dec = ScriptedDecoder({1: [Decoded(EAN, "EAN13", "pyzbar", confident=False)]})
    async with ScanSource(ReplayCamera(_marked([1]), fps=20), dec, confirm_1d=False) as src:
        assert [s.text for s in await _drain(src)] == [EAN]


async def test_debounce_window_slides_with_sightings() -> None:
    clock = FakeClock()
    async with ScanSource(None, debounce_s=1.5, clock=clock, member_key="k") as source:
        assert source.feed(EAN, "EAN13") is not None
        for _ in range(5):  # held in view for 5 s, seen every second: still one item
            clock.now += 1.0
            assert source.feed(EAN, "EAN13") is None
        clock.now += 1.6  # taken away for longer than the window, shown again
        assert source.feed(EAN, "EAN13") is not None
        assert source.feed("96385074", "EAN8") is not None  # another product at once
        scans = [source._queue.get_nowait() for _ in range(source._queue.qsize())]
    assert [s.text for s in scans] == [EAN, EAN, "96385074"]


async def test_unknown_and_invalid_codes_are_rejected() -> None:
    async with ScanSource(None, member_key="k") as source:
        assert source.feed("190000000000000000", "CODE128") is None
        assert source.feed("6901234567893", "EAN13") is None
        assert source.feed("hello", "") is None
        assert source.health().rejected == 3
        assert source.health().state == "idle"


async def test_other_sources_merge_into_the_stream() -> None:
    async def serial_lines():
        yield EAN, "unknown"
        yield WECHAT, ""
        yield EAN, "unknown"  # within the debounce window: counted once

    async with ScanSource(None, member_key="k") as source:
        source.add_source(serial_lines(), name="serial")
        scans = [await asyncio.wait_for(source.get(), 2) for _ in range(2)]
        assert await _drain(source) == []
    assert [(s.text, s.kind, s.source) for s in scans] == [
        (EAN, "product", "serial"), (WECHAT, "wechat", "serial")]


async def test_camera_fault_is_reported_and_serial_scans_keep_flowing(monkeypatch) -> None:
    monkeypatch.setattr(camera_mod, "REOPEN_BACKOFF_S", 0.01)
    monkeypatch.setattr(camera_mod, "REOPEN_BACKOFF_MAX_S", 0.02)
    present = threading.Event()

    class Device:
        def read(self):
            time.sleep(0.005)
            return True, np.full((48, 64, 3), 1, np.uint8)

        def release(self):
            pass

    cam = CaptureCamera(lambda: Device() if present.is_set() else None, watchdog_s=0.1)
    dec = ScriptedDecoder({1: [Decoded(EAN, "EAN13", "zxing")]})
    async with ScanSource(cam, dec, member_key="k") as source:
        await until(lambda: source.health().state == "error")
        assert "camera" in source.health().reason
        assert source.feed("96385074", "EAN8") is not None  # the serial scanner still works
        present.set()  # camera plugged back in
        await until(lambda: source.health().state == "ok")
        scans = [await asyncio.wait_for(source.get(), 5) for _ in range(2)]
    assert {s.text for s in scans} == {"96385074", EAN}


async def test_decoder_failure_is_an_error_state_not_a_crash(caplog) -> None:
    class Broken:
        def __init__(self):
            self.calls = 0

        def decode(self, image, should_stop=None):
            self.calls += 1
            if self.calls <= 3:
                raise RuntimeError("boom")
            return [Decoded(EAN, "EAN13", "zxing")]

    cam = ReplayCamera(_marked([1] * 8), fps=50)
    async with ScanSource(cam, Broken(), member_key="k") as source:
        await until(lambda: source.health().state == "error" or source.health().scans > 0)
        scan = await asyncio.wait_for(source.get(), 5)
    assert scan.text == EAN
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1


@pytest.mark.parametrize("kind_text", [("member", None), ("staff", "STAFF:s001")])
async def test_member_and_staff_codes(kind_text) -> None:
    from contract.codes import make_member_code

    kind, text = kind_text
    text = text or make_member_code("m42", "k", ttl_s=60)
    async with ScanSource(None, member_key="k") as source:
        scan = source.feed(text, "QRCODE")
    assert scan is not None and scan.kind == kind
