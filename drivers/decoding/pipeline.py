"""The decode pipeline the kiosk runs: zxing-cpp first, then measured fallbacks.

See the package docstring (:mod:`drivers.decoding`) for its stages and how a 1D read
becomes confident.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from contract import codes

from . import bars
from .bars import (
    average_bars,
    bar_profiles,
    deblur_profile,
    enhance_bars,
    find_bar_regions,
    profile_image,
    rectify_bars,
)
from .engines import (
    Decoded,
    Decoder,
    DecoderUnavailable,
    OpencvBarcodeChecker,
    PyzbarDecoder,
    ZxingDecoder,
    to_gray,
)
from .images import (
    Prep,
    View,
    _crop,
    _denoise,
    _deskew_prep,
    _keep,
    _map_box,
    _middle_band,
    _rotate,
    _sharpen,
    _upscale,
    _whole,
)

log = logging.getLogger(__name__)

#: Stop trying further pipeline stages after this long on one frame: at 15 fps a
#: new frame arrives every 67 ms, and a frame without a code must not delay the
#: next one (scan-to-cart latency is measured from the frame's arrival).
PIPELINE_BUDGET_S = 0.045
#: Region of interest around the last hit is used for this long after the hit.
ROI_TTL_S = 2.0
#: Margin around the last hit's bounding box, as a fraction of its size.
ROI_MARGIN = 0.6
#: Margin of the crop the other engine reads to cross-check a 1D read: just the
#: quiet zones (a bigger crop costs more than the first decode itself).
CROSS_CHECK_MARGIN = 0.1

@dataclass
class Stage:
    """One pipeline attempt: a preprocessing step plus an engine."""

    name: str
    engine: str  # "zxing" | "pyzbar"
    prep: Prep
    hits: int = 0
    tries: int = 0
    seconds: float = 0.0  # on the pipeline's clock, views and cross-checks included


@dataclass
class DecodePipeline:
    """zxing-cpp first, then measured fallbacks until a code is found or the budget ends.

    One caller at a time (the scan source's decode thread); the region-of-interest
    memory is per pipeline.
    """

    zxing: ZxingDecoder = field(default_factory=ZxingDecoder)
    pyzbar: PyzbarDecoder | None = field(default_factory=PyzbarDecoder)
    budget_s: float = PIPELINE_BUDGET_S
    use_roi: bool = True
    clock: Callable[[], float] = time.monotonic
    name: str = "pipeline"
    opencv: OpencvBarcodeChecker | None = field(default_factory=lambda: _opencv_checker())

    def __post_init__(self) -> None:
        self._clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
        # The first pass skips zxing-cpp's inverted retry (light-on-dark codes get
        # their own stage) and its 90-degree retry (1D codes at any angle but level get
        # the bars stage; QR codes are read at any angle anyway): the common frame then
        # costs about half of zxing-cpp alone.
        self._zxing_fast = ZxingDecoder(try_invert=False, try_rotate=False)
        # Whole-frame fallbacks: every quarter turn, still no inverted retry.
        self._zxing_turning = ZxingDecoder(try_invert=False)
        # Upright, contrast-stretched crops of bar regions: one orientation, one scale,
        # a fixed mid-grey threshold (the crop's own levels were stretched to 0-255).
        self._zxing_bars = ZxingDecoder(try_harder=False, binarizer="FixedThreshold",
                                        kinds="linear")
        # QR codes the first pass missed (blur, motion, screens): a sharpened frame with
        # a fixed threshold, QR only, which costs a third of an all-formats pass.
        self._zxing_qr = ZxingDecoder(try_invert=False, binarizer="FixedThreshold", kinds="qr")
        # Per frame: the bar regions and their upright crops (stages share them).
        self._bar_crops: list[tuple[np.ndarray, tuple[int, int, int, int]]] | None = None
        self._bar_views: list[View] | None = None
        self._last_box: tuple[int, int, int, int] | None = None
        self._last_hit_at = -1e9
        self._lock = threading.Lock()
        self.stages: list[Stage] = self._build_stages()

    def _build_stages(self) -> list[Stage]:
        clahe = self._clahe.apply
        # Order: tried on the three tuning seeds with every stage's reads and CPU time
        # recorded on every frame, then the time budget replayed over orders (moving one
        # stage at a time while the rate rose); the bench reports fresh seeds.
        stages = [
            Stage("zxing", "zxing_fast", _whole),
            Stage("bars", "zxing_bars", self._bars_first_prep),
            Stage("qr_sharpen", "zxing_qr", lambda g: _whole(_sharpen(g))),
            Stage("deskew", "zxing_fast", _deskew_prep),
            Stage("bars_profile", "zxing_bars", self._bars_profile_prep),
            Stage("bars_pyzbar", "pyzbar", self._bars_prep),
            Stage("upscale_x2", "zxing_turning", lambda g: _whole(_upscale(g), 0.5)),
            Stage("roi_x2", "zxing_turning", self._roi_prep),
            Stage("sharpen", "zxing_turning", lambda g: _whole(_sharpen(g))),
            Stage("rotate_45", "zxing_turning", lambda g: _whole(_rotate(g, 45.0), 0.0)),
            Stage("clahe_x2", "zxing_turning", lambda g: _whole(_upscale(clahe(g)), 0.5)),
            Stage("pyzbar", "pyzbar", _whole),
            Stage("clahe_pyzbar", "pyzbar", lambda g: _whole(clahe(g))),
            # Light-on-dark codes (phones in dark mode): none in the benchmark set, so last.
            Stage("inverted", "zxing_fast", lambda g: _whole(cv2.bitwise_not(g))),
        ]
        if self.pyzbar is None:
            stages = [s for s in stages if s.engine != "pyzbar"]
        return stages

    def _bars_prep(self, gray: np.ndarray) -> list[View]:
        """Each bar-like region of the frame, turned upright, enlarged and cleaned up.

        The regions are found once per frame (the ``bars`` and ``bars_pyzbar`` stages
        share them).
        """
        if self._bar_views is None:
            self._bar_views = [View(enhance_bars(crop), 0.0, frame_box=box, check=average_bars(crop))
                               for crop, box in self._upright_bars(gray)]
        return self._bar_views

    def _bars_first_prep(self, gray: np.ndarray) -> Iterator[View]:
        """Per bar region, largest first: the cleaned-up crop, then its plain band profiles."""
        for view, (crop, box) in zip(self._bars_prep(gray), self._upright_bars(gray), strict=True):
            yield view
            yield View(profile_image(bar_profiles(crop)), 0.0, frame_box=box,
                       check=average_bars(crop))

    def _upright_bars(self, gray: np.ndarray) -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
        """This frame's bar regions as upright crops, with their frame boxes (once per frame)."""
        if self._bar_crops is None:
            self._bar_crops = [(rectify_bars(gray, r), r.frame_box(gray.shape))
                               for r in find_bar_regions(gray)]
        return self._bar_crops

    def _bars_profile_prep(self, gray: np.ndarray) -> Iterator[View]:
        """Each bar region's band profiles: plain, then deconvolved for motion blur.

        Averaging along the bars takes out what the per-pixel crop keeps (moire,
        heavy noise, dim light's grain); the deconvolution undoes a hand's movement
        across the bars. The views are tiny (three lines), so each costs little.
        """
        for crop, box in self._upright_bars(gray):
            profiles = bar_profiles(crop)
            for length in bars.BARS_DEBLUR_LENGTHS:
                image = profile_image([deblur_profile(p, length) for p in profiles],
                                      middle_levels=True)
                yield View(image, 0.0, frame_box=box, check=average_bars(crop))


    def _roi_prep(self, gray: np.ndarray) -> list[View]:
        if not self.use_roi or self._last_box is None:
            return []
        if self.clock() - self._last_hit_at > ROI_TTL_S:
            return []
        crop = _crop(gray, self._last_box, ROI_MARGIN)
        if crop is None:
            return []
        roi, x0, y0 = crop
        return [View(_upscale(roi), 0.5, x0, y0)]

    def _engine(self, name: str) -> Decoder | None:
        if name == "zxing_fast":
            return self._zxing_fast
        if name == "zxing_bars":
            return self._zxing_bars
        if name == "zxing_qr":
            return self._zxing_qr
        if name == "zxing_turning":
            return self._zxing_turning
        return self.zxing if name == "zxing" else self.pyzbar

    def _cross_checked(self, image: np.ndarray, d: Decoded, whole: bool = False) -> bool:
        """True when the other engine reads the same text around ``d`` in ``image``.

        Measured: zxing-cpp alone misreads some glare-washed or tiny symbols with a
        valid EAN check digit, and repeats the misread on the next frame and on a
        sharpened copy; two different algorithms agreeing on a wrong code is far
        rarer. ``image`` is the stage's image (``d.box`` is in its pixels), read
        whole when ``whole`` (an upright crop of a bar region). The crop is small,
        so even three attempts cost less than one full-frame pass.
        """
        if d.symbology == codes.QRCODE:
            return True  # Reed-Solomon error correction
        if whole:
            roi = image  # an upright crop of the symbol already, small
        elif d.box is None:
            return False
        else:
            crop = _crop(image, d.box, CROSS_CHECK_MARGIN)
            if crop is None:
                return False
            roi = crop[0]
        if d.engine == "zxing":
            if self.pyzbar is None:
                return False
            pz = self.pyzbar

            def other(img: np.ndarray) -> list[Decoded]:
                return pz.decode(img, only=d.symbology)
        else:
            zx = self.zxing

            def other(img: np.ndarray) -> list[Decoded]:
                return zx.decode(img)
        opencv = self.opencv if d.engine == "zxing" and whole else None

        def opencv_agrees(img: np.ndarray) -> list[Decoded]:
            # OpenCV's decoder as the other engine on an upright crop libzbar cannot
            # read (EAN/UPC only: a Code 128 read still needs libzbar).
            if opencv is None or d.symbology not in opencv.symbologies:
                return []
            return [d] if d.text in opencv.texts(img) else []

        checks: tuple[tuple[Callable[[np.ndarray], np.ndarray],
                            Callable[[np.ndarray], list[Decoded]]], ...]
        if whole:
            # Measured on upright crops of missed frames: the middle band confirms
            # most, equalising most of the rest, OpenCV next; the whole crop and an
            # enlarged one cost the most and added almost nothing there.
            checks = ((_middle_band, other), (self._clahe.apply, other),
                      (_keep, opencv_agrees), (_denoise, other))
        else:
            # Cheapest first: a band across the middle of the bars (zbar scans every
            # pixel row, so a third of the rows costs a third), then the whole crop,
            # then denoised, equalised and upscaled copies (noisy, dim or washed-out,
            # small symbols).
            checks = tuple((v, other) for v in (_middle_band, _keep, _denoise,
                                                self._clahe.apply, _upscale))
        return any(any(o.text == d.text for o in read(v(roi))) for v, read in checks)

    def decode(
        self, image: np.ndarray, should_stop: Callable[[], bool] | None = None
    ) -> list[Decoded]:
        """Codes in ``image``, each marked confident or not.

        Stages run in order until one finds a code, the stages run out, the time
        budget is spent, or ``should_stop()`` says a newer frame is waiting (it is
        worth more than further attempts on this one). The common case ends after
        the first zxing-cpp pass plus a pyzbar cross-check on the symbol's crop.
        A 1D read is confident only when the other engine reads the same text in
        this frame; unconfident reads are returned too, and the scan source
        confirms them on a later frame read by the other engine (the same engine
        repeats its misread on the next frame of a still code).
        """
        gray = to_gray(image)
        start = self.clock()

        def out_of_time() -> bool:
            return (self.clock() - start > self.budget_s
                    or (should_stop is not None and should_stop()))

        # Unconfident reads so far, by text: a later stage may read the same text with
        # the other engine (the two engines agree on this frame) or confidently.
        unconfirmed: dict[str, Decoded] = {}
        with self._lock:
            self._bar_crops, self._bar_views = None, None
            try:
                for i, stage in enumerate(self.stages):
                    if i > 0 and out_of_time():
                        break
                    engine = self._engine(stage.engine)
                    if engine is None:
                        continue
                    began = self.clock()
                    try:
                        for j, view in enumerate(stage.prep(gray)):
                            if j > 0 and out_of_time():
                                break
                            stage.tries += 1
                            found = engine.decode(view.image)
                            if not found:
                                continue
                            stage.hits += 1
                            reads = [self._agreed(r, unconfirmed.get(r.text))
                                     for r in _consistent(self._reads(found, stage.name, view))]
                            if any(r.confident for r in reads):
                                others = [u for t, u in unconfirmed.items()
                                          if all(r.text != t for r in reads)
                                          and not any(r.confident and conflicting(r, u)
                                                      for r in reads)]
                                return reads + others
                            for r in reads:
                                unconfirmed.setdefault(r.text, r)
                    finally:
                        stage.seconds += self.clock() - began
            finally:
                self._bar_crops, self._bar_views = None, None
        return list(unconfirmed.values())

    @staticmethod
    def _agreed(read: Decoded, earlier: Decoded | None) -> Decoded:
        """``read``, confident when another engine read the same text earlier in this frame."""
        if read.confident or earlier is None or earlier.engine == read.engine:
            return read
        return replace(read, confident=True)

    def _reads(self, found: list[Decoded], stage: str, view: View) -> list[Decoded]:
        """A stage's reads with their confidence and frame boxes; remembers the ROI."""
        out: dict[str, Decoded] = {}
        for d in found:
            if d.text in out:
                continue
            box = view.frame_box if view.frame_box is not None else _map_box(
                d.box, view.scale, view.dx, view.dy)
            checked = view.image if view.check is None else view.check
            confident = self._cross_checked(checked, d, whole=view.frame_box is not None)
            out[d.text] = Decoded(d.text, d.symbology, d.engine, stage, confident, box)
        boxes = [d.box for d in out.values() if d.box is not None]
        if boxes:
            self._last_box = boxes[0]
            self._last_hit_at = self.clock()
        return list(out.values())

    def forget(self) -> None:
        """Drop the region of interest of the last hit (a new scene starts)."""
        self._last_box = None
        self._last_hit_at = -1e9

    def stage_stats(self) -> dict[str, tuple[int, int]]:
        """Per stage: (hits, tries) since creation."""
        return {s.name: (s.hits, s.tries) for s in self.stages}

    def stage_ms(self) -> dict[str, float]:
        """Per stage: milliseconds spent in it since creation (on the pipeline's clock)."""
        return {s.name: s.seconds * 1000 for s in self.stages}


#: Two 1D reads whose boxes share more than this part of the smaller box are of one
#: symbol (see :func:`conflicting`).
SAME_SYMBOL_OVERLAP = 0.2


def conflicting(a: Decoded, b: Decoded) -> bool:
    """True when ``a`` and ``b`` are different 1D texts read from one symbol's place.

    A symbol carries one code: two texts there mean at least one misread. Seen on a
    bench sequence: zxing-cpp read a small EAN-13 right on its upper rows and as a
    different valid EAN-13 on its lower rows, and libzbar read the wrong text too on
    the enlarged crop, so the wrong read was confirmed. A read without a box (a
    rotated view) may be anywhere: it conflicts with every other text.
    """
    if a.text == b.text or (a.symbology not in codes.LINEAR_SYMBOLOGIES
                            and b.symbology not in codes.LINEAR_SYMBOLOGIES):
        return False
    if a.box is None or b.box is None:
        return True
    ba, bb = _symbol_box(a.box), _symbol_box(b.box)
    w = min(ba[2], bb[2]) - max(ba[0], bb[0])
    h = min(ba[3], bb[3]) - max(ba[1], bb[1])
    if w <= 0 or h <= 0:
        return False
    smaller = min((box[2] - box[0]) * (box[3] - box[1]) for box in (ba, bb))
    return w * h > SAME_SYMBOL_OVERLAP * max(smaller, 1)


def _symbol_box(box: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
    """A 1D read's box grown to the whole symbol: zxing-cpp's box spans only the rows
    it read, and a label's bars are about half as high as the symbol is long."""
    x0, y0, x1, y1 = box
    grow = 0.25 * max(x1 - x0, y1 - y0)
    if x1 - x0 >= y1 - y0:
        return x0, y0 - grow, x1, y1 + grow
    return x0 - grow, y0, x1 + grow, y1


def _consistent(reads: list[Decoded]) -> list[Decoded]:
    """``reads`` without those that conflict with another read of the same view."""
    return [r for r in reads if not any(conflicting(r, o) for o in reads if o is not r)]


def _opencv_checker() -> OpencvBarcodeChecker | None:
    try:
        return OpencvBarcodeChecker()
    except DecoderUnavailable as err:  # pragma: no cover - depends on the OpenCV build
        log.warning("OpenCV cross-check disabled: %s", err)
        return None


def make_decoder(engines: Sequence[str] = ("zxing", "pyzbar")) -> Decoder:
    """The decoder for a config's ``decoder.engines``: the pipeline when zxing is in it."""
    engines = list(engines)
    if engines == ["pyzbar"]:
        return PyzbarDecoder()
    pyz = None
    if "pyzbar" in engines:
        try:
            pyz = PyzbarDecoder()
        except DecoderUnavailable as err:
            log.warning("pyzbar fallback disabled: %s", err)
    return DecodePipeline(zxing=ZxingDecoder(), pyzbar=pyz)
