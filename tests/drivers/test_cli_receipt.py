"""``kiosk-agent receipt``: bytes and PNG from an order file, no config needed."""

from __future__ import annotations

import json

from PIL import Image

from drivers.receipt import ReceiptOptions, layout_receipt, render_escpos
from kiosk_agent.cli import build_parser

from .conftest import GOLDEN

ORDER = GOLDEN / "order_reference.json"


def run(*argv: str) -> int:
    parser = build_parser(("kiosk_agent.cli_receipt",))
    args = parser.parse_args(["receipt", *argv])
    return args.func(args)


def test_receipt_cli_writes_golden_bytes_and_png(tmp_path):
    png, bin_ = tmp_path / "r.png", tmp_path / "r.bin"
    assert run("--order", str(ORDER), "--png", str(png), "--escpos", str(bin_)) == 0
    assert bin_.read_bytes() == (GOLDEN / "receipt_80mm_zh.bin").read_bytes()
    with Image.open(png) as img:
        assert img.width == 576 and img.height > 1000


def test_receipt_cli_options(tmp_path, reference_order):
    bin_ = tmp_path / "r.bin"
    assert run("--order", str(ORDER), "--escpos", str(bin_), "--paper", "58", "--encoding", "gbk",
               "--language", "both") == 0
    assert bin_.read_bytes() == (GOLDEN / "receipt_58mm_both_gbk.bin").read_bytes()
    assert run("--order", str(ORDER), "--escpos", str(bin_), "--reprint", "--encoding", "utf-8",
               "--language", "en") == 0
    assert bin_.read_bytes() == (GOLDEN / "receipt_80mm_en_utf8_reprint.bin").read_bytes()
    # a whole wire Event (data inside) is accepted too
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"v": 1, "type": "order.completed", "data": json.loads(
        ORDER.read_text(encoding="utf-8"))}), encoding="utf-8")
    assert run("--order", str(event), "--escpos", str(bin_)) == 0
    assert bin_.read_bytes() == render_escpos(layout_receipt(reference_order, ReceiptOptions()))


def test_receipt_cli_bad_input(tmp_path, capsys):
    out = tmp_path / "r.bin"
    assert run("--order", str(tmp_path / "missing.json"), "--escpos", str(out)) == 2
    assert "file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"order_no": "x"}', encoding="utf-8")
    assert run("--order", str(bad), "--escpos", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("receipt: ") and err.count("\n") == 1
    assert run("--order", str(ORDER)) == 2  # nothing to write
    assert not out.exists()


def test_kiosk_agent_receipt_entry_point(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "r.bin"
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk_agent.cli", "receipt", "--order", str(ORDER), "--escpos",
         str(out), "--png", str(tmp_path / "r.png")],
        capture_output=True, text=True, timeout=60, cwd=GOLDEN.parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == (GOLDEN / "receipt_80mm_zh.bin").read_bytes()
