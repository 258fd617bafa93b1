"""Fixtures of the security tests: a running bridge HTTP server on the test database."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud_bridge import auth
from cloud_bridge.app import create_app
from cloud_bridge.config import BridgeConfig

ROOT = Path(__file__).resolve().parents[3]


def bridge_config(db_url: str) -> BridgeConfig:
    cfg = BridgeConfig()
    cfg.database.url = db_url
    cfg.mqtt.enabled = False
    cfg.mp.sandbox = True
    cfg.mp.price_book = ROOT / "config" / "pricebook.example.json"
    cfg.rpc.handler_modules = []
    return cfg


@pytest.fixture
async def client(db, db_url):
    """A running bridge HTTP server (no MQTT) on the test database, with its client."""
    cfg = bridge_config(db_url)
    server = TestServer(create_app(cfg, db=db))
    async with TestClient(server) as c:
        cfg.mp.code2session_url = str(server.make_url("/sandbox/sns/jscode2session"))
        yield c


async def add_user(db, name: str, role: str, store: str | None = None) -> str:
    """A console user whose secret is ``secret-<name>``; the secret."""
    async with db.session() as s:
        await auth.create_admin_user(s, name, f"secret-{name}", role, store)
    return f"secret-{name}"


async def login(client, name: str) -> dict[str, str]:
    r = await client.post("/api/v1/admin/session",
                          json={"username": name, "secret": f"secret-{name}"})
    assert r.status == 200, await r.text()
    return {"Authorization": "Bearer " + (await r.json())["token"]}
