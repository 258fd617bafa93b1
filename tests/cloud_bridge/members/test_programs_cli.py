"""``cloud-bridge members programs-sync`` as staff schedule it: a paid purchase activated
once, however often the sweep runs."""

from __future__ import annotations

import asyncio

from cloud_bridge.cli import main

from ..bridge_process import write_config


def test_programs_sync_activates_a_paid_purchase_once(tmp_path, db_url, capsys):
    from cloud_bridge import orders
    from cloud_bridge.db import Database
    from cloud_bridge.members import paid
    from cloud_bridge.members.models import MemberRecord
    from cloud_bridge.members.service import register

    async def seed() -> str:
        async with Database(db_url) as db, db.session() as s:
            plan = await paid.create_plan(s, code="silver", name_zh="银卡", name_en="Silver",
                                          level="silver", price=1000, renewal_price=900,
                                          duration_days=30)
            m, _ = await register(s, appid="wx", openid="o-cli")
            _, order = await paid.purchase(s, m, "o-cli", plan.id, "s1", "Asia/Shanghai")
            await orders.mark_paid(s, order.order_no, "test")
            return m.id

    member_id = asyncio.run(seed())
    cfg = write_config(tmp_path / "bridge.toml", db_url=db_url, worker="cli", mqtt_port=None)
    assert main(["members", "programs-sync", "--config", str(cfg)]) == 0
    assert "activated=1" in capsys.readouterr().out
    assert main(["members", "programs-sync", "--config", str(cfg)]) == 0
    assert "activated=0" in capsys.readouterr().out

    async def level() -> str:
        async with Database(db_url) as db, db.read() as s:
            return (await s.get(MemberRecord, member_id)).level

    assert asyncio.run(level()) == "silver"
