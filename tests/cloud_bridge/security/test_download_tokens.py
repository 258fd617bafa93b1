"""Download tokens expire: a price-book or bundle URL copied off the shop LAN is useless
a day later (403 with the reason), an expiry moved by hand breaks the MAC (401), and
the bridge re-announces every store's pointer with a fresh token so that a kiosk
always finds a live one. Against a real bridge on a port and a real Mosquitto."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiomqtt
import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud_bridge import api_catalog
from cloud_bridge.app import create_app
from cloud_bridge.jobs import runtime
from cloud_bridge.security import download_tokens
from contract.signing import load_private_key
from contract.wire.base import decode
from contract.wire.shadow import CatalogPointer
from contract.wire.topics import store_catalog
from tests.cloud_bridge.jobs.conftest import boss, bridge_config, make_bundle
from tests.cloud_bridge.jobs.test_api import upload

from .test_catalog_credentials import bridge as bridge  # the fixture

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
DAY = 24 * 3600


class _Clock:
    """``time.time`` of the token module, moved forward by the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    """The download tokens' clock (minting and checking alike)."""
    c = _Clock()
    monkeypatch.setattr(download_tokens, "time", c)
    return c


async def _get(http, url: str) -> tuple[int, str]:
    async with http.get(url) as r:
        return r.status, await r.text()


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.mark.parametrize("bridge", [True], indirect=True, ids=["signing-key"])
async def test_an_expired_book_token_is_403_and_a_moved_expiry_is_401(bridge, clock):
    b = bridge
    asked = time.time()  # before the token is minted: its expiry is a full TTL after this
    async with b.http.get("/api/v1/admin/stores/store1/catalog", headers=b.boss) as r:
        url = _local((await r.json())["url"])
    token = parse_qs(urlsplit(url).query)["token"][0]
    expires_at = int(token.split(".")[0])
    assert asked + download_tokens.TOKEN_TTL_S <= expires_at
    assert (await _get(b.http, url))[0] == 200

    clock.offset = expires_at - time.time() + 1  # a second past its expiry
    status, body = await _get(b.http, url)
    assert status == 403 and "download token expired" in body
    # The expiry is under the MAC: moving it forward does not make a live token.
    moved = url.replace(f"token={expires_at}.", f"token={expires_at + 2 * DAY}.")
    assert (await _get(b.http, moved))[0] == 401
    # A token this bridge would never give (a month long) is refused even with the key.
    key = download_tokens._key_from_secret(os.environ["BRIDGE_COMMAND_SIGNING_KEY"])
    far = download_tokens.mint(key, ("store1", "v1"), int(clock.time()) + 30 * DAY)
    assert (await _get(b.http, f"/api/v1/catalog/store1/v1?token={far}"))[0] == 401
    # Old-format tokens (no expiry) open nothing any more.
    assert (await _get(b.http, f"/api/v1/catalog/store1/v1?token={token.split('.')[1]}"))[
        0] == 401


@pytest.mark.parametrize("bridge", [True], indirect=True, ids=["signing-key"])
async def test_pointers_are_re_announced_with_a_fresh_token(bridge, clock, monkeypatch):
    b = bridge
    monkeypatch.setattr(api_catalog, "REANNOUNCE_S", 0.5)
    async with aiomqtt.Client("127.0.0.1", b.port, identifier="lan-listener",
                              protocol=aiomqtt.ProtocolVersion.V5) as listener:
        await listener.subscribe(store_catalog("store1"), qos=1)
        urls: list[str] = []

        async def next_url(differs_from: str | None) -> str:
            async for msg in listener.messages:
                url = decode(CatalogPointer, msg.payload).url
                urls.append(url)
                if url != differs_from:
                    return url
            raise AssertionError("no pointer")

        first = await asyncio.wait_for(next_url(None), 10)
        assert (await _get(b.http, _local(first)))[0] == 200
        clock.offset = 2 * DAY  # a kiosk that was off for two days
        assert (await _get(b.http, _local(first)))[0] == 403
        fresh = await asyncio.wait_for(next_url(first), 10)
        assert (await _get(b.http, _local(fresh)))[0] == 200


async def test_an_expired_bundle_token_is_403(db, client, signing_key, tmp_path, monkeypatch):
    h = await boss(client, db)
    sha = (await upload(client, h, make_bundle(tmp_path / "b.tar", signing_key)))["sha256"]
    key = runtime._token_key(client.bridge_config)
    good = runtime.make_token(key, "s1", "k1", sha)
    path = f"/api/v1/fleet/bundles/{sha}?store=s1&kiosk=k1&token="
    assert (await client.get(path + good)).status == 200
    old = runtime.make_token(key, "s1", "k1", sha, now=time.time() - 2 * DAY)
    r = await client.get(path + old)
    assert r.status == 403 and "download token expired" in await r.text()
    exp = good.split(".")[0]
    assert (await client.get(path + good.replace(exp, str(int(exp) + DAY), 1))).status == 401
    assert (await client.get(path.replace("k1", "k2") + good)).status == 401


@pytest.fixture
def signing_key(monkeypatch, tmp_path: Path):
    """The bridge's command signing key and a bundle directory (as the job tests)."""
    raw = os.urandom(32).hex()
    monkeypatch.setenv("BRIDGE_COMMAND_SIGNING_KEY", raw)
    monkeypatch.setenv("CLOUD_BRIDGE_BUNDLES", str(tmp_path / "bundles"))
    return load_private_key(raw.encode())


@pytest.fixture
async def client(db, db_url, signing_key):
    """A bridge HTTP server (no MQTT) with the command signing key."""
    cfg = bridge_config(db_url)
    async with TestClient(TestServer(create_app(cfg, db=db))) as c:
        c.bridge_config = cfg
        yield c

