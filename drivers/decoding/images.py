"""Whole-frame views a pipeline stage reads, and the small image helpers they use."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from .bars import DESKEW_MIN_DEG, bar_tilt


@dataclass(frozen=True)
class View:
    """An image a stage decodes, and how its pixels map back to the frame's.

    Attributes:
        image: what the engine reads.
        scale: view pixels -> frame pixels (0: not mappable, e.g. a rotated frame).
        dx: x offset of the view's origin in the frame.
        dy: y offset of the view's origin in the frame.
        frame_box: the frame's box of a view whose pixels cannot be mapped back one
            by one (a rectified crop): a hit anywhere in it is reported with this box.
        check: what the other engine reads to cross-check a read of ``image``, when
            not ``image`` itself: for a sharpened or deconvolved bar view, the upright
            crop only averaged along the bars (processing that can turn a blurred
            symbol into a different valid one must not produce the agreement that
            confirms it).
    """

    image: np.ndarray
    scale: float = 1.0
    dx: int = 0
    dy: int = 0
    frame_box: tuple[int, int, int, int] | None = None
    check: np.ndarray | None = None


#: A preprocessing step: gray frame -> the views to decode, in order (none when the
#: step does not apply to this frame); made lazily, so a spent budget stops it early.
Prep = Callable[[np.ndarray], "Iterable[View]"]


def _whole(image: np.ndarray, scale: float = 1.0) -> list[View]:
    return [View(image, scale)]


def _rotate(gray: np.ndarray, angle: float) -> np.ndarray:
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(gray, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=255)



def _deskew_prep(gray: np.ndarray) -> list[View]:
    tilt = bar_tilt(gray)
    if tilt is None or abs(tilt) < DESKEW_MIN_DEG or 90 - abs(tilt) < DESKEW_MIN_DEG:
        return []
    return [View(_rotate(gray, tilt), 0.0)]


def _keep(gray: np.ndarray) -> np.ndarray:
    return gray


def _upscale(gray: np.ndarray) -> np.ndarray:
    return cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)


def _sharpen(gray: np.ndarray) -> np.ndarray:
    blur = cv2.GaussianBlur(gray, (0, 0), 2.0)
    return cv2.addWeighted(gray, 2.2, blur, -1.2, 0)


def _denoise(gray: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(gray, (0, 0), 1.0)


def _middle_band(roi: np.ndarray) -> np.ndarray:
    """The middle third of a 1D symbol's crop, across its bars (either orientation)."""
    h, w = roi.shape
    if w >= h:
        band = max(24, h // 3)
        y0 = max(0, (h - band) // 2)
        return np.ascontiguousarray(roi[y0:y0 + band, :])
    band = max(24, w // 3)
    x0 = max(0, (w - band) // 2)
    return np.ascontiguousarray(roi[:, x0:x0 + band])


def _crop(
    gray: np.ndarray, box: tuple[int, int, int, int], margin: float
) -> tuple[np.ndarray, int, int] | None:
    h, w = gray.shape
    x0, y0, x1, y1 = box
    mx, my = int((x1 - x0) * margin) + 8, int((y1 - y0) * margin) + 8
    x0, y0 = max(0, x0 - mx), max(0, y0 - my)
    x1, y1 = min(w, x1 + mx), min(h, y1 + my)
    if x1 - x0 < 16 or y1 - y0 < 16:
        return None
    return np.ascontiguousarray(gray[y0:y1, x0:x1]), x0, y0


def _map_box(
    box: tuple[int, int, int, int] | None, scale: float, dx: int, dy: int
) -> tuple[int, int, int, int] | None:
    """A stage image's box in frame pixels (scale 0: not mappable, e.g. rotated)."""
    if box is None or scale <= 0:
        return None
    x0, y0, x1, y1 = box
    return (int(x0 * scale) + dx, int(y0 * scale) + dy, int(x1 * scale) + dx,
            int(y1 * scale) + dy)
