"""payment.* RPC handlers: parameter and method checks before any provider is called."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from cloud_bridge import rpc
from cloud_bridge.payments import rpc_handlers
from contract.wire.base import utcnow


def ctx_with(providers: dict) -> rpc.RpcContext:
    return rpc.RpcContext(store="S1", kiosk="K1", request_id="r1", method="payment.charge",
                          deadline=utcnow() + timedelta(seconds=10),
                          services=SimpleNamespace(payments=SimpleNamespace(providers=providers)))


CHARGE = {"order_no": "O1", "out_trade_no": "N0000001", "method": "alipay", "amount": 100,
          "auth_code": "281234567890123456"}
SETTLE = {"out_trade_no": "N0000001", "method": "alipay", "amount": 100}


@pytest.mark.parametrize("handler,params", [(rpc_handlers.charge, CHARGE),
                                            (rpc_handlers.settle, SETTLE)])
async def test_unconfigured_method_is_refused(handler, params):
    with pytest.raises(rpc.RpcFailure) as info:
        await handler(ctx_with({"wechat": object()}), params)
    assert info.value.code == "method_unavailable" and "alipay" in info.value.message


async def test_bad_params_reason_never_quotes_the_payment_code():
    code = "28" + "7" * 70
    with pytest.raises(rpc.RpcFailure) as info:
        await rpc_handlers.charge(ctx_with({"alipay": object()}), {**CHARGE, "auth_code": code})
    assert info.value.code == "bad_params" and "auth_code" in info.value.message
    assert "2877" not in info.value.message and "2877" not in str(info.value)
