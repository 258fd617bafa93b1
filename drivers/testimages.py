"""Synthetic barcode frames for tests, the decode benchmark and the demo.

Symbols are drawn by zxing-cpp's writer (EAN-13, EAN-8, UPC-A, Code 128, QR) at
one pixel per module, then warped into a 640x480 camera-like frame with a random
pose, and degraded by one of the conditions a kiosk camera meets: tilt up to
upside down, perspective, defocus blur, motion blur, sensor noise, dim light,
glare, a phone screen (bright rectangle, dark surround, moire), small symbols.
Frames without any code (clutter only) test false reads. Everything is seeded.

Ground truth is returned in the canonical form the decoders emit (UPC-A as 12
digits, symbology names from :mod:`contract.codes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast, overload

import cv2
import numpy as np

from contract import codes

FRAME_W = 640
FRAME_H = 480

CONDITIONS = (
    "clean", "tilt", "tilt_1d", "perspective", "blur", "motion", "noise", "dim", "glare",
    "phone", "small", "combo", "none",
)

# Condition mix of the benchmark: mostly hard frames, a few easy ones and some
# frames without a code (false-read trap). ``tilt_1d`` (a 1D code, often a long
# payment code, held 15-30 degrees off level) and ``combo`` (two or three degradations
# at once) are where independent hard-frame sets found the misses concentrated; their
# shares were set from that description before any run of the pipeline on them.
BENCH_WEIGHTS = {
    "clean": 0.04, "tilt": 0.08, "tilt_1d": 0.10, "perspective": 0.08, "blur": 0.08,
    "motion": 0.09, "noise": 0.07, "dim": 0.07, "glare": 0.07, "phone": 0.08, "small": 0.09,
    "combo": 0.10, "none": 0.05,
}
# Degradations a ``combo`` frame draws two or three of.
COMBO_PARTS = ("tilt_1d", "blur", "motion", "noise", "dim", "glare", "small")


@dataclass(frozen=True)
class SyntheticFrame:
    """One generated frame and what is really in it."""

    name: str
    image: np.ndarray  # BGR uint8, FRAME_H x FRAME_W
    text: str | None  # None: no code in the frame
    symbology: str | None
    condition: str


# --- code contents -----------------------------------------------------------------


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(int(d)) for d in rng.integers(0, 10, n))


def random_ean13(rng: np.random.Generator) -> str:
    body = "69" + _digits(rng, 10)  # 690-699: GS1 China
    return body + str(codes.gtin_check_digit(body))


def random_ean8(rng: np.random.Generator) -> str:
    body = "69" + _digits(rng, 5)
    return body + str(codes.gtin_check_digit(body))


def random_upca(rng: np.random.Generator) -> str:
    body = str(int(rng.integers(1, 10))) + _digits(rng, 10)  # not 0: stays distinct from EAN
    return body + str(codes.gtin_check_digit(body))


def random_wechat(rng: np.random.Generator) -> str:
    return str(int(rng.integers(10, 16))) + _digits(rng, 16)


def random_alipay(rng: np.random.Generator) -> str:
    return str(int(rng.integers(25, 31))) + _digits(rng, int(rng.integers(14, 23)))


def random_code(rng: np.random.Generator) -> tuple[str, str]:
    """A random (text, symbology) from the kiosk's mix of codes."""
    r = rng.random()
    if r < 0.34:
        return random_ean13(rng), codes.EAN13
    if r < 0.46:
        return random_ean8(rng), codes.EAN8
    if r < 0.58:
        return random_upca(rng), codes.UPCA
    if r < 0.72:
        return random_wechat(rng), codes.CODE128
    if r < 0.82:
        return random_alipay(rng), codes.CODE128
    if r < 0.91:
        return random_wechat(rng) if rng.random() < 0.5 else random_alipay(rng), codes.QRCODE
    return f"https://mp.example.com/p/{_digits(rng, 8)}", codes.QRCODE


# --- symbol rendering ---------------------------------------------------------------


def render_symbol(text: str, symbology: str, module_px: int = 1) -> np.ndarray:
    """A pure symbol (black on white, quiet zones included) as a grayscale array."""
    import zxingcpp

    fmt = {
        codes.EAN13: zxingcpp.BarcodeFormat.EAN13,
        codes.EAN8: zxingcpp.BarcodeFormat.EAN8,
        codes.UPCA: zxingcpp.BarcodeFormat.UPCA,
        codes.UPCE: zxingcpp.BarcodeFormat.UPCE,
        codes.CODE128: zxingcpp.BarcodeFormat.Code128,
        codes.QRCODE: zxingcpp.BarcodeFormat.QRCode,
    }[symbology]
    symbol = zxingcpp.create_barcode(text, fmt)
    img: np.ndarray = np.array(symbol.to_image(scale=1, add_quiet_zones=True), dtype=np.uint8)
    if symbology in codes.LINEAR_SYMBOLOGIES:
        # Writer output for 1D codes is short; a real label's bars are about 0.6x
        # as high as the symbol is wide.
        height = max(20, int(img.shape[1] * 0.45))
        img = np.repeat(img[:1, :], height, axis=0)
    else:
        img = np.pad(img, 2, constant_values=255)
    if module_px > 1:
        img = cv2.resize(img, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    return img


def simple_frame(
    text: str, symbology: str, module_px: float = 2.5, angle_deg: float = 0.0,
    size: tuple[int, int] = (FRAME_W, FRAME_H),
) -> np.ndarray:
    """A clean BGR frame with the code centred (tests, demo, CLI examples)."""
    w, h = size
    symbol = render_symbol(text, symbology)
    bg = np.full((h, w), 170, np.uint8)
    out = _place(bg, symbol, module_px, angle_deg, (w / 2, h / 2), persp=0.0,
                 rng=np.random.default_rng(0))
    return _finish(out)


# --- frame composition --------------------------------------------------------------


def _background(rng: np.random.Generator, w: int = FRAME_W, h: int = FRAME_H) -> np.ndarray:
    """Shop-like clutter: smooth shading, blobs, shelf edges and printed stripes."""
    small = rng.integers(60, 200, (6, 8)).astype(np.float32)
    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(3, 9))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        cv2.rectangle(bg, (x, y), (x + int(rng.integers(20, 200)), y + int(rng.integers(10, 120))),
                      float(rng.integers(20, 240)), -1)
    for _ in range(int(rng.integers(0, 4))):
        # A few stripe patterns (packaging text, shelf labels) to tempt decoders.
        x, y = int(rng.integers(0, w - 80)), int(rng.integers(0, h - 40))
        n = int(rng.integers(5, 25))
        for i in range(n):
            xx = x + i * int(rng.integers(2, 6))
            cv2.line(bg, (xx, y), (xx, y + int(rng.integers(10, 40))), float(rng.integers(0, 80)),
                     int(rng.integers(1, 3)))
    return np.clip(bg, 0, 255).astype(np.uint8)


def _place(
    bg: np.ndarray, symbol: np.ndarray, module_px: float, angle_deg: float,
    center: tuple[float, float], persp: float, rng: np.random.Generator,
) -> np.ndarray:
    """Warp ``symbol`` (scaled by ``module_px``) into ``bg`` around ``center``."""
    sh, sw = symbol.shape
    w, h = sw * module_px, sh * module_px
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]],
                       dtype=np.float32)
    if persp > 0:
        # Move corners independently: a label seen at a slant / bent.
        corners += rng.uniform(-persp, persp, corners.shape).astype(np.float32) * np.array(
            [w, h], dtype=np.float32)
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=np.float32)
    dst = corners @ rot.T + np.array(center, dtype=np.float32)
    src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    size = (bg.shape[1], bg.shape[0])
    warped = cv2.warpPerspective(symbol, m, size, flags=cv2.INTER_AREA, borderValue=255)
    mask = cv2.warpPerspective(np.full_like(symbol, 255), m, size, flags=cv2.INTER_LINEAR,
                               borderValue=0).astype(np.float32) / 255.0
    out = bg.astype(np.float32) * (1 - mask) + warped.astype(np.float32) * mask
    return out


def _motion_kernel(length: int, angle_deg: float) -> np.ndarray:
    k: np.ndarray = np.zeros((length, length), np.float32)
    k[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle_deg, 1.0)
    k = cv2.warpAffine(k, rot, (length, length))
    return cast(np.ndarray, k / max(float(k.sum()), 1e-6))


@overload
def make_frame(
    rng: np.random.Generator, condition: str, index: int = ..., sibling: Literal[False] = ...,
    code: tuple[str, str] | None = ...,
) -> SyntheticFrame: ...


@overload
def make_frame(
    rng: np.random.Generator, condition: str, index: int = ..., *, sibling: Literal[True],
    code: tuple[str, str] | None = ...,
) -> tuple[SyntheticFrame, SyntheticFrame]: ...


def make_frame(
    rng: np.random.Generator, condition: str, index: int = 0, sibling: bool = False,
    code: tuple[str, str] | None = None,
) -> SyntheticFrame | tuple[SyntheticFrame, SyntheticFrame]:
    """One 640x480 BGR frame under ``condition`` (one of :data:`CONDITIONS`).

    With ``sibling=True`` returns two frames of the same scene, as two consecutive
    camera frames would be: same code and degradation, new sensor noise and a
    small hand movement (used to evaluate second-frame confirmation honestly).
    """
    scene_seed = int(rng.integers(0, 2**63))
    noise_seeds = rng.integers(0, 2**63, 2)
    first = _render(scene_seed, int(noise_seeds[0]), condition, index, False, code)
    if not sibling:
        return first
    return first, _render(scene_seed, int(noise_seeds[1]), condition, index, True, code)


#: Degradations that change from one camera frame to the next of a held code: the hand
#: moves at a different speed in each exposure, and a tilting package moves its glare.
PER_FRAME_PARTS = ("motion", "glare")


def make_frame_sequence(
    rng: np.random.Generator, condition: str, length: int, index: int = 0,
) -> list[SyntheticFrame]:
    """``length`` consecutive camera frames of one held code under ``condition``.

    One scene (code, pose, defocus, light, screen); every frame has its own sensor
    noise and hand jitter, and its own motion blur and glare drawn from the same
    distributions as a single frame's (:data:`PER_FRAME_PARTS`). A ``combo`` scene
    keeps its drawn set of degradations in every frame.
    """
    scene_seed = int(rng.integers(0, 2**63))
    seeds = rng.integers(0, 2**63, (length, 2))
    return [_render(scene_seed, int(n), condition, index, True, None, int(d))
            for n, d in seeds]


def _render(
    scene_seed: int, noise_seed: int, condition: str, index: int, jitter: bool,
    code: tuple[str, str] | None = None, frame_seed: int | None = None,
) -> SyntheticFrame:
    rng = np.random.default_rng(scene_seed)  # scene: code, pose, degradation
    nrng = np.random.default_rng(noise_seed)  # this frame: noise, hand jitter
    # This frame's own draw of the per-frame degradations (sequences only).
    frng = None if frame_seed is None else np.random.default_rng(frame_seed)
    bg = _background(rng).astype(np.float32)
    text, symbology = random_code(rng)
    parts: tuple[str, ...] = (condition,)
    if condition == "combo":
        k = 2 + int(rng.random() < 0.4)
        parts = tuple(str(p) for p in rng.choice(COMBO_PARTS, size=k, replace=False))
    if "tilt_1d" in parts:
        while symbology == codes.QRCODE:  # a linear code: the long payment codes too
            text, symbology = random_code(rng)
    if code is not None:
        text, symbology = code
    is_qr = symbology == codes.QRCODE
    name = f"{index:04d}_{condition}"
    if condition == "none":
        img = bg + nrng.normal(0, 4, bg.shape)
        return SyntheticFrame(name, _finish(img), None, None, condition)

    symbol = render_symbol(text, symbology)
    # Default pose: a product held reasonably in front of the camera.
    target_w = rng.uniform(240, 420) if not is_qr else rng.uniform(130, 230)
    module_px = target_w / symbol.shape[1]
    angle = rng.uniform(-12, 12)
    persp = 0.0
    center = (FRAME_W / 2 + rng.uniform(-80, 80), FRAME_H / 2 + rng.uniform(-60, 60))
    if condition == "tilt":
        angle = rng.uniform(-180, 180)
    elif condition == "perspective":
        persp = rng.uniform(0.1, 0.22)
        angle = rng.uniform(-30, 30)
    elif condition == "phone":
        module_px *= 0.8
    if "tilt_1d" in parts:
        angle = rng.uniform(15, 30) * (1 if rng.random() < 0.5 else -1)
        angle += 180 if rng.random() < 0.2 else 0  # held upside down now and then
    if "small" in parts:
        module_px = rng.uniform(1.1, 1.6) if not is_qr else rng.uniform(1.4, 2.1)
    if jitter:
        angle += nrng.uniform(-1.5, 1.5)
        center = (center[0] + nrng.uniform(-4, 4), center[1] + nrng.uniform(-4, 4))
    persp_rng = np.random.default_rng(scene_seed + 1)
    img = _place(bg, symbol, module_px, angle, center, persp, persp_rng)

    for part in parts:
        # Every frame of a sequence draws the same scene values in the same order.
        drng = frng if frng is not None and part in PER_FRAME_PARTS else rng
        img = _degrade(img, part, drng, nrng, module_px, center, bg, symbol.shape)
    if not {"noise", "dim"} & set(parts):
        img = img + nrng.normal(0, 3, img.shape)
    return SyntheticFrame(name, _finish(img), text, symbology, condition)


def _degrade(
    img: np.ndarray, part: str, rng: np.random.Generator, nrng: np.random.Generator,
    module_px: float, center: tuple[float, float], bg: np.ndarray, sym_shape: tuple[int, int],
) -> np.ndarray:
    """One degradation of a placed code (a frame of ``combo`` gets several in turn)."""
    if part == "blur":
        sigma = rng.uniform(0.25, 0.6) * max(module_px, 1.0)
        return cv2.GaussianBlur(img, (0, 0), sigma)
    if part == "motion":
        length = int(rng.uniform(0.9, 2.2) * max(module_px, 1.5)) | 1
        return cv2.filter2D(img, -1, _motion_kernel(max(length, 3), rng.uniform(-60, 60)))
    if part == "noise":
        return img + nrng.normal(0, rng.uniform(15, 35), img.shape)
    if part == "dim":
        gain = rng.uniform(0.1, 0.22)
        return img * gain + rng.uniform(2, 10) + nrng.normal(0, rng.uniform(1.5, 4.0), img.shape)
    if part == "glare":
        return _glare(img, center, rng)
    if part == "phone":
        return _phone_screen(bg, img, center, sym_shape, module_px, rng)
    if part == "small":
        return cv2.GaussianBlur(img, (0, 0), 0.5)
    if part == "tilt_1d":  # a hand-held tilt is rarely perfectly sharp
        return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.2, 0.45) * max(module_px, 1.0))
    return img


def _glare(img: np.ndarray, center: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    cx = center[0] + rng.uniform(-90, 90)
    cy = center[1] + rng.uniform(-40, 40)
    rx, ry = rng.uniform(50, 150), rng.uniform(40, 110)
    d = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    hot = np.exp(-d) * rng.uniform(180, 340)
    # Specular light washes the print out: add light and compress contrast.
    wash = np.exp(-d) * rng.uniform(0.5, 0.8)
    return cast(np.ndarray, img * (1 - wash) + hot + 40 * (1 - np.exp(-d / 6)))


def _phone_screen(
    bg: np.ndarray, placed: np.ndarray, center: tuple[float, float], sym_shape: tuple[int, int],
    module_px: float, rng: np.random.Generator,
) -> np.ndarray:
    """The code on a bright screen: dark surround, screen glow, moire, low contrast."""
    dark = bg * rng.uniform(0.15, 0.35)
    sh, sw = sym_shape
    half_w = sw * module_px / 2 + rng.uniform(15, 40)
    half_h = sh * module_px / 2 + rng.uniform(40, 90)
    x0, x1 = int(center[0] - half_w), int(center[0] + half_w)
    y0, y1 = int(center[1] - half_h), int(center[1] + half_h)
    screen: np.ndarray = np.zeros_like(dark)
    cv2.rectangle(screen, (x0, y0), (x1, y1), 1.0, -1)
    screen = cv2.GaussianBlur(screen, (0, 0), 2.0)
    # The screen's white is overexposed, its black is grey (backlight).
    content = 75 + placed * rng.uniform(0.55, 0.75)
    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    f1, f2 = rng.uniform(0.5, 1.3), rng.uniform(0.5, 1.3)
    ang = rng.uniform(0, math.pi)
    moire = np.sin(f1 * (xx * math.cos(ang) + yy * math.sin(ang))) * np.sin(f2 * yy)
    content = content + moire * rng.uniform(22, 45)
    out = dark * (1 - screen) + content * screen
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.6, 1.3))
    return cast(np.ndarray, out)


def _finish(img: np.ndarray) -> np.ndarray:
    gray = np.clip(img, 0, 255).astype(np.uint8)
    return cast(np.ndarray, cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))


def _draw_conditions(
    n: int, seed: int, weights: dict[str, float] | None
) -> tuple[np.random.Generator, list[str]]:
    """The seeded generator and the ``n`` condition names drawn by ``weights``."""
    weights = weights or BENCH_WEIGHTS
    rng = np.random.default_rng(seed)
    names = list(weights)
    p = np.array([weights[k] for k in names], dtype=float)
    p /= p.sum()
    picks = rng.choice(len(names), size=n, p=p)
    return rng, [names[int(k)] for k in picks]


def make_frame_set(
    n: int = 360, seed: int = 20240601, weights: dict[str, float] | None = None
) -> list[SyntheticFrame]:
    """``n`` seeded frames with conditions drawn by ``weights`` (default :data:`BENCH_WEIGHTS`)."""
    rng, conditions = _draw_conditions(n, seed, weights)
    return [make_frame(rng, cond, i, sibling=False) for i, cond in enumerate(conditions)]


def make_frame_pairs(
    n: int = 360, seed: int = 20240601, weights: dict[str, float] | None = None
) -> list[tuple[SyntheticFrame, SyntheticFrame]]:
    """Like :func:`make_frame_set`, each frame with its next camera frame (see make_frame)."""
    rng, conditions = _draw_conditions(n, seed, weights)
    return [make_frame(rng, cond, i, sibling=True) for i, cond in enumerate(conditions)]


def make_frame_sequences(
    n: int, length: int, seed: int, weights: dict[str, float] | None = None
) -> list[list[SyntheticFrame]]:
    """``n`` scenes of ``length`` consecutive frames each (see :func:`make_frame_sequence`),
    conditions drawn by ``weights`` (default :data:`BENCH_WEIGHTS`)."""
    rng, conditions = _draw_conditions(n, seed, weights)
    return [make_frame_sequence(rng, cond, length, i) for i, cond in enumerate(conditions)]


def write_demo_images(folder: Path | str, member_code: str | None = None) -> list[Path]:
    """Write a few clean PNG frames (products, a WeChat code, a staff badge) for the demo.

    Payment codes written here are synthetic test codes, never real ones.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    items = [
        ("01_ean13.png", "6901234567892", codes.EAN13),
        ("02_ean8.png", "96385074", codes.EAN8),
        ("03_upca.png", "036000291452", codes.UPCA),
        ("04_wechat_code128.png", "134567890123456712", codes.CODE128),
        ("05_staff_qr.png", "STAFF:s001", codes.QRCODE),
    ]
    if member_code:
        items.append(("06_member_qr.png", member_code, codes.QRCODE))
    out = []
    for name, text, sym in items:
        path = folder / name
        cv2.imwrite(str(path), simple_frame(text, sym, module_px=2.5 if sym != codes.QRCODE else 5))
        out.append(path)
    return out
