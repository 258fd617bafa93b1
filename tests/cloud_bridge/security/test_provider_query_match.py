"""A provider's query answer about ANOTHER trade (a misrouting proxy, a cache, a bug) must
never settle ours: over HTTP against the WeChat Pay and Alipay sandboxes, with answers
signed by the sandbox's real keys."""

from __future__ import annotations

import pytest

from cloud_bridge.payments.providers.base import ChargeRequest
from tests.cloud_bridge.payments_fixtures import (
    alipay_code,
    providers,
    sandbox,
    sandbox_keys,
    trade_no,
    wechat_code,
)

__all__ = ["providers", "sandbox", "sandbox_keys"]  # fixtures
pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("method", ["wechat", "alipay"])
async def test_an_answer_about_another_trade_is_not_trusted(providers, sandbox, method):
    p = providers[method]
    gw = sandbox.wechat if method == "wechat" else sandbox.alipay
    code = wechat_code if method == "wechat" else alipay_code
    paid, ours = trade_no("P"), trade_no("Q")
    out = await p.charge(ChargeRequest(out_trade_no=paid, amount=900, auth_code=code()))
    for _ in range(20):  # a busy machine can outlast the 0.5 s request timeout: ask again
        if out.status == "paid":
            break
        out = await p.query(paid)
    assert out.status == "paid"
    # Our trade's query is answered with the paid trade's (signed) record.
    gw.ledger.trades[ours] = gw.ledger.trades[paid]
    out = await p.query(ours)
    assert out.status == "unknown" and out.reason == "mismatched_trade"
    assert out.amount is None and out.provider_ref is None
