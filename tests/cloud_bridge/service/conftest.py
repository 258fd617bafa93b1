"""Fixtures of the customer-service tests: a bridge HTTP server, staff and shoppers."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud_bridge import auth
from cloud_bridge.app import create_app

from ..test_api import add_user, api_config, login, mp_login, seed_kiosk_orders

A = "/api/v1/admin/service"
M = "/api/v1/mp/service"


@pytest.fixture(autouse=True)
def _files(tmp_path, monkeypatch):
    """Attachments go to this test's own directory (secrets hash cheaply: ../conftest)."""
    monkeypatch.setenv("CLOUD_BRIDGE_SERVICE_FILES", str(tmp_path / "files"))


async def start_client(db, db_url) -> TestClient:
    cfg = api_config(db_url)
    server = TestServer(create_app(cfg, db=db))
    client = TestClient(server)
    await client.start_server()
    cfg.mp.code2session_url = str(server.make_url("/sandbox/sns/jscode2session"))
    return client


@pytest.fixture
async def client(db, db_url):
    """A running bridge HTTP server (no MQTT) on the test database, with its client."""
    c = await start_client(db, db_url)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def people(client, db):
    """Kiosk orders in s1/s2; head office, clerks of s1 and s2; shoppers alice and bob."""
    await seed_kiosk_orders(db)
    await add_user(db, "boss", auth.HEAD_OFFICE)
    await add_user(db, "clerk1", auth.STORE_STAFF, "s1")
    await add_user(db, "clerk1b", auth.STORE_STAFF, "s1")
    await add_user(db, "clerk2", auth.STORE_STAFF, "s2")
    out = {name: await login(client, name) for name in ("boss", "clerk1", "clerk1b", "clerk2")}
    for name in ("alice", "bob", "carol"):
        out[name], out[name + "_openid"] = await mp_login(client, f"{name}-code")
    return out
