"""Refunds and reconciliation against the sandbox bills; the ``sandbox`` CLI manifest."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from cloud_bridge.payments.providers.base import ChargeRequest
from cloud_bridge.payments.reconcile import reconcile_day
from cloud_bridge.payments.refunds import RefundError, RefundService
from cloud_bridge.payments.store import business_date
from contract.wire.payments import ChargeParams
from tests.cloud_bridge.payments_fixtures import alipay_code, trade_no, wechat_code

pytestmark = pytest.mark.timeout(60)


def cp(method: str, code: str, amount: int) -> ChargeParams:
    no = trade_no()
    return ChargeParams(order_no="O" + no, out_trade_no=no, method=method, amount=amount,
                        auth_code=code)


@pytest.mark.parametrize("method,code_fn", [("wechat", wechat_code), ("alipay", alipay_code)])
async def test_refunds_partial_full_idempotent_never_exceed(pay_service, sandbox, method,
                                                            code_fn):
    p = cp(method, code_fn(), 1000)
    assert (await pay_service.charge("S1", "K1", p))["status"] == "paid"
    refunds = RefundService(pay_service)
    no = p.out_trade_no
    r1 = await refunds.refund(no, no + "R1", 300, "退货")
    assert r1["status"] == "success"
    assert (await refunds.refund(no, no + "R1", 300))["status"] == "success"   # idempotent
    with pytest.raises(RefundError) as err:
        await refunds.refund(no, no + "R1", 400)
    assert err.value.code == "refund_mismatch"
    with pytest.raises(RefundError) as err:
        await refunds.refund(no, no + "R2", 701)
    assert err.value.code == "exceeds_paid"
    # Concurrent requests for the remainder: only one can win.
    results = await asyncio.gather(*(refunds.refund(no, f"{no}C{i}", 700) for i in range(3)),
                                   return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, dict) and r["status"] == "success") == 1
    assert (await pay_service.store.get(no))["refunded"] == 1000
    assert getattr(sandbox, method).ledger.trades[no].refunded == 1000


async def test_unknown_refund_is_queried_before_retry(pay_service, sandbox):
    from cloud_bridge.payments.sandbox import FaultRule

    p = cp("wechat", wechat_code(), 900)
    await pay_service.charge("S1", "K1", p)
    sandbox.wechat.ledger.faults.add(FaultRule("timeout", op="refund"))
    refunds = RefundService(pay_service)
    first = await refunds.refund(p.out_trade_no, "RF" + p.out_trade_no, 900)
    assert first["status"] == "unknown"
    again = await refunds.refund(p.out_trade_no, "RF" + p.out_trade_no, 900)
    assert again["status"] == "success"
    assert sandbox.wechat.ledger.trades[p.out_trade_no].refunded == 900
    assert len(sandbox.wechat.ledger.trades[p.out_trade_no].refunds) == 1


async def test_reconcile_lists_every_mismatch(pay_service, sandbox):
    good = cp("wechat", wechat_code(), 500)
    await pay_service.charge("S1", "K1", good)
    a = cp("alipay", alipay_code(), 700)
    await pay_service.charge("S1", "K1", a)
    await RefundService(pay_service).refund(a.out_trade_no, "R" + a.out_trade_no, 200)
    # Money taken without a stored payment (e.g. recorded on another system).
    stray = trade_no()
    await pay_service.providers["wechat"].charge(ChargeRequest(stray, 300, auth_code=wechat_code()))
    # A stored payment the provider never billed.
    ghost = trade_no()
    await pay_service.store.create(status="paid", out_trade_no=ghost, order_no="OG", store="S1",
                                   kiosk="K1", method="alipay", amount=100, currency="CNY")
    # An amount that differs.
    bad = cp("wechat", wechat_code(), 800)
    await pay_service.charge("S1", "K1", bad)
    await pay_service.store.transition(bad.out_trade_no, ("paid",), "paid", amount=900)

    report = await reconcile_day(pay_service, business_date())
    got = {(m.out_trade_no, m.reason) for m in report.mismatches}
    assert got == {(stray, "missing_in_db"), (ghost, "missing_in_bill"),
                   (bad.out_trade_no, "amount_mismatch")}
    assert report.checked["wechat"] == 3 and report.checked["alipay"] == 2


async def test_sandbox_cli_prints_one_manifest(tmp_path):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cloud_bridge.cli", "sandbox", "--keys-dir", str(tmp_path / "k"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        manifest = json.loads(line)
        assert set(manifest) == {"wechat", "alipay", "card", "paypal"}
        assert (tmp_path / "k" / "wechat_merchant_key.pem").stat().st_mode & 0o077 == 0
        from cloud_bridge.payments.config import PaymentSettings, build_providers

        provs = build_providers(PaymentSettings.from_manifest(manifest))
        out = await provs["wechat"].charge(ChargeRequest(trade_no(), 1, auth_code=wechat_code()))
        assert out.status == "paid"
        for p in provs.values():
            await p.close()
    finally:
        proc.terminate()
        await proc.wait()


async def test_reconcile_takes_providers_from_the_bridge_config(tmp_path, sandbox,
                                                                monkeypatch):
    """No separate payments file: ``[payments] manifest`` of the bridge config is enough."""
    from cloud_bridge.config import load_config
    from cloud_bridge.payments.cli import load_settings

    monkeypatch.delenv("CLOUD_BRIDGE_PAYMENTS", raising=False)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(sandbox.manifest))
    conf = tmp_path / "bridge.toml"
    conf.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/b.db"\n'
                    f'[payments]\nmanifest = "{manifest}"\n')
    settings = load_settings(None, load_config(conf).payments)
    assert settings.wechat is not None and settings.alipay is not None
    bare = tmp_path / "bare.toml"
    bare.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/b.db"\n')
    with pytest.raises(SystemExit, match="no providers"):
        load_settings(None, load_config(bare).payments)
