"""Fixtures of the fleet job tests: a bridge HTTP server with a command signing key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud_bridge import auth, fleet
from cloud_bridge.app import create_app
from cloud_bridge.config import BridgeConfig
from contract.bundles import build_bundle
from contract.signing import load_private_key
from contract.wire.presence import KioskStatus

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def signing_key(monkeypatch, tmp_path):
    """The bridge's command signing key (env credential) and a private bundle directory."""
    raw = os.urandom(32).hex()
    monkeypatch.setenv("BRIDGE_COMMAND_SIGNING_KEY", raw)
    monkeypatch.setenv("CLOUD_BRIDGE_BUNDLES", str(tmp_path / "bundles"))
    return load_private_key(raw.encode())


def bridge_config(db_url: str) -> BridgeConfig:
    cfg = BridgeConfig()
    cfg.database.url = db_url
    cfg.mqtt.enabled = False
    cfg.mp.sandbox = True
    cfg.mp.price_book = ROOT / "config" / "pricebook.example.json"
    cfg.rpc.handler_modules = []
    return cfg


@pytest.fixture
async def client(db, db_url, signing_key):
    cfg = bridge_config(db_url)
    async with TestClient(TestServer(create_app(cfg, db=db))) as c:
        c.bridge_config = cfg
        yield c


async def add_user(db, name: str, role: str, store: str | None = None) -> None:
    async with db.session() as s:
        await auth.create_admin_user(s, name, f"secret-{name}", role, store)


async def login(client, name: str) -> dict[str, str]:
    r = await client.post("/api/v1/admin/session",
                          json={"username": name, "secret": f"secret-{name}"})
    assert r.status == 200, await r.text()
    return {"Authorization": "Bearer " + (await r.json())["token"]}


async def boss(client, db) -> dict[str, str]:
    await add_user(db, "boss", auth.HEAD_OFFICE)
    return await login(client, "boss")


async def online(db, store: str, *kiosks: str, state: str = "online") -> None:
    """Kiosks as the fleet view knows them (their retained status, through the real path)."""
    async with db.session() as s:
        for k in kiosks:
            await fleet.apply_status(s, store, k, KioskStatus(state=state, version="1.0.0"))


def make_bundle(path: Path, key, version: str = "1.1.0", kind: str = "software") -> Path:
    files = ({"wheels/selfcheckout-1.1.0-py3-none-any.whl": b"PK\x03\x04 not really" * 100}
             if kind == "software" else {"kiosk.toml": b"[kiosk]\nstore_id = 's1'\n"})
    build_bundle(path, kind, version, files, key)
    return path
