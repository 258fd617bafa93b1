"""Where the bars are and how they lie: bar regions found by the gradient structure
tensor, turned upright, cleaned up and reduced to band profiles across the bars.

Everything here works on a grayscale frame and returns images for a decoder; no
decoder is called.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: Bar regions are looked for on a frame this many times smaller (640x480 -> 320x240):
#: bars of the smallest symbols (about 1.1 px per module at full size) still leave
#: coherent stripes there, and the search costs about a millisecond.
BARS_DOWNSCALE = 2
#: Window (in downscaled pixels) over which the gradients' orientation is averaged:
#: a few bars wide, so one window sees stripes, not single edges.
BARS_WINDOW = 7
#: Coherence (0: no single orientation, 1: perfect stripes) a pixel's window needs to
#: count as bar-like, and a region needs on average.
BARS_MIN_COHERENCE = 0.55
#: Gradient energy a bar-like pixel needs, as a share of the frame's 98th percentile
#: (relative, so that dim frames still have bars; printed text and flat areas do not).
BARS_MIN_ENERGY_SHARE = 0.08
#: Bar regions tried per frame, largest first (clutter with stripes comes after a code;
#: a third region read no more codes on the benchmark's frames and cost time).
BARS_MAX_REGIONS = 2
#: Smallest bar region (downscaled pixels): a few bars by a few rows.
BARS_MIN_AREA = 60
#: Rectified crops are enlarged this much: the smallest symbols' modules (1.1-1.6 px)
#: become wide enough for a fixed threshold, and crops stay small enough to be cheap.
BARS_SCALE = 2.0
#: Height (frame pixels, along the bars) of the band of a bar region that is turned
#: upright: enough rows for the row scans and the averaging along the bars.
BARS_BAND = 48
#: Quiet-zone margin added on both ends across the bars, as a share of the region's
#: length (the stripe measure stops at the outer bars; the decoders need the quiet zone).
BARS_END_MARGIN = 0.12


@dataclass(frozen=True)
class BarRegion:
    """A stripe-textured region of a frame, where a 1D symbol may be.

    ``theta`` is the direction across the bars (radians, image axes: x right, y
    down); ``u0..u1`` is the region's extent along that direction and ``v0..v1``
    along the bars, in frame pixels of the rotated axes (u = x cos + y sin,
    v = -x sin + y cos).
    """

    theta: float
    u0: float
    u1: float
    v0: float
    v1: float
    coherence: float

    def frame_box(self, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """The axis-aligned box (x0, y0, x1, y1) around the region, clipped to the frame."""
        c, s = math.cos(self.theta), math.sin(self.theta)
        xs = [u * c - v * s for u in (self.u0, self.u1) for v in (self.v0, self.v1)]
        ys = [u * s + v * c for u in (self.u0, self.u1) for v in (self.v0, self.v1)]
        h, w = shape[0], shape[1]
        return (max(0, int(min(xs))), max(0, int(min(ys))), min(w, int(max(xs)) + 1),
                min(h, int(max(ys)) + 1))


def find_bar_regions(gray: np.ndarray, max_regions: int = BARS_MAX_REGIONS) -> list[BarRegion]:
    """Regions of ``gray`` that look like the bars of a 1D symbol, largest first.

    The gradient structure tensor, averaged over windows a few bars wide, has one
    dominant direction where the image is stripes. Pixels where that direction is
    clear (coherence) and the gradients are strong (energy) are grouped into
    connected regions; each region's own averaged tensor gives its orientation, and
    its extent along and across that orientation gives the box. Any tilt, including
    the 15-30 degrees that zxing-cpp's row scan misses, is measured the same way.
    """
    f = BARS_DOWNSCALE
    h, w = gray.shape
    if h < 16 * f or w < 16 * f:
        return []
    small = cv2.resize(gray, (w // f, h // f), interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    # OpenCV's element-wise calls (one pass each, no temporaries): about a third
    # cheaper than the same arithmetic in numpy at this size.
    window = (BARS_WINDOW, BARS_WINDOW)
    jxx = cv2.boxFilter(cv2.multiply(gx, gx), -1, window)
    jyy = cv2.boxFilter(cv2.multiply(gy, gy), -1, window)
    jxy2 = cv2.boxFilter(cv2.multiply(gx, gy, scale=2.0), -1, window)  # twice Jxy
    energy = cv2.add(jxx, jyy)
    anisotropy = cv2.magnitude(cv2.subtract(jxx, jyy), jxy2)  # coherence times energy
    # The percentile of every fourth row and column: the same figure at a sixteenth
    # of the cost (the energy is already averaged over a window).
    sample = energy[::4, ::4].ravel()
    k = int(sample.size * 0.98)
    min_energy = max(float(np.partition(sample, k)[k]) * BARS_MIN_ENERGY_SHARE, 50.0)
    mask = cv2.bitwise_and(
        cv2.compare(anisotropy, cv2.multiply(energy, BARS_MIN_COHERENCE), cv2.CMP_GT),
        cv2.compare(energy, np.array([min_energy]), cv2.CMP_GT))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    # 16-bit labels: half the cost of 32-bit ones (a 320x240 mask has far fewer than
    # 65,536 components).
    _count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8,
                                                                ltype=cv2.CV_16U)
    areas = stats[1:, cv2.CC_STAT_AREA]
    # The largest regions only: a symbol is a large stripe region, and each candidate
    # costs a little (clutter edges that fail the coherence test included).
    order = [int(i) + 1 for i in np.argsort(-areas)[:2 * max_regions]
             if areas[i] >= BARS_MIN_AREA]
    regions: list[BarRegion] = []
    for i in order:
        x, y = int(stats[i, cv2.CC_STAT_LEFT]), int(stats[i, cv2.CC_STAT_TOP])
        bw, bh = int(stats[i, cv2.CC_STAT_WIDTH]), int(stats[i, cv2.CC_STAT_HEIGHT])
        inside = labels[y:y + bh, x:x + bw] == i
        sxx = float(jxx[y:y + bh, x:x + bw][inside].sum())
        syy = float(jyy[y:y + bh, x:x + bw][inside].sum())
        sxy2 = float(jxy2[y:y + bh, x:x + bw][inside].sum())
        coherence = math.hypot(sxx - syy, sxy2) / (sxx + syy + 1e-6)
        if coherence < BARS_MIN_COHERENCE:
            continue  # corners, curves: strong edges of more than one orientation
        theta = 0.5 * math.atan2(sxy2, sxx - syy)
        ys, xs = np.nonzero(inside)
        xs_f = (xs + x + 0.5).astype(np.float32)
        ys_f = (ys + y + 0.5).astype(np.float32)
        c, s = math.cos(theta), math.sin(theta)
        u = xs_f * c + ys_f * s
        v = ys_f * c - xs_f * s
        u0, u1 = float(u.min()), float(u.max())
        v0, v1 = float(v.min()), float(v.max())
        if u1 - u0 < 6 or v1 - v0 < 2:
            continue
        regions.append(BarRegion(theta, u0 * f, u1 * f, v0 * f, v1 * f, coherence))
    return merge_collinear(regions)[:max_regions]


#: Two bar regions whose orientations differ by less than this (degrees) may be parts of
#: one symbol (glare, a shadow or a dent across the bars splits the stripe mask).
BARS_MERGE_MAX_DEG = 8.0
#: ... when they lie side by side across the bars with a gap of at most this share of
#: the longer one's length, and share at least half of the shorter one's bar height.
BARS_MERGE_MAX_GAP = 0.5


def _merged(a: BarRegion, b: BarRegion) -> BarRegion | None:
    """``a`` and ``b`` as one region in ``a``'s orientation, or None when they are not
    parts of one row of bars."""
    turn = abs((a.theta - b.theta + math.pi / 2) % math.pi - math.pi / 2)
    if turn > math.radians(BARS_MERGE_MAX_DEG):
        return None
    ca, sa = math.cos(a.theta), math.sin(a.theta)
    cb, sb = math.cos(b.theta), math.sin(b.theta)
    us, vs = [], []
    for u in (b.u0, b.u1):
        for v in (b.v0, b.v1):
            x, y = u * cb - v * sb, u * sb + v * cb
            us.append(x * ca + y * sa)
            vs.append(y * ca - x * sa)
    bu0, bu1, bv0, bv1 = min(us), max(us), min(vs), max(vs)
    v0, v1 = max(a.v0, bv0), min(a.v1, bv1)
    if v1 - v0 < 0.5 * min(a.v1 - a.v0, bv1 - bv0):
        return None  # not the same bars' height: one above the other, or far apart
    gap = max(bu0 - a.u1, a.u0 - bu1)
    if gap > BARS_MERGE_MAX_GAP * max(a.u1 - a.u0, bu1 - bu0):
        return None
    return BarRegion(a.theta, min(a.u0, bu0), max(a.u1, bu1), v0, v1,
                     min(a.coherence, b.coherence))


def merge_collinear(regions: Sequence[BarRegion]) -> list[BarRegion]:
    """``regions`` (largest first) with the parts of one row of bars joined into one.

    A symbol whose middle is washed out (glare) or smeared has its stripe mask split
    across the bars; each part alone holds too few bars to read.
    """
    out: list[BarRegion] = []
    for r in regions:
        for k, kept in enumerate(out):
            joined = _merged(kept, r)
            if joined is not None:
                out[k] = joined
                break
        else:
            out.append(r)
    return out


def rectify_bars(gray: np.ndarray, region: BarRegion, scale: float = BARS_SCALE) -> np.ndarray:
    """The region turned so its bars stand upright, with quiet zones, enlarged ``scale`` x."""
    margin = (region.u1 - region.u0) * BARS_END_MARGIN + 10
    u0, u1 = region.u0 - margin, region.u1 + margin
    # A band across the middle of the bars: the decoders need a few good rows, not
    # all of them, and a narrow band drifts less across a slanted (perspective) label.
    middle, half = (region.v0 + region.v1) / 2, min(region.v1 - region.v0, BARS_BAND) / 2
    v0, v1 = middle - half, middle + half
    c, s = math.cos(region.theta), math.sin(region.theta)
    # Frame (x, y) -> crop (X, Y) = ((u - u0) * scale, (v - v0) * scale).
    m = np.array([[c * scale, s * scale, -u0 * scale],
                  [-s * scale, c * scale, -v0 * scale]], dtype=np.float32)
    size = (max(16, int((u1 - u0) * scale)), max(16, int((v1 - v0) * scale)))
    return cv2.warpAffine(gray, m, size, flags=cv2.INTER_CUBIC, borderValue=255)


def average_bars(crop: np.ndarray, along: int = 9) -> np.ndarray:
    """An upright bar crop averaged along the bars and stretched, not sharpened.

    What a cross-check reads: averaging along the bars and stretching the levels
    keep every edge where it was, so they cannot turn one symbol into another;
    sharpening or deconvolving across a blurred symbol's bars can.
    """
    out: np.ndarray = cv2.normalize(cv2.blur(crop, (1, along)), None, 0, 255, cv2.NORM_MINMAX)
    return out


def enhance_bars(crop: np.ndarray, along: int = 9, across: float = 2.0) -> np.ndarray:
    """An upright bar crop averaged along the bars, sharpened across them, stretched.

    Averaging along the bars removes sensor noise without widening a bar; sharpening
    across them undoes part of a defocus or motion blur; stretching the crop's own
    levels to 0-255 puts its threshold at mid-grey (dim frames, glare).
    """
    smooth = cv2.blur(crop, (1, along))
    soft = cv2.GaussianBlur(smooth, (0, 0), sigmaX=across, sigmaY=0.1)
    sharp = cv2.addWeighted(smooth, 2.5, soft, -1.5, 0)
    out: np.ndarray = cv2.normalize(sharp, None, 0, 255, cv2.NORM_MINMAX)
    return out


#: Share of a band profile's length, around its middle, whose levels set its stretch:
#: inside the symbol's bars whatever margins the crop has (a phone's dark surround
#: beyond its screen would otherwise set the black level and grey out thin bars).
BARS_LEVELS_SHARE = 0.5


def _symbol_middle(crop: np.ndarray) -> np.ndarray:
    w = crop.shape[-1]
    edge = int(w * (1 - BARS_LEVELS_SHARE) / 2)
    return crop[..., edge:w - edge] if w - 2 * edge >= 8 else crop


#: Box lengths (upright-crop pixels, across the bars) a bar profile is deconvolved
#: with: a hand moving 1-2 modules during the exposure smears bars that far (modules
#: are 3-6 crop pixels after the 2x enlargement); 0 is the plain profile.
BARS_DEBLUR_LENGTHS = (5.0,)
#: Wiener noise-to-signal ratio of the deconvolution: higher keeps noise down,
#: lower sharpens more.
BARS_DEBLUR_NSR = 0.02
#: Bands of an upright crop averaged into one profile each (a slanted label's bars
#: drift across the crop: each band's profile stays sharp).
BARS_PROFILE_BANDS = 3


def bar_profiles(crop: np.ndarray, bands: int = BARS_PROFILE_BANDS) -> list[np.ndarray]:
    """The mean of each band of rows of an upright crop: one line across the bars per band.

    Averaging a whole band along the bars leaves the bars' own shape and removes
    sensor noise, phone-screen moire and print texture.
    """
    h = crop.shape[0]
    return [cv2.reduce(crop[i * h // bands:(i + 1) * h // bands], 0, cv2.REDUCE_AVG,
                       dtype=cv2.CV_32F)[0]
            for i in range(bands) if (i + 1) * h // bands > i * h // bands]


def _box_response(size: int, length: float) -> np.ndarray:
    """The Wiener filter (frequency domain, rfft of ``size``) undoing a ``length``-pixel box."""
    kernel = np.zeros(size, np.float32)
    whole = int(length)
    kernel[:whole] = 1.0
    kernel[whole] = length - whole
    kernel = np.roll(kernel / kernel.sum(), -(whole // 2))
    response = np.fft.rfft(kernel)
    wiener: np.ndarray = np.conj(response) / (np.abs(response) ** 2 + BARS_DEBLUR_NSR)
    return wiener


def deblur_profile(profile: np.ndarray, length: float) -> np.ndarray:
    """``profile`` deconvolved (Wiener) with a box of ``length`` pixels: motion across bars."""
    n = len(profile)
    if length <= 1 or n < 8:
        return profile
    size = 1 << int(n * 1.25).bit_length()
    padded = np.pad(profile, (0, size - n), mode="edge")
    restored = np.fft.irfft(np.fft.rfft(padded) * _box_response(size, length), size)
    out: np.ndarray = restored[:n].astype(np.float32)
    return out


def profile_image(
    profiles: Sequence[np.ndarray], rows: int = 8, middle_levels: bool = False
) -> np.ndarray:
    """Profiles as a uint8 image, each stretched to 0-255 and repeated ``rows`` times."""
    lines = []
    for p in profiles:
        # 1st and 99th percentiles of the symbol's middle (an overshoot of the
        # deconvolution is clipped; the crop's margins do not set the levels).
        middle = _symbol_middle(p) if middle_levels else p
        k = max(1, len(middle) // 100)
        ordered = np.partition(middle, (k, len(middle) - 1 - k))
        lo, hi = float(ordered[k]), float(ordered[len(middle) - 1 - k])
        scaled = (p - lo) * (255.0 / max(hi - lo, 1e-3))
        lines.append(np.repeat(np.clip(scaled, 0, 255).astype(np.uint8)[None, :], rows, axis=0))
    return np.ascontiguousarray(np.vstack(lines))


#: The bars' measured tilt below which deskewing is left to zxing-cpp itself (its row
#: scan reads about this far off level) and near 90 degrees (its rotated scan).
DESKEW_MIN_DEG = 6.0
#: The orientation is measured on a frame this many times smaller (640x480 -> 160x120):
#: bar stripes stay coherent there, and the measurement costs about a millisecond.
DESKEW_DOWNSCALE = 4
#: Below this coherence (0: isotropic texture, 1: perfect stripes) nothing in the frame
#: looks like bars and the stage is skipped.
DESKEW_MIN_COHERENCE = 0.7


def bar_tilt(gray: np.ndarray) -> float | None:
    """The tilt in degrees that turns the frame's most bar-like region upright, or None.

    The gradient structure tensor, averaged over small windows, has one dominant
    direction where the image is stripes (a 1D symbol): the direction across the bars.
    The window where that is strongest (energy times squared coherence) gives the
    symbol's axis; the result is in (-90, 90].
    """
    f = DESKEW_DOWNSCALE
    h, w = gray.shape
    if h < 8 * f or w < 8 * f:
        return None
    small = cv2.resize(gray, (w // f, h // f), interpolation=cv2.INTER_AREA).astype(np.float32)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    window = (9, 9)
    jxx = cv2.boxFilter(gx * gx, -1, window)
    jyy = cv2.boxFilter(gy * gy, -1, window)
    jxy = cv2.boxFilter(gx * gy, -1, window)
    energy = jxx + jyy
    coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / (energy + 1e-6)
    y, x = divmod(int(np.argmax(energy * coherence**2)), energy.shape[1])
    if coherence[y, x] < DESKEW_MIN_COHERENCE:
        return None
    theta = 0.5 * float(np.degrees(np.arctan2(2 * jxy[y, x], jxx[y, x] - jyy[y, x])))
    return ((theta + 90.0) % 180.0) - 90.0
