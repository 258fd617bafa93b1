"""The bridge posts by itself: the finance runtime sweeps unposted sales periodically."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from cloud_bridge.app import create_app
from cloud_bridge.finance import runtime
from cloud_bridge.finance.models import JournalEntry

from ..test_api import api_config
from .helpers import ingest_sales, sale_data


async def test_running_bridge_posts_new_sales_without_being_asked(db, db_url, monkeypatch):
    monkeypatch.setattr(runtime, "POST_INTERVAL_S", 0.05)
    async with TestClient(TestServer(create_app(api_config(db_url), db=db))):
        await ingest_sales(db, "s1", [sale_data("s1-k1-1", [("milk", 1, 300, 1300)],
                                                [("cash", 300)], datetime.now(UTC))])
        async with asyncio.timeout(20):
            while True:
                async with db.session() as s:
                    if await s.scalar(select(func.count()).select_from(JournalEntry)):
                        break
                await asyncio.sleep(0.05)
