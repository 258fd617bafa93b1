"""`python -m demo` end to end: exit 0 and the summary's numbers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _summary(stdout: str) -> dict[str, str]:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("SUMMARY ")]
    assert lines, stdout[-3000:]
    return dict(re.findall(r"(\w+)=(\S+)", lines[-1]))


def test_local_demo_sells_on_fakes(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "demo", "--local", "--fast", "--out", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    summary = _summary(proc.stdout)
    assert summary["mode"] == "local"
    assert summary["orders"] == "2"
    assert summary["payments"] == "2"
    assert summary["parked"] == "1"
    assert "请出示付款码" in proc.stdout  # the customer display asked for the payment code
    assert list((tmp_path / "out").glob("receipt-*.png"))
