"""``kiosk-agent decode FILE...`` (drivers/cli_decode.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np

from drivers import testimages
from kiosk_agent.cli import main

WECHAT = "134567890123456712"


def _write(path, text, symbology, module_px=2.5):
    cv2.imwrite(str(path), testimages.simple_frame(text, symbology, module_px=module_px))
    return str(path)


def test_decode_prints_one_json_line_per_file(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("KIOSK_MEMBER_CODE_KEY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    ean = _write(tmp_path / "ean.png", "6901234567892", "EAN13")
    pay = _write(tmp_path / "pay.png", WECHAT, "CODE128")
    badge = _write(tmp_path / "badge.png", "STAFF:s001", "QRCODE", module_px=5)
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), np.full((120, 160, 3), 200, np.uint8))
    status = main(["decode", ean, pay, badge, str(empty)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 0
    assert [x["file"] for x in lines] == [ean, pay, badge, str(empty)]
    assert lines[0]["codes"] == [{"text": "6901234567892", "symbology": "EAN13",
                                  "kind": "product", "confident": True}]
    assert lines[1]["codes"][0]["kind"] == "wechat"
    assert lines[1]["codes"][0]["text"] == "1345************12"  # masked: a one-time secret
    assert lines[2]["codes"][0]["text"] == "STAFF:s001"
    assert lines[3]["codes"] == []
    assert all(isinstance(x["ms"], float) for x in lines)


def test_unreadable_file_is_reported_and_fails(tmp_path, capsys) -> None:
    bad = tmp_path / "not-an-image.png"
    bad.write_bytes(b"garbage")
    status = main(["decode", str(bad), str(tmp_path / "missing.jpg")])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 1
    assert [x["codes"] for x in lines] == [[], []]
    assert all("error" in x for x in lines)


def test_console_script_runs_without_config(tmp_path) -> None:
    ean = _write(tmp_path / "ean.png", "96385074", "EAN8")
    out = subprocess.run(
        [sys.executable, "-m", "kiosk_agent.cli", "decode", "--engine", "zxing", ean],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["codes"][0]["text"] == "96385074"
