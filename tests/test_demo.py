"""`python -m demo` end to end: exit 0 and the summary's numbers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _summary(stdout: str, head: str = "SUMMARY") -> dict[str, str]:
    lines = [ln for ln in stdout.splitlines() if ln.startswith(head + " ")]
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


def test_whole_system_demo_delivers_everything_exactly_once(tmp_path: Path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "demo", "--fast", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    summary = _summary(proc.stdout)
    assert summary["mode"] == "system", proc.stdout[-2000:]
    # Shoppers 1, 2 and 4, and the member's three sales (demo.member_journey).
    assert summary["orders"] == summary["cloud_orders"] == "6"
    # WeChat + Alipay + the member's two WeChat sales through the cloud; stored value offline
    assert summary["payments"] == "4"
    assert summary["refunds"] == "1"   # executed by the bridge from the admin API request
    # The offline stored-value sale reached the member's balance ledger once.
    assert int(summary["stored_value_sale"]) > 0
    assert int(summary["stored_value_after"]) == (
        int(summary["stored_value_before"]) - int(summary["stored_value_sale"]))
    assert summary["parked"] == "1"
    assert summary["lost"] == "0" and summary["duplicates"] == "0"
    assert summary["delivered"] == summary["events"] and int(summary["events"]) >= 6
    assert "admin API: GET /api/v1/admin/orders/" in proc.stdout
    # The member: points earned, some redeemed at the kiosk and taken once by the cloud, the
    # birthday coupon used offline once; both ledgers balance.
    member = _summary(proc.stdout, "MEMBERS")
    assert int(member["points_earned"]) > 0
    assert member["points_redeemed"] == member["points_redeemed_at_kiosk"] != "0"
    assert member["points_ledger_sum"] == member["points_balance"]
    assert member["points_balanced"] == member["coupons_balanced"] == "yes"
    assert (member["coupons_issued"], member["coupons_used"]) == ("1", "1")
    assert member["coupon_used_offline"] == "yes" and member["slots_used"] == "1"
    assert list(out.glob("receipt-*.png"))
    # Every child process was stopped: nothing still runs with the demo's files.
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(out) not in ps


@pytest.mark.timeout(480)  # two kiosks built, updated and rolled back on a shared machine
def test_update_demo_rolls_out_in_stages_and_rolls_back_a_bad_release(tmp_path: Path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "demo", "--update", "--fast", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=450,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    summary = _summary(proc.stdout)
    assert summary["mode"] == "update" and summary["stages"] == "50,100"
    # The good release: kiosk1 first (stage 1), then kiosk2; both run it afterwards.
    assert summary["good_job"] == "completed" and summary["succeeded"] == "2"
    assert summary["first_stage"] == "kiosk1"
    assert summary["running_after_good"] == "1.1.0,1.1.0"
    # The bad release: rolled back on kiosk1, never sent to kiosk2, both still on 1.1.0.
    assert summary["bad_job"] == "aborted" and summary["rolled_back"] == "1"
    assert summary["untouched"] == "1"
    assert summary["running_after_bad"] == "1.1.0,1.1.0"
    assert "receipt renderer broken in this build" in proc.stdout
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(out) not in ps
