"""Receipt rendering time per receipt, on this machine and estimated for the Pi.

Run: ``.venv/bin/python bench/receipt.py [--rounds N]``

* receipt: ``layout_receipt`` + ``render_escpos`` for the reference order (80 mm, both
  languages): what the print spooler does per receipt on the checkout path, timed in
  five rounds of N calls (median and range printed).
* pi estimate: the Pi 4 is about four times slower than this machine (``--pi-factor``).
* png: ``render_png`` of the same layout (previews and the CLI only, never on the
  checkout path).

There is no meaningful library baseline for "lay a Chinese receipt out and encode it"
(python-escpos prints text it is given; it does no CJK layout), so the figure is set
against what the kiosk has to spare: the last line is ``receipt_frame_ratio=`` = the
Pi estimate over one camera frame interval at 15 fps (67 ms). Goal: well under 0.1 (a
receipt costs less than a tenth of a frame's time on the Pi).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contract.wire.events import OrderCompletedData  # noqa: E402
from drivers.receipt import ReceiptOptions, layout_receipt, render_escpos, render_png  # noqa: E402

#: One camera frame interval at 15 fps: what a receipt's rendering competes with.
FRAME_MS = 1000 / 15
ORDER = ROOT / "tests" / "drivers" / "golden" / "order_reference.json"


def per_call_ms(fn, rounds: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) * 1000 / rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--pi-factor", type=float, default=4.0)
    args = parser.parse_args()
    order = OrderCompletedData.model_validate(json.loads(ORDER.read_text(encoding="utf-8")))
    opts = ReceiptOptions(language="both")
    layout = layout_receipt(order, opts)

    def receipt() -> bytes:
        return render_escpos(layout_receipt(order, opts))

    rounds = [per_call_ms(receipt, args.rounds) for _ in range(5)]
    ms = statistics.median(rounds)
    png_ms = per_call_ms(lambda: render_png(layout), max(3, args.rounds // 50))
    pi_ms = ms * args.pi_factor
    print(f"receipt_ms={ms:.3f} (median of 5 x {args.rounds}; range "
          f"{min(rounds):.3f}-{max(rounds):.3f}); {len(receipt())} bytes")
    print(f"receipt_pi_estimate_ms={pi_ms:.2f} (x{args.pi_factor:g})")
    print(f"png_preview_ms={png_ms:.1f}")
    print(f"receipt_frame_ratio={pi_ms / FRAME_MS:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
