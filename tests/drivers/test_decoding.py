"""Decoders and the decode pipeline (drivers/decoding.py)."""

from __future__ import annotations

import numpy as np
import pytest

from drivers import testimages
from drivers.decoding import (
    Decoded,
    DecodePipeline,
    PyzbarDecoder,
    ZxingDecoder,
    make_decoder,
    normalize,
)

CLEAN = [
    ("6901234567892", "EAN13"),
    ("96385074", "EAN8"),
    ("036000291452", "UPCA"),
    ("134567890123456712", "CODE128"),
    ("https://mp.example.com/p/1", "QRCODE"),
]


@pytest.fixture(scope="module")
def pipeline_parts() -> tuple[ZxingDecoder, PyzbarDecoder]:
    """One zxing-cpp and one pyzbar decoder for the module."""
    return ZxingDecoder(), PyzbarDecoder()


@pytest.mark.parametrize(("text", "symbology"), CLEAN)
@pytest.mark.parametrize("engine", ["zxing", "pyzbar", "pipeline"])
def test_every_engine_reads_clean_codes(text, symbology, engine, pipeline_parts) -> None:
    zx, pz = pipeline_parts
    decoder = {"zxing": zx, "pyzbar": pz, "pipeline": DecodePipeline(zx, pz)}[engine]
    module = 5 if symbology == "QRCODE" else 2.5
    reads = decoder.decode(testimages.simple_frame(text, symbology, module_px=module))
    assert [(r.text, r.symbology) for r in reads] == [(text, symbology)]


def test_upside_down_code_is_read(pipeline_parts) -> None:
    frame = testimages.simple_frame("6901234567892", "EAN13", angle_deg=180)
    reads = DecodePipeline(*pipeline_parts).decode(frame)
    assert [r.text for r in reads] == ["6901234567892"]
    assert reads[0].confident  # both engines agree on a clean code


def test_normalize_rejects_bad_reads() -> None:
    assert normalize("0036000291452", "EAN13") == ("036000291452", "UPCA")
    assert normalize("6901234567893", "EAN13") is None
    assert normalize("190000000000000000", "CODE128") is None  # payment-like, no rule
    assert normalize("134567890123456712", "CODE128") == ("134567890123456712", "CODE128")
    assert normalize("", "QRCODE") is None


def test_frame_without_code_gives_nothing(pipeline_parts) -> None:
    rng = np.random.default_rng(7)
    for _ in range(3):
        frame = testimages.make_frame(rng, "none")
        assert DecodePipeline(*pipeline_parts).decode(frame.image) == []


class _ScriptedEngine:
    """An engine that returns fixed reads (to test the pipeline's confidence rules)."""

    def __init__(self, name: str, reads: list[Decoded]) -> None:
        self.name = name
        self.reads = reads
        self.calls = 0

    def decode(self, image, should_stop=None, only=None):
        self.calls += 1
        return list(self.reads)


def test_a_read_the_other_engine_does_not_confirm_is_unconfident() -> None:
    wrong = Decoded("6901234567892", "EAN13", "zxing", box=(100, 100, 300, 200))
    pipe = DecodePipeline(_ScriptedEngine("zxing", [wrong]), _ScriptedEngine("pyzbar", []))
    pipe._zxing_fast = pipe.zxing
    reads = pipe.decode(np.full((480, 640), 200, np.uint8))
    assert [(r.text, r.confident) for r in reads] == [("6901234567892", False)]


def test_a_read_both_engines_agree_on_is_confident() -> None:
    read = Decoded("6901234567892", "EAN13", "zxing", box=(100, 100, 300, 200))
    other = Decoded("6901234567892", "EAN13", "pyzbar")
    pipe = DecodePipeline(_ScriptedEngine("zxing", [read]), _ScriptedEngine("pyzbar", [other]))
    pipe._zxing_fast = pipe.zxing
    reads = pipe.decode(np.full((480, 640), 200, np.uint8))
    assert [(r.text, r.confident) for r in reads] == [("6901234567892", True)]


def test_should_stop_ends_after_the_first_stage() -> None:
    zx = _ScriptedEngine("zxing", [])
    pz = _ScriptedEngine("pyzbar", [])
    pipe = DecodePipeline(zx, pz, budget_s=60.0)  # a budget that never ends the frame
    pipe._zxing_fast = zx
    assert pipe.decode(np.full((480, 640), 200, np.uint8), should_stop=lambda: True) == []
    assert zx.calls == 1 and pz.calls == 0
    pipe.decode(np.full((480, 640), 200, np.uint8))
    assert pz.calls >= 1  # without stop, the fallbacks run


def test_pipeline_beats_each_engine_on_hard_frames(pipeline_parts) -> None:
    zx, pz = pipeline_parts
    pipe = DecodePipeline(zx, pz, budget_s=1.0)
    frames = testimages.make_frame_set(36, seed=11)
    scores = {"zxing": 0, "pyzbar": 0, "pipeline": 0}
    for f in frames:
        for name, dec in (("zxing", zx), ("pyzbar", pz), ("pipeline", pipe)):
            reads = dec.decode(f.image)
            scores[name] += any(r.text == f.text for r in reads)
            if name == "pipeline":
                # no confident wrong read, ever
                assert not [r for r in reads if r.confident and r.text != f.text], f.name
    assert scores["pipeline"] > max(scores["zxing"], scores["pyzbar"])


def test_make_decoder_follows_config_engines() -> None:
    assert isinstance(make_decoder(["zxing", "pyzbar"]), DecodePipeline)
    assert isinstance(make_decoder(["pyzbar"]), PyzbarDecoder)
    assert make_decoder(["zxing"]).pyzbar is None


@pytest.mark.parametrize("angle", [-28.0, -21.0, 17.0, 26.0])
def test_deskew_turns_a_payment_code_held_off_level_upright(angle):
    """A long Code 128 payment code tilted 15-30 degrees, slightly blurred as a hand-held
    code is: the measured bar tilt is the real one, the deskewed frame reads, and the
    pipeline reads the code with no false read."""
    import cv2

    from contract import codes
    from drivers.decoding import _deskew_prep, _rotate, bar_tilt

    text = "134567890123456712"
    symbol = testimages.render_symbol(text, codes.CODE128, module_px=2).astype(np.uint8)
    canvas = np.full((720, 960), 235, np.uint8)
    y0, x0 = (720 - symbol.shape[0]) // 2, (960 - symbol.shape[1]) // 2
    canvas[y0:y0 + symbol.shape[0], x0:x0 + symbol.shape[1]] = symbol
    tilted = _rotate(canvas, angle)
    cy, cx = tilted.shape[0] // 2, tilted.shape[1] // 2
    frame = cv2.GaussianBlur(tilted[cy - 240:cy + 240, cx - 320:cx + 320], (0, 0), 0.8)
    measured = bar_tilt(frame)
    assert measured is not None and abs(measured + angle) < 5.0
    upright = _deskew_prep(frame)
    assert len(upright) == 1
    assert any(r.text == text for r in ZxingDecoder(try_invert=False).decode(upright[0].image))
    assert [r.text for r in DecodePipeline(pyzbar=None).decode(frame)] == [text]


def test_no_bar_tilt_in_a_frame_without_stripes():
    from drivers.decoding import bar_tilt

    rng = np.random.default_rng(3)
    noise = rng.normal(128, 20, (480, 640)).clip(0, 255).astype(np.uint8)
    assert bar_tilt(noise) is None
