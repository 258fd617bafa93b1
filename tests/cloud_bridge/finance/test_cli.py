"""``cloud-bridge finance post | report | close`` on a real database file."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from cloud_bridge.cli import main
from cloud_bridge.db import Database

from ..bridge_process import write_config
from .helpers import ingest_sales, sale_data

NOV = datetime(2026, 11, 3, 4, 0, tzinfo=UTC)


def _seed(url: str) -> None:
    async def go() -> None:
        async with Database(url) as db:
            await ingest_sales(db, "s1", [
                sale_data("s1-k1-1", [("milk", 2, 565, 1300)], [("wechat", 1130)], NOV),
                sale_data("s1-k1-2", [("tea", 1, 1090, 900)], [("cash", 1090)], NOV)])
            await ingest_sales(db, "s2", [
                sale_data("s2-k1-1", [("tea", 1, 1090, 900)], [("cash", 1090)], NOV)])

    asyncio.run(go())


def test_post_report_and_close(db_url, tmp_path, capsys):
    _seed(db_url)
    cfg = str(write_config(tmp_path / "bridge.toml", db_url=db_url, worker="t",
                           mqtt_port=None))
    assert main(["finance", "post", "--config", cfg]) == 0
    assert json.loads(capsys.readouterr().out) == {"posted": {"sale": 3}}
    assert main(["finance", "report", "--kind", "income", "--period", "2026-11", "--store",
                 "s1", "--config", cfg]) == 0
    out = capsys.readouterr().out
    assert "利润表 Income statement | s1 | 2026-11-01..2026-11-30" in out
    assert next(ln for ln in out.splitlines() if "Net profit" in ln).endswith("20.00")
    pdf = tmp_path / "chain.pdf"
    assert main(["finance", "report", "--kind", "balance", "--period", "2026-11", "--format",
                 "pdf", "--out", str(pdf), "--config", cfg]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    assert main(["finance", "report", "--kind", "income", "--period", "2026-14",
                 "--config", cfg]) == 2
    capsys.readouterr()
    # s2 took cash only: nothing a provider must confirm, the day closes.
    assert main(["finance", "close", "--store", "s2", "--date", "2026-11-03",
                 "--config", cfg]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["closed"] is True
    # s1 has a WeChat sale and no bill to check it against: it stays open.
    assert main(["finance", "close", "--store", "s1", "--date", "2026-11-03",
                 "--config", cfg]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "missing_at_provider\twechat" in out[0]
    assert json.loads(out[-1])["open"] == 1
    assert main(["finance", "close", "--store", "s2", "--date", "2026-11-03",
                 "--config", cfg]) == 1  # closed already


async def test_settle_posts_a_days_fees_and_settlement_once(pay_service, sandbox, db_url,
                                                            tmp_path, capsys):
    from cloud_bridge.payments.store import business_date
    from contract.wire.payments import ChargeParams
    from tests.cloud_bridge.payments_fixtures import trade_no, wechat_code

    no = trade_no("s1-")
    p = ChargeParams(order_no="s1-k1-8", out_trade_no=no, method="wechat", amount=2000,
                     auth_code=wechat_code())
    assert (await pay_service.charge("s1", "k1", p))["status"] == "paid"
    day = business_date(datetime.now(UTC))
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(sandbox.manifest))
    cfg = str(write_config(tmp_path / "bridge.toml", db_url=db_url, worker="t",
                           mqtt_port=None))
    args = ["finance", "settle", "--date", day, "--payments", str(manifest), "--config", cfg]
    # The CLI runs its own event loop: in a thread, so the sandbox here keeps answering.
    assert await asyncio.to_thread(main, args) == 0
    assert json.loads(capsys.readouterr().out) == {
        "date": day, "posted": {"provider_fee": 1, "settlement": 1}}
    assert await asyncio.to_thread(main, args) == 0
    assert json.loads(capsys.readouterr().out)["posted"] == {"provider_fee": 0, "settlement": 0}
