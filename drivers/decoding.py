"""Barcode decoders behind one interface, and the combined decode pipeline.

Two engines: zxing-cpp (fast, multi-format, handles 90/180/270 rotation and
inversion itself) and pyzbar (libzbar: a different 1D scanner that reads some
blurred or noisy frames zxing-cpp misses). Both are imported where used so that a
missing library is reported with a clear message.

:class:`DecodePipeline` is what the kiosk runs. Its order was chosen by
measuring each candidate stage's rescues per millisecond on the synthetic hard
frame set of ``bench/decode.py`` (greedy: most new decodes per ms first):

1. zxing-cpp on the grayscale frame (kiosk formats only, no inverted retry):
   the common case ends here, so the median cost stays near zxing-cpp alone;
2. deskew: the bars' orientation is measured (structure tensor of the gradients on a
   quarter-size frame, where bar stripes are the most coherent texture, ~1 ms) and
   the frame is turned so the bars stand upright for zxing-cpp, whose row scan reads
   1D codes only within a few degrees of level (hand-held codes 15-30 degrees off
   level were the largest group of misses on independent hard frames);
3. zxing-cpp on a 2x upscaled region of interest around the last hit;
4. a sharpened frame (blur, motion), a 2x upscale (small symbols, noise), a
   45-degree rotation (zxing-cpp reads 1D codes only near 0/90/180/270), CLAHE
   + 2x (dim, glare), pyzbar, pyzbar after CLAHE, an inverted frame;
5. a time budget and the arrival of a newer camera frame stop a frame early.

Every read is validated (EAN/UPC check digits, payment-code length/prefix rules
for all-digit 1D reads; UPC-E is not enabled). A 1D read is ``confident`` only
when the other engine reads the same text on the symbol's crop (measured:
zxing-cpp alone misreads glare-washed or tiny EAN symbols with a valid check
digit, and repeats the misread on the next frame). Unconfident reads go back
to the scan source, which emits them only when the other engine confirms them
on a later frame. QR codes (Reed-Solomon) are always confident.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

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
        self, try_harder: bool = True, binarizer: str = "LocalAverage", try_invert: bool = True
    ) -> None:
        try:
            import zxingcpp
        except ImportError as err:  # pragma: no cover - depends on the install
            raise DecoderUnavailable("zxing-cpp is not installed (pip install zxing-cpp)") from err
        self._zx = zxingcpp
        f = zxingcpp.BarcodeFormat
        # UPC-E is left out on purpose: its 6 data digits carry little redundancy
        # and pyzbar misread EAN-13 as UPC-E on blurred frames in the benchmark.
        # One flags value (BarcodeFormats), as the binding's signature asks.
        self._formats = f.EAN13 | f.EAN8 | f.UPCA | f.Code128 | f.QRCode
        self._try_harder = try_harder
        self._try_invert = try_harder and try_invert
        self._binarizer = getattr(zxingcpp.Binarizer, binarizer)

    def decode(
        self, image: np.ndarray, should_stop: Callable[[], bool] | None = None
    ) -> list[Decoded]:
        """Codes in ``image`` (one zxing-cpp pass; ``should_stop`` is ignored)."""
        gray = to_gray(image)
        results = self._zx.read_barcodes(
            gray, formats=self._formats, try_rotate=self._try_harder,
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


# --- the pipeline ------------------------------------------------------------------------


#: A preprocessing step: gray frame -> (image to decode, scale back to frame
#: pixels, x offset, y offset), or None when it does not apply to this frame.
Prep = Callable[[np.ndarray], "tuple[np.ndarray, float, int, int] | None"]


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

    def __post_init__(self) -> None:
        self._clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
        # The first pass skips zxing-cpp's inverted retry (light-on-dark codes get
        # their own stage): the common frame then costs less than zxing-cpp alone.
        self._zxing_fast = ZxingDecoder(try_invert=False)
        self._last_box: tuple[int, int, int, int] | None = None
        self._last_hit_at = -1e9
        self._lock = threading.Lock()
        self.stages: list[Stage] = self._build_stages()

    def _build_stages(self) -> list[Stage]:
        clahe = self._clahe.apply
        stages = [
            Stage("zxing", "zxing_fast", lambda g: (g, 1.0, 0, 0)),
            Stage("deskew", "zxing_fast", _deskew_prep),
            Stage("roi_x2", "zxing", self._roi_prep),
            Stage("sharpen", "zxing", lambda g: (_sharpen(g), 1.0, 0, 0)),
            Stage("upscale_x2", "zxing", lambda g: (_upscale(g), 0.5, 0, 0)),
            Stage("rotate_45", "zxing", lambda g: (_rotate(g, 45.0), 0.0, 0, 0)),
            Stage("clahe_x2", "zxing", lambda g: (_upscale(clahe(g)), 0.5, 0, 0)),
        ]
        if self.pyzbar is not None:
            stages += [
                Stage("pyzbar", "pyzbar", lambda g: (g, 1.0, 0, 0)),
                Stage("clahe_pyzbar", "pyzbar", lambda g: (clahe(g), 1.0, 0, 0)),
            ]
        # Light-on-dark codes (phones in dark mode): none in the benchmark set, so last.
        stages.append(Stage("inverted", "zxing_fast", lambda g: (cv2.bitwise_not(g), 1.0, 0, 0)))
        return stages

    def _roi_prep(self, gray: np.ndarray) -> tuple[np.ndarray, float, int, int] | None:
        if not self.use_roi or self._last_box is None:
            return None
        if self.clock() - self._last_hit_at > ROI_TTL_S:
            return None
        crop = _crop(gray, self._last_box, ROI_MARGIN)
        if crop is None:
            return None
        roi, x0, y0 = crop
        return _upscale(roi), 0.5, x0, y0

    def _engine(self, name: str) -> Decoder | None:
        if name == "zxing_fast":
            return self._zxing_fast
        return self.zxing if name == "zxing" else self.pyzbar

    def _cross_checked(self, image: np.ndarray, d: Decoded) -> bool:
        """True when the other engine reads the same text around ``d`` in ``image``.

        Measured: zxing-cpp alone misreads some glare-washed or tiny symbols with a
        valid EAN check digit, and repeats the misread on the next frame and on a
        sharpened copy; two different algorithms agreeing on a wrong code is far
        rarer. ``image`` is the stage's image (``d.box`` is in its pixels). The
        crop is small, so even three attempts cost less than one full-frame pass.
        """
        if d.symbology == codes.QRCODE:
            return True  # Reed-Solomon error correction
        if d.box is None:
            return False
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
        # Cheapest first: a band across the middle of the bars (zbar scans every
        # pixel row, so a third of the rows costs a third), then the whole crop,
        # then denoised, equalised and upscaled copies (noisy, dim or washed-out,
        # small symbols).
        variants = (_middle_band, lambda r: r, _denoise, self._clahe.apply, _upscale)
        return any(any(o.text == d.text for o in other(v(roi))) for v in variants)

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
        with self._lock:
            for i, stage in enumerate(self.stages):
                if i > 0 and (self.clock() - start > self.budget_s
                              or (should_stop is not None and should_stop())):
                    break
                prepared = stage.prep(gray)
                if prepared is None:
                    continue
                img, scale, dx, dy = prepared
                stage.tries += 1
                engine = self._engine(stage.engine)
                found = engine.decode(img) if engine is not None else []
                if not found:
                    continue
                stage.hits += 1
                out: dict[str, Decoded] = {}
                for d in found:
                    if d.text in out:
                        continue
                    out[d.text] = Decoded(d.text, d.symbology, d.engine, stage.name,
                                          self._cross_checked(img, d),
                                          _map_box(d.box, scale, dx, dy))
                boxes = [d.box for d in out.values() if d.box is not None]
                if boxes:
                    self._last_box = boxes[0]
                    self._last_hit_at = self.clock()
                return list(out.values())
        return []

    def stage_stats(self) -> dict[str, tuple[int, int]]:
        """Per stage: (hits, tries) since creation."""
        return {s.name: (s.hits, s.tries) for s in self.stages}


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


def _deskew_prep(gray: np.ndarray) -> tuple[np.ndarray, float, int, int] | None:
    tilt = bar_tilt(gray)
    if tilt is None or abs(tilt) < DESKEW_MIN_DEG or 90 - abs(tilt) < DESKEW_MIN_DEG:
        return None
    return _rotate(gray, tilt), 0.0, 0, 0


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
