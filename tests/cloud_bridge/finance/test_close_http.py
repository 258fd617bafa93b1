"""The evening close as the demo and a finance clerk run it: over HTTP, against the
providers' bills served by the sandboxes, ending with the income statement line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloud_bridge import auth
from cloud_bridge.payments.store import business_date
from contract.wire.payments import ChargeParams
from tests.cloud_bridge.payments_fixtures import (  # noqa: F401
    alipay_code,
    sandbox,
    sandbox_keys,
    trade_no,
    wechat_code,
)
from tests.cloud_bridge.test_payments_api import pay_client  # noqa: F401

from ..test_api import add_user, login
from .helpers import ingest_sales, sale_data

pytestmark = pytest.mark.timeout(90)
F = "/api/v1/admin/finance"


async def test_day_close_over_http_with_sandbox_bills(pay_client, db):  # noqa: F811
    client = pay_client
    now = datetime.now(UTC)
    day = business_date(now)
    sales = []
    for i, (method, code, amount) in enumerate((("wechat", wechat_code(), 1130),
                                                ("alipay", alipay_code(), 2260))):
        no = trade_no("s1-")
        p = ChargeParams(order_no=f"s1-k1-{i}", out_trade_no=no, method=method,
                         amount=amount, auth_code=code)
        assert (await client.payments.charge("s1", "k1", p))["status"] == "paid"
        sales.append(sale_data(f"s1-k1-{i}", [("milk", 1, amount, 1300)],
                               [(method, amount, no)], now))
    await ingest_sales(db, "s1", sales)
    await add_user(db, "boss", auth.HEAD_OFFICE)
    boss = await login(client, "boss")
    assert (await client.post(f"{F}/post", headers=boss)).status == 200
    r = await client.post(f"{F}/closes", json={"store": "s1", "date": day}, headers=boss)
    assert r.status == 200, await r.text()
    close = await r.json()
    assert {"alipay", "wechat"} <= set(close["providers"])
    assert close["checked"] == 2 and close["open"] == 0, close["mismatches"]
    r = await client.post(f"{F}/closes/{close['id']}/close", headers=boss)
    assert (await r.json())["status"] == "closed"
    r = await client.get(f"{F}/reports/income", params={"period": day, "store": "s1"},
                         headers=boss)
    f = (await r.json())["figures"]
    # 1000 + 2000 net of 13 % VAT; the fees from the bills at 0.60 %: WeChat 0.07 on
    # 11.30, Alipay 0.14 on 22.60 (its zipped GBK bill's 服务费 column).
    assert f["revenue"] == 3000 and f["expenses"] == 7 + 14 and f["net_profit"] == 2979


async def test_settlements_over_http(pay_client, db):  # noqa: F811
    client = pay_client
    now = datetime.now(UTC)
    day = business_date(now)
    no = trade_no("s1-")
    p = ChargeParams(order_no="s1-k1-5", out_trade_no=no, method="wechat", amount=1130,
                     auth_code=wechat_code())
    assert (await client.payments.charge("s1", "k1", p))["status"] == "paid"
    await add_user(db, "boss", auth.HEAD_OFFICE)
    await add_user(db, "fin1", auth.FINANCE, "s1")
    boss, fin1 = await login(client, "boss"), await login(client, "fin1")
    url = f"{F}/settlements"
    assert (await client.post(url, json={"date": "2026-02-30"}, headers=boss)).status == 400
    assert (await client.post(url, json={"date": day}, headers=fin1)).status == 403
    r = await client.post(url, json={"date": day}, headers=boss)
    assert r.status == 200, await r.text()
    assert await r.json() == {"provider_fee": 1, "settlement": 1}
    again = await client.post(url, json={"date": day}, headers=boss)
    assert await again.json() == {"provider_fee": 0, "settlement": 0}
    r = await client.get(f"{F}/accounts", params={"store": "s1"}, headers=boss)
    assert r.status == 200
