"""Decode benchmark: pyzbar alone, zxing-cpp alone, both on every frame, and the kiosk
pipeline, side by side, on frames generated fresh each run (the seed is printed).

Makes its own set of 640x480 frames (``drivers.testimages``): tilts up to upside down,
1D codes held 15-30 degrees off level (long payment codes among them), perspective,
defocus and motion blur, noise, dim light, glare, phone screens, small symbols, frames
with two or three degradations at once, frames with no code; EAN-13, EAN-8, UPC-A,
Code 128 payment codes and QR codes. The degradations stand for the camera's world:
they are not tuned to any decoder's results. Each frame comes with the next frame of the same
scene (new noise, a small hand movement), which is what the pipeline's
second-frame confirmation of unconfident 1D reads gets on a real camera.

Counting, per frame (the first of each pair):
* single libraries: decoded = the right text is among the reads; a false read =
  any wrong (check-digit/rule-valid) text. No confirmation (that is what
  "library alone" means);
* pipeline: what the scan source would emit from this frame: confident reads,
  plus unconfident reads that the other engine reads on the next frame. Decoded
  = the right text is emitted; a false read = a wrong text is emitted.
* both: zxing-cpp and pyzbar run on every frame, reads pooled (the obvious
  alternative to a pipeline; the baseline of ``decode_gain``);
* ms/frame: CPU time (``time.process_time``) decoding the first frame only (the
  next frame's cost is the next frame's); CPU time, so that other work on this
  shared machine does not skew the ratio. Engines interleave per frame. Median, mean
  and p95 are printed; ``latency_ratio`` is the pipeline's median over zxing-cpp's.
* Pi budget: the pipeline's time budget is divided by ``--pi-factor`` (4: the Pi is
  about four times slower than this machine), so its fallbacks get the share of a
  frame they would get on the kiosk;
* per stage: reads, attempts and CPU ms over all pipeline calls (next frames too).

``decode_rate`` is a per-frame figure (a frame and its next frame for confirmation),
not a per-scene one: the kiosk sees a held code for about 15 frames, which this
bench does not credit. The pipeline's stages and order were tuned on seeds 1-6;
report only fresh seeds (the default).

The per-scene figure (``scene_rate``, printed first, seed + 2): fresh scenes of
``--scene-frames`` consecutive frames (6: 0.4 s at 15 fps), the same conditions and
weights, each frame with its own sensor noise, hand jitter, motion blur and glare
(the same distributions as a single frame's); the pipeline decodes every frame and
the scan source's own place guard and confirmer (``drivers.scanning``) decide what
is emitted. Read = the right text emitted from any frame of the scene; a false read =
any wrong text emitted. This is what multi-frame accumulation at 15 fps buys; it is
a separate figure from ``decode_rate``, which stays per frame.

Then scan-to-cart latency: a replay camera at 15 fps shows the demo price book's
products one after another (frames under everyday conditions, gaps without a
code); the ScanSource decodes off the loop; a consumer prices the cart with
``contract.pricing``. Latency = cart priced - arrival of the frame that
completed the scan.

Run: ``.venv/bin/python bench/decode.py [--frames N] [--seed S] [--scenes N]
[--scene-frames K] [--skip-frames]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from drivers import testimages  # noqa: E402
from drivers.decoding import (  # noqa: E402
    PIPELINE_BUDGET_S,
    DecodePipeline,
    PyzbarDecoder,
    ZxingDecoder,
    to_gray,
)

STREAM_FPS = 15
STREAM_CONDITIONS = {"clean": 0.3, "tilt": 0.2, "perspective": 0.2, "blur": 0.1, "glare": 0.1,
                     "dim": 0.1}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def run_decode(n: int, seed: int, pi_factor: float) -> dict[str, float]:
    t0 = time.perf_counter()
    pairs = testimages.make_frame_pairs(n, seed)
    print(f"frames: {n} pairs (640x480), seed {seed}, generated in "
          f"{time.perf_counter() - t0:.1f} s; with a code: {sum(1 for a, _ in pairs if a.text)}")
    zx, pz = ZxingDecoder(), PyzbarDecoder()
    # The pipeline's time budget runs on CPU time here: the same stages run on
    # a busy shared machine as on an idle kiosk, so the result is reproducible.
    pipe = DecodePipeline(clock=time.process_time, budget_s=PIPELINE_BUDGET_S / pi_factor)
    names = ("pyzbar", "zxing", "both", "pipeline")
    ok: Counter[str] = Counter()
    false: Counter[str] = Counter()
    ms: dict[str, list[float]] = defaultdict(list)
    by_cond: dict[str, Counter[str]] = defaultdict(Counter)
    confident_first = 0
    for a, b in pairs:
        gray = to_gray(a.image)
        pooled = []
        for name, dec in (("pyzbar", pz), ("zxing", zx)):
            t = time.process_time()
            reads = dec.decode(gray)
            ms[name].append((time.process_time() - t) * 1000)
            pooled += reads
            hit = a.text is not None and any(r.text == a.text for r in reads)
            ok[name] += hit
            by_cond[a.condition][name] += hit
            false[name] += any(r.text != a.text for r in reads)
        ms["both"].append(ms["pyzbar"][-1] + ms["zxing"][-1])
        hit = a.text is not None and any(r.text == a.text for r in pooled)
        ok["both"] += hit
        by_cond[a.condition]["both"] += hit
        false["both"] += any(r.text != a.text for r in pooled)
        t = time.process_time()
        reads = pipe.decode(gray)
        ms["pipeline"].append((time.process_time() - t) * 1000)
        emitted = [r for r in reads if r.confident]
        confident_first += any(r.text == a.text for r in emitted)
        pending = [r for r in reads if not r.confident]
        if pending:
            nxt = pipe.decode(to_gray(b.image))
            for r in pending:
                if any(x.text == r.text and (x.confident or x.engine != r.engine) for x in nxt):
                    emitted.append(r)
        hit = a.text is not None and any(r.text == a.text for r in emitted)
        ok["pipeline"] += hit
        by_cond[a.condition]["pipeline"] += hit
        by_cond[a.condition]["n"] += 1
        if any(r.text != a.text for r in emitted):
            false["pipeline"] += 1
            print(f"  false read: {a.name} {[repr(r) for r in emitted]}")

    with_code = sum(1 for a, _ in pairs if a.text)
    print()
    print(f"{'condition':<12}{'frames':>7}" + "".join(f"{k:>10}" for k in names))
    for cond in testimages.CONDITIONS:
        c = by_cond.get(cond)
        if not c:
            continue
        if cond == "none":
            print(f"{cond:<12}{c['n']:>7}" + "".join(f"{'-':>10}" for _ in names))
            continue
        print(f"{cond:<12}{c['n']:>7}" + "".join(f"{c[k] / c['n']:>10.0%}" for k in names))
    print()
    print(f"{'engine':<10}{'decoded':>9}{'rate':>8}{'false':>7}{'cpu ms p50':>11}{'mean':>8}"
          f"{'ms p95':>9}")
    for k in names:
        print(f"{k:<10}{ok[k]:>9}{ok[k] / with_code:>8.1%}{false[k]:>7}"
              f"{statistics.median(ms[k]):>11.2f}{statistics.mean(ms[k]):>8.2f}"
              f"{pct(ms[k], 95):>9.2f}")
    print(f"pipeline: emitted from the first frame alone {confident_first / with_code:.1%}; "
          "stage hits/tries/cpu ms (all pipeline calls) " + ", ".join(
              f"{s}={h}/{t}/{pipe.stage_ms()[s]:.0f}" for s, (h, t) in pipe.stage_stats().items()))
    return {
        "decode_rate": ok["pipeline"] / with_code,
        "baseline_best": max(ok["pyzbar"], ok["zxing"]) / with_code,
        "both_rate": ok["both"] / with_code,
        "both_false": false["both"],
        "false_reads": false["pipeline"],
        "latency_ratio": statistics.median(ms["pipeline"]) / statistics.median(ms["zxing"]),
    }


def run_sequences(n: int, length: int, seed: int, pi_factor: float) -> dict[str, float]:
    """The per-scene figure: ``n`` fresh scenes of ``length`` frames at 15 fps each.

    Each frame of a scene has its own sensor noise, hand jitter, motion blur and
    glare (``testimages.make_frame_sequence``); the pipeline decodes every frame and
    its reads go through the scan source's own place guard and confirmer
    (``drivers.scanning``), on a clock that advances one frame period per frame. A scene is read when the right
    text is emitted from any of its frames; a false read is any wrong text emitted.
    zxing-cpp alone is counted the same way (any frame, no confirmation).
    """
    from drivers.scanning import Confirmer, PlaceGuard

    t0 = time.perf_counter()
    scenes = testimages.make_frame_sequences(n, length, seed)
    print(f"\nsequences: {n} scenes x {length} frames at {STREAM_FPS} fps, seed {seed}, "
          f"generated in {time.perf_counter() - t0:.1f} s")
    zx = ZxingDecoder()
    pipe = DecodePipeline(clock=time.process_time, budget_s=PIPELINE_BUDGET_S / pi_factor)
    ok: Counter[str] = Counter()
    false: Counter[str] = Counter()
    by_cond: dict[str, Counter[str]] = defaultdict(Counter)
    first_frame: list[int] = []
    for frames in scenes:
        truth, cond = frames[0].text, frames[0].condition
        pipe.forget()  # a new scene: no region of interest from the last one
        confirmer, places = Confirmer(), PlaceGuard()
        emitted: set[str] = set()
        zx_reads: set[str] = set()
        first = None
        for i, f in enumerate(frames):
            gray = to_gray(f.image)
            zx_reads |= {r.text for r in zx.decode(gray)}
            for r in places.admit(pipe.decode(gray), i / STREAM_FPS):
                if confirmer.offer(r, i / STREAM_FPS):
                    emitted.add(r.text)
            if first is None and truth in emitted:
                first = i
        by_cond[cond]["n"] += 1
        for name, texts in (("zxing", zx_reads), ("pipeline", emitted)):
            hit = truth is not None and truth in texts
            ok[name] += hit
            by_cond[cond][name] += hit
            false[name] += any(t != truth for t in texts)
        if first is not None:
            first_frame.append(first)
        if any(t != truth for t in emitted):
            print(f"  false read: {frames[0].name} {sorted(emitted)!r}")
    with_code = sum(1 for frames in scenes if frames[0].text)
    print(f"{'condition':<12}{'scenes':>7}{'zxing':>10}{'pipeline':>10}")
    for cond in testimages.CONDITIONS:
        c = by_cond.get(cond)
        if c and cond != "none":
            print(f"{cond:<12}{c['n']:>7}{c['zxing'] / c['n']:>10.0%}{c['pipeline'] / c['n']:>10.0%}")
    print(f"per scene: zxing alone {ok['zxing'] / with_code:.1%} (false {false['zxing']}), "
          f"pipeline {ok['pipeline'] / with_code:.1%} (false {false['pipeline']}); "
          f"frames to the pipeline's scan: median {statistics.median(first_frame or [0]) + 1:.0f}, "
          f"p95 {pct([float(x) for x in first_frame], 95) + 1:.0f}")
    return {"scene_rate": ok["pipeline"] / with_code, "scene_false": false["pipeline"],
            "scene_zxing": ok["zxing"] / with_code}


def make_stream(seed: int, items: int = 36) -> tuple[list[np.ndarray], list[str]]:
    """Frames of products shown one after another, with code-free gaps between them."""
    from contract import codes

    book = _price_book()
    barcodes = [p.barcodes[0] for p in book.products if p.active and not p.weighed
                and codes.valid_gtin(p.barcodes[0]) and len(p.barcodes[0]) == 13]
    rng = np.random.default_rng(seed)
    conds = list(STREAM_CONDITIONS)
    p = np.array([STREAM_CONDITIONS[c] for c in conds])
    frames: list[np.ndarray] = []
    shown: list[str] = []
    blank = testimages.make_frame(rng, "none").image
    for i in range(items):
        code = barcodes[i % len(barcodes)]
        cond = conds[int(rng.choice(len(conds), p=p / p.sum()))]
        a, b = testimages.make_frame(rng, cond, i, sibling=True, code=(code, codes.EAN13))
        frames += [a.image, b.image, a.image, b.image, a.image, b.image]  # ~0.4 s held
        frames += [blank] * 8  # ~0.5 s away
        shown.append(code)
    return frames, shown


def _price_book():
    from contract.pricebook import load_price_book

    return load_price_book(ROOT / "config" / "pricebook.example.json")


async def run_scan_to_cart(seed: int) -> tuple[list[float], int, int]:
    from drivers.camera import ReplayCamera
    from drivers.scanning import ScanSource

    try:
        from contract.pricing import CartLine, price_cart
    except ImportError:  # pricing not built yet: a dict cart
        CartLine = price_cart = None
    book = _price_book()
    frames, shown = make_stream(seed)
    latencies: list[float] = []
    qty: dict[str, int] = {}
    camera = ReplayCamera(frames, fps=STREAM_FPS)
    async with ScanSource(camera, debounce_s=0.4) as source:
        deadline = time.monotonic() + len(frames) / STREAM_FPS + 3.0
        while time.monotonic() < deadline:
            try:
                scan = await asyncio.wait_for(source.get(), 1.0)
            except TimeoutError:
                if camera.health().state == "ended":
                    break
                continue
            if scan.kind != "product":
                continue
            product = book.by_barcode(scan.text)
            if product is None:
                continue
            qty[product.product_id] = qty.get(product.product_id, 0) + 1
            if price_cart is not None:
                price_cart(book, [CartLine(pid, q) for pid, q in qty.items()])
            latencies.append((time.monotonic() - scan.frame_at) * 1000)
        health = source.health()
    print(f"scan-to-cart: {len(shown)} products shown at {STREAM_FPS} fps 640x480, "
          f"{len(latencies)} added to the cart; camera dropped {health.camera.dropped} stale "
          f"frames; decode p50 {health.decode_ms_p50} ms")
    return latencies, len(shown), sum(qty.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=340)
    parser.add_argument("--seed", type=int, default=None, help="default: fresh each run")
    parser.add_argument("--scenes", type=int, default=200,
                        help="scenes of the per-scene figure (0: skip it)")
    parser.add_argument("--scene-frames", type=int, default=6,
                        help="frames per scene (6: 0.4 s at 15 fps)")
    parser.add_argument("--skip-frames", action="store_true",
                        help="skip the per-frame figure and the latency stream")
    parser.add_argument("--pi-factor", type=float, default=4.0,
                        help="divide the pipeline's time budget by this (the Pi's slowness)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
    cv2.setNumThreads(1)  # CPU time of one thread = the cost on one core
    started = time.perf_counter()
    scene = (run_sequences(args.scenes, args.scene_frames, seed + 2, args.pi_factor)
             if args.scenes > 0 else None)
    if args.skip_frames:
        print(f"total {time.perf_counter() - started:.0f} s")
        print(f"seed={seed} pi_factor={args.pi_factor}")
        if scene is not None:
            print(f"scene_false_reads={scene['scene_false']}")
            print(f"scene_rate={scene['scene_rate']:.3f} (per scene of {args.scene_frames} frames)")
        return 0
    result = run_decode(args.frames, seed, args.pi_factor)
    latencies, shown, added = asyncio.run(run_scan_to_cart(seed + 1))
    print(f"scan_to_cart_p50_ms={pct(latencies, 50):.1f} (shown {shown}, added {added})")
    print(f"total {time.perf_counter() - started:.0f} s")
    print(f"seed={seed} pi_factor={args.pi_factor}")
    if scene is not None:
        print(f"scene_zxing_rate={scene['scene_zxing']:.3f}")
        print(f"scene_false_reads={scene['scene_false']}")
        print(f"scene_rate={scene['scene_rate']:.3f} (per scene of {args.scene_frames} frames; "
              "decode_rate below is per frame)")
    print(f"baseline_best={result['baseline_best']:.3f}")
    print(f"both_every_frame_rate={result['both_rate']:.3f} (false reads "
          f"{result['both_false']})")
    print(f"false_reads={result['false_reads']}")
    print(f"scan_to_cart_p95_ms={pct(latencies, 95):.1f}")
    print(f"latency_ratio={result['latency_ratio']:.2f}")
    print(f"decode_rate={result['decode_rate']:.3f}")
    print(f"decode_gain={result['decode_rate'] / result['both_rate']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
