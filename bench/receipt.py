"""Receipt rendering speed: our layout engine vs python-escpos' own text API.

Run: ``.venv/bin/python bench/receipt.py [--rounds N]``

* ours: ``layout_receipt`` + ``render_escpos`` for the reference order (80 mm, both
  languages): what the spooler does per receipt on the checkout path.
* escpos: the same lines sent through python-escpos' ``Dummy`` printer with
  ``set()`` + ``text()`` + native ``qr()`` + ``cut()`` (its usual way to print),
  with the text already laid out (so the baseline does no layout work at all).
* png: ``render_png`` of the same layout (previews/CLI only, never on the hot path).

The last line is ``receipt_render_ratio=<ours ms / escpos ms>``: the price of doing
the whole layout (CJK column widths, wrapping, encoding checks) over only pushing
finished lines through python-escpos. Goal: ``ours_ms`` under 2 ms (a receipt costs
less than decoding one camera frame), whatever the ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contract.wire.events import OrderCompletedData  # noqa: E402
from drivers.receipt import ReceiptOptions, layout_receipt, render_escpos, render_png  # noqa: E402
from drivers.receipt.ops import QrCode, Text  # noqa: E402

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
    args = parser.parse_args()
    order = OrderCompletedData.model_validate(json.loads(ORDER.read_text(encoding="utf-8")))
    opts = ReceiptOptions(language="both")
    layout = layout_receipt(order, opts)

    from escpos.printer import Dummy

    def ours() -> bytes:
        return render_escpos(layout_receipt(order, opts))

    def escpos() -> bytes:
        p = Dummy()
        p.magic.force_encoding("CP437")  # escpos has no GB18030 code page; raw bytes instead
        for op in layout.ops:
            if isinstance(op, Text):
                p.set(align=op.align, bold=op.bold, double_height=op.size != "normal",
                      double_width=op.size == "big")
                p._raw(op.text.encode("gb18030") + b"\n")
            elif isinstance(op, QrCode):
                p.qr(op.data, native=True, size=op.module)
        p.cut()
        return p.output

    ours_ms = per_call_ms(ours, args.rounds)
    escpos_ms = per_call_ms(escpos, args.rounds)
    png_ms = per_call_ms(lambda: render_png(layout), max(3, args.rounds // 50))
    print(f"ours_ms={ours_ms:.3f}")
    print(f"escpos_ms={escpos_ms:.3f}")
    print(f"png_ms={png_ms:.1f}")
    print(f"receipt_render_ratio={ours_ms / escpos_ms:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
