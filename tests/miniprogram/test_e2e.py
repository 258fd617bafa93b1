"""The mini-program end to end: its API client (Node, the modules the pages use) against
a real ``cloud-bridge serve`` process and a real ``cloud-bridge sandbox`` playing WeChat:
log in and join, see the member code, find a product, order, pay with JSAPI, see the
order paid (the sandbox's signed notification settled it), claim a kiosk receipt by its
QR, request an invoice; topped up at the counter and given a coupon, pay a second order
priced with the coupon from the stored value with a payment password (the coupon used). Needs only ``node`` (no npm packages)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess

import pytest

from cloud_bridge.db import Database
from cloud_bridge.ingest import store_events
from cloud_bridge.migrations import import_models

from ..cloud_bridge.bridge_helpers import order_event, receipt_token
from ..cloud_bridge.bridge_process import BridgeProcess, add_user, write_config
from ..cloud_bridge.mp_pay.sandbox_proc import payment_sandbox_env
from .test_api_client import MINIPROGRAM

__all__ = ["payment_sandbox_env"]  # fixture: WeChat Pay for the mini-program's payment

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(shutil.which("node") is None,
                                 reason="node is not installed (make test installs it)")]
FLOW_TIMEOUT_S = 60


@pytest.fixture
def bridge(tmp_path, payment_sandbox_env):
    """A bridge process (no MQTT, SQLite) with a kiosk order S1-0 its kiosk delivered."""
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}"

    async def seed() -> None:
        import_models()                   # every domain's tables, as the bridge has them
        async with Database(db_url) as db:
            await db.create_all()
            await store_events(db, [("s1", "k1", order_event("s1", "k1", 0, "S1-0").encode())],
                               worker="t", tz="Asia/Shanghai")

    asyncio.run(seed())
    cfg = write_config(tmp_path / "bridge.toml", db_url=db_url, worker="e2e", mqtt_port=None)
    made = add_user(cfg, "counter", "secret-counter", "head_office")   # tops up stored value
    assert made.returncode == 0, made.stderr
    env = {"BRIDGE_MEMBER_SIGNING_KEY": os.urandom(32).hex(), **payment_sandbox_env}
    proc = BridgeProcess(cfg, tmp_path / "bridge.log", env=env).start()
    try:
        yield proc, json.loads(open(payment_sandbox_env["CLOUD_BRIDGE_PAYMENTS"]).read())
    finally:
        proc.stop()


def run_flow(base: str, wechat: dict, **extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, BRIDGE_URL=base, PAY_SANDBOX_URL=wechat["base_url"],
               MP_APP_ID=wechat["appid"], LOGIN_CODE="e2e-shopper", STORE="s1",
               RECEIPT_QR=f"https://mp.example.com/r/S1-0?t={receipt_token('S1-0')}")
    env.update(extra)
    return subprocess.run(["node", "e2e/flow.js"], cwd=MINIPROGRAM, env=env,
                          capture_output=True, text=True, timeout=FLOW_TIMEOUT_S)


def test_a_shopper_joins_orders_pays_claims_and_asks_for_an_invoice(bridge):
    proc, manifest = bridge
    out = run_flow(proc.url, manifest["wechat"], ADMIN_USER="counter",
                   ADMIN_SECRET="secret-counter", PAY_PASSWORD="205813")
    assert out.returncode == 0, out.stderr + proc.log_path.read_text(errors="replace")[-3000:]
    seen = json.loads(out.stdout)
    assert seen["member"] == {"phone_bound": True, "level": seen["member"]["level"]}
    assert seen["member_code"]["kind"] == "S1" and 60 < seen["member_code"]["expires_in_s"] <= 180
    assert seen["stores"] == ["s1"]
    assert seen["order"]["status"] == "created" and seen["order"]["total"] == 500  # 2 x coke 2.50
    assert seen["payment"] == "paid"
    assert seen["paid"] == {"status": "paid", "paid_at": True}
    assert seen["claimed"] == "S1-0"
    assert seen["my_orders"] == sorted([seen["order"]["order_no"], "S1-0"])
    assert seen["invoice"] == {"status": "requested", "amount": 500, "read_back": "requested"}
    # The second order (one coke, 2.50) priced with the claimed 1-off-2 coupon: 1.50.
    assert seen["stored_value"] == {"status": "paid", "amount": 150, "balance": 1850}
    assert seen["coupon"] == {"status": "used", "order": True, "discount_total": 100}


def test_a_forged_receipt_claims_nothing(bridge):
    """The same visit with a receipt QR whose token is not the receipt's: the claim is
    refused (404) and the flow stops there, with the order paid before it."""
    proc, manifest = bridge
    out = run_flow(proc.url, manifest["wechat"],
                   RECEIPT_QR="https://mp.example.com/r/S1-0?t=" + "A" * 22)
    assert out.returncode == 1 and "e2e failed: Error: 404" in out.stderr
    seen = json.loads(out.stdout)
    assert seen["paid"]["status"] == "paid" and "claimed" not in seen
