"""``cloud-bridge marketing campaign-create | campaign-end | campaign-results`` as head office
scripts them: a JSON file, a config file, exit statuses, the republished price book."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud_bridge.catalog import current_info, parse_upload, publish_book
from cloud_bridge.cli import main
from cloud_bridge.db import Database

from ..bridge_process import write_config

ROOT = Path(__file__).resolve().parents[3]


def test_a_scripted_campaign_is_published_ended_and_reported(tmp_path, db_url, capsys):
    cfg = write_config(tmp_path / "bridge.toml", db_url=db_url, worker="cli", mqtt_port=None)
    raw = (ROOT / "config" / "pricebook.example.json").read_bytes()

    async def publish() -> None:
        async with Database(db_url) as db, db.session() as s:
            await publish_book(s, "s1", parse_upload(raw), "test")

    async def current() -> tuple[str, list[str]]:
        from cloud_bridge.catalog import book_body

        async with Database(db_url) as db, db.read() as s:
            info = await current_info(s, "s1")
            body = await book_body(s, "s1", info.version)
        book = parse_upload(body[1])
        return book.version, [c.campaign_id for c in book.campaigns]

    asyncio.run(publish())
    now = datetime.now(UTC)
    spec = tmp_path / "mid-autumn.json"
    spec.write_text(json.dumps({
        "kind": "holiday", "name_zh": "中秋零食九折", "categories": ["snacks"], "off_bp": 1000,
        "starts_at": now.isoformat(), "ends_at": (now + timedelta(days=3)).isoformat()}),
        encoding="utf-8")
    assert main(["marketing", "campaign-create", "--file", str(spec), "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "campaign 1 (cmp1) created; price books republished for s1" in out
    assert "MQTT disabled" in out
    assert asyncio.run(current()) == ("demo-2024.1.c1", ["cmp1"])

    assert main(["marketing", "campaign-results", "--id", "1", "--config", str(cfg)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert (res["campaign_id"], res["orders"], res["redemption_rate"]) == ("cmp1", 0, 0.0)

    assert main(["marketing", "campaign-end", "--id", "1", "--config", str(cfg)]) == 0
    assert "campaign 1 ended" in capsys.readouterr().out
    assert asyncio.run(current()) == ("demo-2024.1.c2", [])
    assert main(["marketing", "campaign-end", "--id", "1", "--config", str(cfg)]) == 1
    assert "has ended" in capsys.readouterr().err

    spec.write_text(json.dumps({"kind": "holiday", "name_zh": "无期限", "off_bp": 1000,
                                "categories": ["snacks"]}), encoding="utf-8")
    assert main(["marketing", "campaign-create", "--file", str(spec), "--config", str(cfg)]) == 1
    assert "start and end" in capsys.readouterr().err
    assert main(["marketing", "campaign-results", "--id", "99", "--config", str(cfg)]) == 1
