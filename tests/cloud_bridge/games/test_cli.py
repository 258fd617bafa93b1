"""``cloud-bridge games audit`` as an auditor runs it: the draws of a game as CSV."""

from __future__ import annotations

import asyncio
import csv
import io

from cloud_bridge.cli import main

from ..bridge_process import write_config
from .conftest import fallback, game_body, points_prize


def test_audit_writes_every_draw(tmp_path, db_url, capsys):

    from cloud_bridge.db import Database
    from cloud_bridge.games import service
    from cloud_bridge.games.schemas import LuckyDrawBody
    from cloud_bridge.members.service import register

    body = LuckyDrawBody.model_validate(game_body([points_prize(1, 2), fallback(1)]))

    async def seed() -> int:
        async with Database(db_url) as db:
            async with db.session() as s:
                fields = body.model_dump()
                prizes = fields.pop("prizes")
                game = await service.create(s, created_by="t", prizes=prizes, **fields)
                await service.start(s, game.id)
                m, _ = await register(s, appid="wx", openid="o-audit")
            for i in range(3):
                async with db.session() as s:
                    await service.draw(s, game.id, m.id, f"r{i}", "Asia/Shanghai")
            return game.id

    game_id = asyncio.run(seed())
    cfg = write_config(tmp_path / "bridge.toml", db_url=db_url, worker="cli", mqtt_port=None)
    assert main(["games", "audit", "--game", str(game_id), "--config", str(cfg)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["request_id"] for r in rows] == ["r0", "r1", "r2"]
    assert all(int(r["roll"]) < int(r["total_weight"]) for r in rows)
    out = tmp_path / "audit.csv"
    assert main(["games", "audit", "--game", str(game_id), "--out", str(out),
                 "--config", str(cfg)]) == 0
    assert "3 draws written" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8").count("\n") == 4
    assert main(["games", "audit", "--game", "999", "--config", str(cfg)]) == 1
    assert "not found" in capsys.readouterr().err
