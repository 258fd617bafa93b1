"""Serial scale (Toledo continuous output) on a pseudo-terminal: the frames a scale sends,
the stable-weight rule, tare, and what is refused (motion, overload, lb, garbage, empty)."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.scale import (
    FrameSplitter,
    ScaleFrameError,
    ScaleNotStable,
    SerialScale,
    StableRule,
    make_frame,
    parse_frame,
)
from tests.support.waiting import until

from .conftest import PtyDevice

FAST = dict(reopen_s=0.05)


@pytest.fixture
def scale_pty(tmp_path):
    """A pseudo-terminal posing as the scale's serial port at tmp_path/scale."""
    dev = PtyDevice(str(tmp_path / "scale"))
    yield dev
    dev.close()


def test_frame_bytes_exact():
    # 1.234 kg gross, kg, stable, 3 decimals, increment x1, with checksum
    frame = make_frame(1234)
    assert frame[:16] == b"\x02\x2d\x30\x20001234000000" and frame[16] == 0x0D
    assert sum(frame) % 128 == 0
    r = parse_frame(frame)
    assert (r.displayed_g, r.tare_g, r.net, r.motion, r.kg) == (1234, 0, False, False, True)
    # the scale's own tare: net 0.500 kg shown over 0.120 kg tare -> gross 620 g
    r = parse_frame(make_frame(500, tare_g=120, net=True, with_checksum=False))
    assert (r.displayed_g, r.gross_g) == (500, 620)
    # 2 decimals (XXXX.XX kg): 10 g steps
    assert parse_frame(make_frame(1230, point=4)).displayed_g == 1230


@pytest.mark.parametrize("frame,reason", [
    (b"\x02\x2d\x30\x20001234000000\x0d\x00", "checksum"),
    (b"\x02\x0d\x30\x20001234000000\x0d", "fixed bit"),
    (b"\x02\x2d\x30\x2000A234000000\x0d", "weight digits"),
    (b"\x02\x2d\x30\x20001234000000", "length"),
])
def test_bad_frames_are_refused(frame, reason):
    with pytest.raises(ScaleFrameError, match=reason):
        parse_frame(frame)


@given(st.binary(max_size=200))
def test_splitter_never_crashes_and_only_yields_delimited_frames(data):
    for frame in FrameSplitter().feed(data):
        assert frame[0] == 0x02 and frame[16] == 0x0D


def test_splitter_handles_frames_with_and_without_checksum_split_anywhere():
    stream = make_frame(100) + b"\xff\x00noise" + make_frame(200, with_checksum=False) \
        + make_frame(300)
    sp = FrameSplitter()
    got = []
    for i in range(len(stream)):
        got += sp.feed(stream[i:i + 1])
    assert [parse_frame(f).displayed_g for f in got] == [100, 200, 300] and sp.dropped >= 1


def test_stable_rule():
    rule = StableRule()
    t = 100.0

    def add(g, motion=False, **kw):
        nonlocal t
        t += 0.12
        rule.add(parse_frame(make_frame(g, motion=motion, **kw), at=t))

    with pytest.raises(ScaleNotStable, match="no reading"):
        rule.stable_gross(now=t)
    add(400, motion=True)
    with pytest.raises(ScaleNotStable, match="motion"):
        rule.stable_gross(now=t)
    add(452)
    add(455)
    with pytest.raises(ScaleNotStable, match="settling"):
        rule.stable_gross(now=t)
    add(453)
    with pytest.raises(ScaleNotStable, match="motion"):  # 452..455: 3 g apart
        rule.stable_gross(now=t)
    add(454)
    add(454)
    assert rule.stable_gross(now=t) == 454
    with pytest.raises(ScaleNotStable, match="stopped"):
        rule.stable_gross(now=t + 5)
    add(454, out_of_range=True)
    with pytest.raises(ScaleNotStable, match="capacity"):
        rule.stable_gross(now=t)
    for _ in range(3):
        add(454, kg=False)
    with pytest.raises(ScaleNotStable, match="lb"):
        rule.stable_gross(now=t)


async def test_scale_on_a_pty_weighs_tares_and_recovers(scale_pty):
    async with SerialScale(scale_pty.link, **FAST) as scale:
        async def send(grams: int, n: int = 5, **kw) -> None:
            # ~10 frames/s as a scale sends them; then wait for the reader thread to have
            # taken them all in (on a loaded machine it may lag behind the writes).
            before = scale.frames
            for _ in range(n):
                scale_pty.write(make_frame(grams, **kw))
                await asyncio.sleep(0.1)
            await until(lambda: scale.frames >= before + n, what=f"{n} frames read")

        # The reader flushes what came before it opened the port: it is reading once a
        # frame gets through.
        deadline = time.monotonic() + 5
        while scale.frames == 0 and time.monotonic() < deadline:
            scale_pty.write(make_frame(0))
            await asyncio.sleep(0.1)
        await send(0)
        with pytest.raises(ScaleNotStable, match="nothing"):
            scale.current()
        # a bag goes on: tare it, then the apples
        await send(18)
        assert await scale.tare(2) == 18
        await send(600, n=2, motion=True)
        with pytest.raises(ScaleNotStable):
            scale.current()
        await send(618)
        assert await scale.stable_weight(2) == 600
        assert scale.health()["state"] == "ok" and scale.health()["tare_g"] == 18
        scale.clear_tare()
        assert scale.current() == 618
        # a wrong baud rate looks like garbage: error, then ok again on good frames
        scale_pty.write(b"\x7f\x13\x02garbage-without-end" * 3)
        await until(lambda: scale.health()["state"] == "error", what="error on garbage")
        assert scale.dropped >= 1
        await send(618, n=4)
        assert scale.health()["state"] == "ok"
        # unplugged: error with the reason; replugged: weighing again
        scale_pty.unplug()
        await until(lambda: scale.health()["state"] == "error", what="error when unplugged")
        scale_pty.plug()
        deadline = time.monotonic() + 3
        while scale.health()["state"] != "ok" and time.monotonic() < deadline:
            scale_pty.write(make_frame(250))
            await asyncio.sleep(0.1)
        await send(250)
        assert await scale.stable_weight(2) == 250
