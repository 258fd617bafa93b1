"""``kiosk-agent decode FILE...``: decode images with the kiosk's pipeline (staff diagnostic).

Needs no config file. Prints one JSON line per file::

    {"file": "a.png", "codes": [{"text": "6901234567892", "symbology": "EAN13",
     "kind": "product", "confident": true}], "ms": 3.1}

``codes`` is empty when nothing is found; an unreadable file gets an ``"error"``
field and the exit status is 1. Text policy: product codes and staff badges are
printed as-is; payment codes (WeChat/Alipay), member codes and anything that
merely looks like a payment code are printed masked (``1345************12``):
they are one-time secrets, and terminal scrollback and pasted logs are "disk".
Member codes are classified with the key from ``load_secret("member_code_key")``
when one is set. ``confident: false`` marks a 1D read that the kiosk would
confirm on a second frame before using it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common.jsontypes import JsonObject


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("decode", help="decode barcodes in image files (JSON lines)")
    p.add_argument("files", nargs="+", metavar="FILE", help="image files (png, jpg, ...)")
    p.add_argument("--engine", choices=("pipeline", "zxing", "pyzbar"), default="pipeline",
                   help="decoder to use (default: the kiosk's pipeline)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    import cv2

    from contract import codes
    from drivers.decoding import DecodePipeline, DecoderUnavailable, PyzbarDecoder, ZxingDecoder
    from kiosk_agent.config import member_code_key

    try:
        decoder = {"pipeline": DecodePipeline, "zxing": ZxingDecoder,
                   "pyzbar": PyzbarDecoder}[args.engine]()
    except DecoderUnavailable as err:
        print(f"kiosk-agent decode: {err}", file=sys.stderr)
        return 2
    member_key = member_code_key()
    status = 0
    for name in args.files:
        line: JsonObject = {"file": name}
        image = cv2.imread(name, cv2.IMREAD_COLOR) if Path(name).is_file() else None
        if image is None:
            line.update(codes=[], ms=0.0, error="cannot read image")
            status = 1
        else:
            if isinstance(decoder, DecodePipeline):
                decoder = DecodePipeline(zxing=decoder.zxing, pyzbar=decoder.pyzbar)  # no ROI
            t0 = time.perf_counter()
            reads = decoder.decode(image)
            ms = (time.perf_counter() - t0) * 1000
            found = []
            for r in reads:
                kind = codes.classify(r.text, r.symbology, member_key=member_key)
                found.append({"text": codes.display_text(r.text, kind),
                              "symbology": r.symbology, "kind": kind,
                              "confident": r.confident})
            line.update(codes=found, ms=round(ms, 2))
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return status
