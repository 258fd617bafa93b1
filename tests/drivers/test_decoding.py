"""Decoders and the decode pipeline (the drivers/decoding package)."""

from __future__ import annotations

from dataclasses import replace

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


# --- bar regions: any tilt, small, dim, blurred ------------------------------------------


def _held_frame(text: str, symbology: str, module_px: float, angle: float, blur: float = 0.0,
                gain: float = 1.0, noise: float = 0.0, seed: int = 5) -> np.ndarray:
    """A code on a grey card at ``angle``, defocused, dimmed and noisy as the camera sees it."""
    import cv2

    frame = testimages.simple_frame(text, symbology, module_px=module_px, angle_deg=angle)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    if blur:
        gray = cv2.GaussianBlur(gray, (0, 0), blur)
    rng = np.random.default_rng(seed)
    gray = gray * gain + rng.normal(0, noise, gray.shape) if noise else gray * gain
    return np.clip(gray, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("text", "symbology", "module_px", "angle", "blur", "gain", "noise"),
    [
        ("134567890123456712", "CODE128", 1.7, 23.0, 0.9, 1.0, 3.0),  # payment code held off level
        ("283456789012345678", "CODE128", 1.6, -27.0, 0.8, 1.0, 3.0),  # Alipay, the other way
        ("6901234567892", "EAN13", 1.3, 19.0, 0.6, 1.0, 3.0),  # small and tilted
        ("6901234567892", "EAN13", 2.2, -21.0, 0.8, 0.15, 2.0),  # dim and tilted
        ("036000291452", "UPCA", 2.0, 74.0, 0.8, 1.0, 20.0),  # noisy, near a quarter turn
    ],
)
def test_tilted_small_dim_noisy_1d_codes_are_read_upright(
    text, symbology, module_px, angle, blur, gain, noise, pipeline_parts
) -> None:
    """The bar-region stage finds the symbol at its own tilt and reads it, confirmed by a
    second engine in the same frame (no second frame needed)."""
    from drivers.decoding import find_bar_regions

    frame = _held_frame(text, symbology, module_px, angle, blur, gain, noise)
    regions = find_bar_regions(frame)
    assert regions, "no bar region found"
    # The region's direction across the bars is the symbol's own (mod 180 degrees).
    measured = np.degrees(regions[0].theta)
    assert min(abs((measured - angle + 90) % 180 - 90), 90) < 4.0
    zx, pz = pipeline_parts
    reads = DecodePipeline(zx, pz, budget_s=5.0).decode(frame)
    assert [(r.text, r.symbology, r.confident) for r in reads] == [(text, symbology, True)]


def test_rectified_region_has_upright_bars() -> None:
    from drivers.decoding import ZxingDecoder, find_bar_regions, rectify_bars

    frame = _held_frame("6901234567892", "EAN13", 2.0, 26.0)
    crop = rectify_bars(frame, find_bar_regions(frame)[0])
    # Upright bars: every row of the crop reads, without zxing-cpp's rotations.
    upright_only = ZxingDecoder(try_harder=False, kinds="linear")
    assert [r.text for r in upright_only.decode(crop)] == ["6901234567892"]


def test_deconvolved_profile_reads_where_the_motion_blurred_one_does_not() -> None:
    """A hand moving across the bars during the exposure: the band profile, deconvolved with
    the smear's length, reads again."""
    import cv2

    from drivers.decoding import ZxingDecoder, deblur_profile, profile_image

    text = "6901234567892"
    row = testimages.render_symbol(text, "EAN13")[0].astype(np.float32)
    profile = cv2.resize(row[None, :], (row.size * 4, 1), interpolation=cv2.INTER_NEAREST)[0]
    smeared = np.convolve(profile, np.ones(8, np.float32) / 8, mode="same")  # two modules
    smeared = smeared + np.random.default_rng(2).normal(0, 1.0, smeared.shape).astype(np.float32)
    reader = ZxingDecoder(try_harder=False, binarizer="FixedThreshold", kinds="linear")
    assert reader.decode(profile_image([smeared])) == []
    restored = profile_image([deblur_profile(smeared.astype(np.float32), 8.0)])
    assert [r.text for r in reader.decode(restored)] == [text]


def test_qr_only_and_linear_only_readers_keep_to_their_kind() -> None:
    qr = testimages.simple_frame("https://mp.example.com/p/1", "QRCODE", module_px=5)
    ean = testimages.simple_frame("6901234567892", "EAN13")
    assert ZxingDecoder(kinds="qr").decode(ean) == []
    assert [r.text for r in ZxingDecoder(kinds="qr").decode(qr)] == ["https://mp.example.com/p/1"]
    assert ZxingDecoder(kinds="linear").decode(qr) == []


# --- false-read guards -------------------------------------------------------------------


def test_opencv_confirms_only_the_text_it_reads_itself() -> None:
    """OpenCV's decoder counts as the other engine on an upright crop, for EAN/UPC only:
    it never confirms a different text, and never a Code 128 (payment) read."""
    from drivers.decoding import OpencvBarcodeChecker

    ean = testimages.render_symbol("6901234567892", "EAN13", module_px=3)
    code128 = testimages.render_symbol("134567890123456712", "CODE128", module_px=3)
    checker = OpencvBarcodeChecker()
    assert checker.texts(ean) == ["6901234567892"]
    assert checker.texts(code128) == []
    pipe = DecodePipeline(ZxingDecoder(), _ScriptedEngine("pyzbar", []))
    right = Decoded("6901234567892", "EAN13", "zxing", box=(0, 0, 10, 10))
    wrong = Decoded("6901234567809", "EAN13", "zxing", box=(0, 0, 10, 10))
    payment = Decoded("134567890123456712", "CODE128", "zxing", box=(0, 0, 10, 10))
    assert pipe._cross_checked(ean, right, whole=True)
    assert not pipe._cross_checked(ean, wrong, whole=True)
    assert not pipe._cross_checked(code128, payment, whole=True)  # libzbar must agree


def test_reads_of_one_engine_in_two_stages_stay_unconfident() -> None:
    """Same-frame agreement needs two engines: one engine repeating itself is not evidence."""
    first = Decoded("6901234567892", "EAN13", "zxing", stage="bars", confident=False)
    again = Decoded("6901234567892", "EAN13", "zxing", stage="sharpen", confident=False)
    other = Decoded("6901234567892", "EAN13", "pyzbar", stage="pyzbar", confident=False)
    assert not DecodePipeline._agreed(again, first).confident
    assert DecodePipeline._agreed(other, first).confident
    assert not DecodePipeline._agreed(other, None).confident


def test_a_read_no_other_engine_confirms_stays_unconfident_through_all_stages() -> None:
    """A 1D read only zxing-cpp makes is returned unconfident even after every fallback ran
    (the scan source then waits for the other engine on a later frame)."""
    wrong = Decoded("6901234567892", "EAN13", "zxing", box=(100, 100, 300, 200))
    zx = _ScriptedEngine("zxing", [wrong])
    pipe = DecodePipeline(zx, _ScriptedEngine("pyzbar", []), budget_s=60.0, opencv=None)
    pipe._zxing_fast = pipe._zxing_bars = pipe._zxing_qr = pipe._zxing_turning = zx
    reads = pipe.decode(np.full((480, 640), 200, np.uint8))
    assert [(r.text, r.confident) for r in reads] == [("6901234567892", False)]
    assert zx.calls > 1  # the later stages looked for a confirmation


# --- split bar regions and glare ------------------------------------------------------------


def test_parts_of_one_row_of_bars_are_joined_and_others_are_not() -> None:
    """Glare across a symbol's middle splits its stripe mask in two: the parts side by
    side across the bars become one region; a part above, or turned, stays apart."""
    import math

    from drivers.decoding import BarRegion, merge_collinear

    theta = math.radians(20)
    left = BarRegion(theta, 100, 180, 50, 110, 0.9)
    right = BarRegion(theta + math.radians(3), 200, 260, 55, 112, 0.8)
    joined = merge_collinear([left, right])
    assert len(joined) == 1
    # right's extent seen in left's axes, up to the 3-degree turn
    assert joined[0].u0 == 100 and 255 < joined[0].u1 < 265
    assert joined[0].v0 >= 50 and joined[0].v1 <= 112
    above = BarRegion(theta, 100, 180, 200, 260, 0.9)  # same axis, other bars' height
    turned = BarRegion(theta + math.radians(40), 190, 260, 50, 110, 0.9)
    far = BarRegion(theta, 400, 440, 50, 110, 0.9)  # a gap longer than half the part
    assert merge_collinear([left, above]) == [left, above]
    assert merge_collinear([left, turned]) == [left, turned]
    assert merge_collinear([left, far]) == [left, far]


def test_a_glare_split_symbol_is_found_whole() -> None:
    """A tilted EAN-13 with a glare spot washing out its middle bars: one bar region spans
    the symbol from end to end."""
    import cv2

    from drivers.decoding import find_bar_regions

    frame = _held_frame("6901234567892", "EAN13", 2.5, 12.0, blur=0.6).astype(np.float32)
    mask = np.zeros_like(frame)
    cv2.circle(mask, (320, 240), 50, 1.0, -1)
    frame = np.clip(frame * (1 - 0.9 * mask) + 250 * mask, 0, 255).astype(np.uint8)
    regions = find_bar_regions(frame)
    assert regions
    # 95 modules of 2.5 px, without the quiet zones
    assert regions[0].u1 - regions[0].u0 > 0.85 * 95 * 2.5


def test_a_misread_the_bar_enhancement_creates_is_not_confirmed_on_it() -> None:
    """A blurred, noisy EAN-8 (a benchmark frame that was emitted wrong): libzbar reads a
    different valid EAN-8 on the sharpened bar crop, and zxing-cpp agreed on that same
    crop. Cross-checked on the crop only averaged along the bars, the misread
    stays unconfident on both frames of the scene."""
    from drivers.decoding.pipeline import DecodePipeline as Pipeline

    scene, noise = 1826863464532369285, (2654865233663269936, 3777585779696017180)
    for n in noise:
        frame = testimages._render(scene, n, "combo", 113, n == noise[1])
        assert frame.text == "69474392"
        reads = Pipeline(ZxingDecoder(), PyzbarDecoder(), budget_s=5.0).decode(frame.image)
        assert not [r for r in reads if r.confident and r.text != frame.text], reads


# --- two texts at one symbol's place ----------------------------------------------------------


def test_two_texts_read_on_one_symbol_are_both_dropped() -> None:
    """zxing-cpp's box spans only the rows it read: a misread on the lower rows of the
    symbol lies beside the right read, not on it, and is still the same symbol. Both
    engines agreeing on each text must not make either confident."""
    upper = Decoded("6903952120090", "EAN13", "zxing", box=(331, 216, 454, 235))
    lower = Decoded("9903812120090", "EAN13", "zxing", box=(330, 242, 453, 261))
    both = [upper, lower]
    zx = _ScriptedEngine("zxing", both)
    pz = _ScriptedEngine("pyzbar", [replace(d, engine="pyzbar") for d in both])
    pipe = DecodePipeline(zx, pz, budget_s=60.0, opencv=None)
    pipe._zxing_fast = pipe._zxing_bars = pipe._zxing_qr = pipe._zxing_turning = zx
    assert pipe.decode(np.full((480, 640), 200, np.uint8)) == []


def test_two_symbols_side_by_side_are_both_read() -> None:
    left = Decoded("6903952120090", "EAN13", "zxing", box=(20, 200, 200, 220))
    right = Decoded("6901234567892", "EAN13", "zxing", box=(300, 200, 480, 220))
    zx = _ScriptedEngine("zxing", [left, right])
    pz = _ScriptedEngine("pyzbar", [replace(d, engine="pyzbar") for d in (left, right)])
    pipe = DecodePipeline(zx, pz, opencv=None)
    pipe._zxing_fast = zx
    reads = pipe.decode(np.full((480, 640), 200, np.uint8))
    assert sorted((r.text, r.confident) for r in reads) == [
        ("6901234567892", True), ("6903952120090", True)]


def test_a_sequence_is_one_scene_with_its_own_noise_motion_and_glare_per_frame() -> None:
    rng = np.random.default_rng(3)
    for condition in ("motion", "glare"):
        frames = testimages.make_frame_sequence(rng, condition, 3)
        assert len({f.text for f in frames}) == 1 and frames[0].text is not None
        assert {f.condition for f in frames} == {condition}
        assert not np.array_equal(frames[0].image, frames[1].image)
