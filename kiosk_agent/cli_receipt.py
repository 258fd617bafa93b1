"""``kiosk-agent receipt``: render one receipt as ESC/POS bytes and a PNG preview.

Works without any config file: the options default to the embedded config, and
``--config`` (when given) supplies the store name, kiosk id, paper and encoding.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``receipt`` subcommand."""
    p = subparsers.add_parser(
        "receipt",
        help="render a receipt (ESC/POS bytes and/or PNG preview) from an order JSON",
        description="Render the receipt of a wire OrderCompletedData JSON file.",
    )
    p.add_argument("--order", required=True, type=Path, help="OrderCompletedData JSON file")
    p.add_argument("--png", type=Path, help="write the PNG preview here")
    p.add_argument("--escpos", type=Path, help="write the exact ESC/POS bytes here")
    p.add_argument("--paper", type=int, choices=(58, 80), help="paper width in mm")
    p.add_argument("--encoding", choices=("gb18030", "gbk", "utf-8"), help="printer encoding")
    p.add_argument("--language", choices=("zh", "en", "both"), help="receipt language")
    p.add_argument("--reprint", action="store_true", help="mark as 重印 REPRINT")
    p.add_argument("--config", type=Path, help="agent config TOML (optional)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Render; exit 0 on success, 2 on bad input (one line on stderr)."""
    import json

    from pydantic import ValidationError

    from contract.wire.events import OrderCompletedData
    from drivers.receipt import layout_receipt, render_escpos, render_png
    from kiosk_agent.config import ConfigError, load_config
    from kiosk_agent.printing import receipt_options

    if not args.png and not args.escpos:
        print("receipt: give --png and/or --escpos", file=sys.stderr)
        return 2
    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        print(f"receipt: {err}", file=sys.stderr)
        return 2
    try:
        raw = json.loads(args.order.read_text(encoding="utf-8"))
        if isinstance(raw, dict) and isinstance(raw.get("data"), dict) and "order_no" not in raw:
            raw = raw["data"]  # a whole wire Event was given: use its data
        order = OrderCompletedData.model_validate(raw)
    except FileNotFoundError:
        print(f"receipt: {args.order}: file not found", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        print(f"receipt: {args.order}: cannot read JSON: {err}", file=sys.stderr)
        return 2
    except ValidationError as err:
        first = err.errors()[0]
        path = ".".join(str(p) for p in first.get("loc", ())) or "<root>"
        print(f"receipt: {args.order}: {path}: {first.get('msg')}", file=sys.stderr)
        return 2
    opts = receipt_options(cfg)
    opts = replace(opts, reprint=args.reprint, paper_mm=args.paper or opts.paper_mm,
                   encoding=args.encoding or opts.encoding, language=args.language or opts.language)
    layout = layout_receipt(order, opts)
    try:
        if args.escpos:
            args.escpos.write_bytes(render_escpos(layout))
        if args.png:
            render_png(layout).save(args.png, format="PNG")
    except OSError as err:
        print(f"receipt: cannot write output: {err}", file=sys.stderr)
        return 1
    return 0
