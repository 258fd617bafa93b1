"""Barcode decoders behind one interface, and the combined decode pipeline.

Two engines: zxing-cpp (fast, multi-format, handles 90/180/270 rotation and
inversion itself) and pyzbar (libzbar: a different 1D scanner that reads some
blurred or noisy frames zxing-cpp misses). Both are imported where used so that a
missing library is reported with a clear message.

:class:`DecodePipeline` is what the kiosk runs. Its stages and their order were
tuned by trial runs on three fixed seeds of ``bench/decode.py``'s hard frame set
(the bench reports fresh seeds, never those three):

1. zxing-cpp on the grayscale frame (kiosk formats only, no inverted retry, no
   90-degree retry): the common case ends here, at about half the cost of
   zxing-cpp alone;
2. bars: the frame's stripe-textured regions are located with the gradient
   structure tensor (half-size frame, ~1-2 ms), each is turned so its bars stand
   upright, enlarged 2x, averaged along the bars, sharpened across them and
   stretched, and read with a fixed threshold; then the band profiles of the same
   crop. Any tilt is measured this way (hand-held codes 15-30 degrees off level,
   which zxing-cpp's row scan misses, were the largest group of misses), and the
   crops are small, so several attempts cost less than one whole-frame pass;
3. a QR-only pass on a sharpened frame with a fixed threshold (blurred QR codes);
4. the band profiles deconvolved for motion blur across the bars;
5. zxing-cpp on a 2x upscaled region of interest around the last hit;
6. deskew of the whole frame, a sharpened frame, a 2x upscale, a 45-degree
   rotation, CLAHE + 2x, pyzbar on the upright crops, pyzbar, pyzbar after CLAHE,
   an inverted frame;
7. a time budget and the arrival of a newer camera frame stop a frame early.

Every read is validated (EAN/UPC check digits, payment-code length/prefix rules
for all-digit 1D reads; UPC-E is not enabled). A 1D read is ``confident`` only
when another engine reads the same text on the symbol's crop (measured:
zxing-cpp alone misreads glare-washed or tiny EAN symbols with a valid check
digit, and repeats the misread on the next frame): libzbar for every 1D read,
or, on an upright bar crop, OpenCV's EAN/UPC decoder (never for Code 128, so a
payment code is always confirmed by libzbar), or the other engine in a later
stage of the same frame. An unconfident read lets the later stages run (they
may confirm it); if none does, it goes back to the scan source, which emits it
only when the other engine confirms it on a later frame. QR codes (Reed-Solomon)
are always confident.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import cv2
import numpy as np

from contract import codes

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


class DecoderUnavailable(RuntimeError):
    """A decoding library is not installed (message says which package)."""


@dataclass(frozen=True)
class Decoded:
    """One code found in one image.

    Attributes:
        text: decoded text (canonical: UPC-A as 12 digits).
        symbology: one of the symbology names in :mod:`contract.codes`.
        engine: ``"zxing"`` or ``"pyzbar"``.
        stage: the pipeline stage that found it (engine name outside a pipeline).
        confident: False when the read must be confirmed on a second frame.
        box: (x0, y0, x1, y1) in the input image's pixels, when known.
    """

    text: str
    symbology: str
    engine: str
    stage: str = ""
    confident: bool = True
    box: tuple[int, int, int, int] | None = None

    def __repr__(self) -> str:  # never print a payment code in full
        return (f"Decoded({codes.display_text(self.text, '')!r}, {self.symbology}, "
                f"{self.engine}/{self.stage}, confident={self.confident})")


class Decoder(Protocol):
    """Anything that finds codes in a grayscale (or BGR) uint8 image."""

    name: str

    def decode(
        self, image: np.ndarray, should_stop: Callable[[], bool] | None = None
    ) -> list[Decoded]:
        """All codes found (validated and canonical), possibly none.

        ``should_stop`` lets a multi-attempt decoder give up early (a newer frame
        is waiting); single-pass decoders ignore it.
        """
        ...


def to_gray(image: np.ndarray) -> np.ndarray:
    """A contiguous uint8 grayscale view of a BGR/BGRA/gray frame."""
    if image.ndim == 3:
        if image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
        elif image.shape[2] == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        else:
            image = image[:, :, 0]
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def normalize(text: str, symbology: str) -> tuple[str, str] | None:
    """Canonical (text, symbology), or None when the read must be rejected.

    EAN-13 with a leading 0 is a UPC-A and is returned as the 12-digit UPC-A;
    EAN/UPC reads need a good check digit; an all-digit 16-24 character 1D read
    must follow a payment-code rule (WeChat/Alipay) or it is a misread.
    """
    if not text:
        return None
    if symbology == codes.EAN13 and len(text) == 13 and text[0] == "0":
        text, symbology = text[1:], codes.UPCA
    if symbology in (codes.EAN13, codes.EAN8, codes.UPCA):
        expected = {codes.EAN13: 13, codes.EAN8: 8, codes.UPCA: 12}[symbology]
        if len(text) != expected or not codes.valid_gtin(text):
            return None
    elif symbology == codes.UPCE:
        if not codes.valid_upce(text):
            return None
    elif symbology in (codes.CODE128, codes.CODE39):
        if codes.looks_like_payment_code(text) and codes.payment_kind(text) is None:
            return None
    return text, symbology


# --- engines ---------------------------------------------------------------------------


_ZXING_NAMES = {
    "EAN13": codes.EAN13, "EAN8": codes.EAN8, "UPCA": codes.UPCA, "UPCE": codes.UPCE,
    "Code128": codes.CODE128, "Code39": codes.CODE39, "QRCode": codes.QRCODE,
}
_PYZBAR_NAMES = {
    "EAN13": codes.EAN13, "EAN8": codes.EAN8, "UPCA": codes.UPCA, "UPCE": codes.UPCE,
    "CODE128": codes.CODE128, "CODE39": codes.CODE39, "QRCODE": codes.QRCODE,
}


def _box_of(points: Sequence[tuple[float, float]]) -> tuple[int, int, int, int] | None:
    if not points:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return int(min(xs)), int(min(ys)), int(max(xs)) + 1, int(max(ys)) + 1


class ZxingDecoder:
    """zxing-cpp restricted to the kiosk's formats (fewer formats: faster, fewer false reads)."""

    name = "zxing"

    def __init__(
        self, try_harder: bool = True, binarizer: str = "LocalAverage", try_invert: bool = True,
        kinds: Literal["all", "linear", "qr"] = "all", try_rotate: bool = True,
    ) -> None:
        try:
            import zxingcpp
        except ImportError as err:  # pragma: no cover - depends on the install
            raise DecoderUnavailable("zxing-cpp is not installed (pip install zxing-cpp)") from err
        self._zx = zxingcpp
        f = zxingcpp.BarcodeFormat
        # UPC-E is left out on purpose: its 6 data digits carry little redundancy
        # and pyzbar misread EAN-13 as UPC-E on blurred frames in the benchmark.
        # One flags value (BarcodeFormats), as the binding's signature asks; one kind
        # only where the stage's image can hold only that kind (an upright crop of
        # bars) or a stage is meant for it: a QR-only pass costs a third.
        linear = [f.EAN13, f.EAN8, f.UPCA, f.Code128]
        wanted = {"all": [*linear, f.QRCode], "linear": linear, "qr": [f.QRCode]}[kinds]
        self._formats = zxingcpp.BarcodeFormats(wanted)
        self._try_harder = try_harder
        self._try_invert = try_harder and try_invert
        self._try_rotate = try_harder and try_rotate
        self._binarizer = getattr(zxingcpp.Binarizer, binarizer)

    def decode(
        self, image: np.ndarray, should_stop: Callable[[], bool] | None = None
    ) -> list[Decoded]:
        """Codes in ``image`` (one zxing-cpp pass; ``should_stop`` is ignored)."""
        gray = to_gray(image)
        results = self._zx.read_barcodes(
            gray, formats=self._formats, try_rotate=self._try_rotate,
            try_downscale=self._try_harder, try_invert=self._try_invert,
            binarizer=self._binarizer,
        )
        out = []
        for r in results:
            sym = _ZXING_NAMES.get(r.format.name)
            if sym is None or not r.valid:
                continue
            norm = normalize(r.text, sym)
            if norm is None:
                continue
            p = r.position
            box = _box_of([(p.top_left.x, p.top_left.y), (p.top_right.x, p.top_right.y),
                           (p.bottom_left.x, p.bottom_left.y),
                           (p.bottom_right.x, p.bottom_right.y)])
            out.append(Decoded(norm[0], norm[1], self.name, self.name, True, box))
        return out


class PyzbarDecoder:
    """pyzbar (libzbar0) restricted to the kiosk's formats."""

    name = "pyzbar"

    def __init__(self) -> None:
        try:
            from pyzbar import pyzbar
        except (ImportError, OSError) as err:  # OSError: libzbar0 missing
            raise DecoderUnavailable(
                "pyzbar needs the Python package pyzbar and the system library libzbar0"
            ) from err
        self._pz = pyzbar
        s = pyzbar.ZBarSymbol
        self._symbols = [s.EAN13, s.EAN8, s.UPCA, s.CODE128, s.QRCODE]

    def decode(
        self, image: np.ndarray, should_stop: Callable[[], bool] | None = None,
        only: str | None = None,
    ) -> list[Decoded]:
        """Codes in ``image``; ``only`` limits the search to one symbology (faster)."""
        gray = to_gray(image)
        symbols = self._symbols
        if only is not None:
            # zbar finds UPC-A through its EAN-13 decoder: both must be on.
            names = ("EAN13", "UPCA") if only == codes.UPCA else (only,)
            symbols = [getattr(self._pz.ZBarSymbol, n) for n in names
                       if hasattr(self._pz.ZBarSymbol, n)] or symbols
        out = []
        for r in self._pz.decode(gray, symbols=symbols):
            sym = _PYZBAR_NAMES.get(r.type)
            if sym is None:
                continue
            try:
                text = r.data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            norm = normalize(text, sym)
            if norm is None:
                continue
            rect = r.rect
            box = (rect.left, rect.top, rect.left + rect.width, rect.top + rect.height)
            # zbar has no cross-row check for 1D codes: confirm them on a second frame.
            confident = sym == codes.QRCODE
            out.append(Decoded(norm[0], norm[1], self.name, self.name, confident, box))
        return out


_OPENCV_NAMES = {"EAN_13": codes.EAN13, "EAN_8": codes.EAN8, "UPC_A": codes.UPCA}


class OpencvBarcodeChecker:
    """OpenCV's EAN/UPC decoder, used only to confirm a zxing-cpp read on an upright crop.

    A third, separately written 1D decoder (OpenCV's objdetect barcode module). On
    its own it misreads often (measured on the benchmark's bar crops: about one read
    in eight is wrong, none agreeing with zxing-cpp's), so it never reads a code for
    the pipeline: it only counts as the other engine agreeing, where libzbar cannot
    read a degraded crop that zxing-cpp reads. No Code 128 (payment codes stay
    confirmed by libzbar alone).
    """

    symbologies = (codes.EAN13, codes.EAN8, codes.UPCA)

    def __init__(self) -> None:
        barcode = getattr(cv2, "barcode", None)
        if barcode is None:  # pragma: no cover - depends on the OpenCV build
            raise DecoderUnavailable("this OpenCV build has no barcode module (opencv>=4.8)")
        self._detector = barcode.BarcodeDetector()

    def texts(self, upright: np.ndarray) -> list[str]:
        """Validated, canonical texts OpenCV reads in ``upright`` (bars vertical, whole crop)."""
        h, w = upright.shape[:2]
        corners = np.array([[[0, h - 1], [0, 0], [w - 1, 0], [w - 1, h - 1]]], np.float32)
        _ok, texts, kinds = self._detector.decodeWithType(upright, corners)
        out = []
        for text, kind in zip(texts, kinds, strict=False):
            sym = _OPENCV_NAMES.get(kind)
            norm = normalize(text, sym) if sym is not None else None
            if norm is not None:
                out.append(norm[0])
        return out


# --- the pipeline ------------------------------------------------------------------------


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
    """

    image: np.ndarray
    scale: float = 1.0
    dx: int = 0
    dy: int = 0
    frame_box: tuple[int, int, int, int] | None = None


#: A preprocessing step: gray frame -> the views to decode, in order (none when the
#: step does not apply to this frame); made lazily, so a spent budget stops it early.
Prep = Callable[[np.ndarray], "Iterable[View]"]


def _whole(image: np.ndarray, scale: float = 1.0) -> list[View]:
    return [View(image, scale)]


@dataclass
class Stage:
    """One pipeline attempt: a preprocessing step plus an engine."""

    name: str
    engine: str  # "zxing" | "pyzbar"
    prep: Prep
    hits: int = 0
    tries: int = 0


def _rotate(gray: np.ndarray, angle: float) -> np.ndarray:
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(gray, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=255)


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
        stages = [
            Stage("zxing", "zxing_fast", _whole),
            Stage("bars", "zxing_bars", self._bars_first_prep),
            Stage("qr_sharpen", "zxing_qr", lambda g: _whole(_sharpen(g))),
            Stage("bars_profile", "zxing_bars", self._bars_profile_prep),
            Stage("roi_x2", "zxing_turning", self._roi_prep),
            Stage("deskew", "zxing_fast", _deskew_prep),
            Stage("sharpen", "zxing_turning", lambda g: _whole(_sharpen(g))),
            Stage("upscale_x2", "zxing_turning", lambda g: _whole(_upscale(g), 0.5)),
            Stage("rotate_45", "zxing_turning", lambda g: _whole(_rotate(g, 45.0), 0.0)),
            Stage("clahe_x2", "zxing_turning", lambda g: _whole(_upscale(clahe(g)), 0.5)),
        ]
        if self.pyzbar is not None:
            stages += [
                Stage("bars_pyzbar", "pyzbar", self._bars_prep),
                Stage("pyzbar", "pyzbar", _whole),
                Stage("clahe_pyzbar", "pyzbar", lambda g: _whole(clahe(g))),
            ]
        # Light-on-dark codes (phones in dark mode): none in the benchmark set, so last.
        stages.append(Stage("inverted", "zxing_fast", lambda g: _whole(cv2.bitwise_not(g))))
        return stages

    def _bars_prep(self, gray: np.ndarray) -> list[View]:
        """Each bar-like region of the frame, turned upright, enlarged and cleaned up.

        The regions are found once per frame (the ``bars`` and ``bars_pyzbar`` stages
        share them).
        """
        if self._bar_views is None:
            self._bar_views = [View(enhance_bars(crop), 0.0, frame_box=box)
                               for crop, box in self._upright_bars(gray)]
        return self._bar_views

    def _bars_first_prep(self, gray: np.ndarray) -> Iterator[View]:
        """Per bar region, largest first: the cleaned-up crop, then its plain band profiles."""
        for view, (crop, box) in zip(self._bars_prep(gray), self._upright_bars(gray), strict=True):
            yield view
            yield View(profile_image(bar_profiles(crop)), 0.0, frame_box=box)

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
            for length in BARS_DEBLUR_LENGTHS:
                image = profile_image([deblur_profile(p, length) for p in profiles],
                                      middle_levels=True)
                yield View(image, 0.0, frame_box=box)

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
                    for j, view in enumerate(stage.prep(gray)):
                        if j > 0 and out_of_time():
                            break
                        stage.tries += 1
                        found = engine.decode(view.image)
                        if not found:
                            continue
                        stage.hits += 1
                        reads = [self._agreed(r, unconfirmed.get(r.text))
                                 for r in self._reads(found, stage.name, view)]
                        if any(r.confident for r in reads):
                            others = [u for t, u in unconfirmed.items()
                                      if all(r.text != t for r in reads)]
                            return reads + others
                        for r in reads:
                            unconfirmed.setdefault(r.text, r)
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
            out[d.text] = Decoded(d.text, d.symbology, d.engine, stage,
                                  self._cross_checked(view.image, d,
                                                      whole=view.frame_box is not None), box)
        boxes = [d.box for d in out.values() if d.box is not None]
        if boxes:
            self._last_box = boxes[0]
            self._last_hit_at = self.clock()
        return list(out.values())

    def stage_stats(self) -> dict[str, tuple[int, int]]:
        """Per stage: (hits, tries) since creation."""
        return {s.name: (s.hits, s.tries) for s in self.stages}


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
    _count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    # The largest regions only: a symbol is a large stripe region, and each candidate
    # costs a little (clutter edges that fail the coherence test included).
    order = [int(i) + 1 for i in np.argsort(-areas)[:2 * max_regions]
             if areas[i] >= BARS_MIN_AREA]
    regions: list[BarRegion] = []
    for i in order:
        if len(regions) >= max_regions:
            break
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
    return regions


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


def deblur_profile(profile: np.ndarray, length: float) -> np.ndarray:
    """``profile`` deconvolved (Wiener) with a box of ``length`` pixels: motion across bars."""
    n = len(profile)
    if length <= 1 or n < 8:
        return profile
    size = 1 << int(n * 1.25).bit_length()
    padded = np.pad(profile, (0, size - n), mode="edge")
    kernel = np.zeros(size, np.float32)
    whole = int(length)
    kernel[:whole] = 1.0
    kernel[whole] = length - whole
    kernel = np.roll(kernel / kernel.sum(), -(whole // 2))
    response = np.fft.rfft(kernel)
    restored = np.fft.irfft(np.fft.rfft(padded) * np.conj(response)
                            / (np.abs(response) ** 2 + BARS_DEBLUR_NSR), size)
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
