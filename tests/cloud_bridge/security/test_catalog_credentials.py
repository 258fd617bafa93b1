"""A shop-LAN listener must never see a kiosk's MQTT secret on a price-book download.

The attack: the bridge's public URL is plain http; whoever sniffs the shop LAN reads
every request. Before, the kiosk sent its MQTT username and password as HTTP Basic on
every download. Now the signed pointer carries a per-book token and the kiosk never
sends credentials over http: the bridge (a real app on a port, a real Mosquitto, the
kiosk's real Link + CatalogSync) records every Authorization header it receives.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web

from cloud_bridge import auth
from cloud_bridge.app import create_app
from cloud_bridge.catalog import publish_book
from cloud_bridge.config import BridgeConfig
from cloud_bridge.provisioning import Deployment
from contract.signing import generate_signing_key, private_key_pem
from kiosk_agent.catalog_sync import CatalogSync
from kiosk_agent.journal import Journal
from kiosk_agent.link import Link
from tests.cloud_bridge.test_catalog_publish import EXAMPLE, WAIT_S, book, book_json
from tests.support.link_helpers import mqtt_section, shrink_timings
from tests.support.sockets import bound_socket, port_of
from tests.support.waiting import until

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    shrink_timings(monkeypatch)
    monkeypatch.setattr("kiosk_agent.catalog_sync.RETRY_MIN_S", 0.05)


async def _bridge(db, broker, tmp_path: Path, monkeypatch, signing_key: bool):
    deploy = Deployment(tmp_path / "deploy")
    password = (deploy.add_kiosk("store1", "kiosk1") / "mqtt_password").read_text().strip()
    if signing_key:
        monkeypatch.setenv("BRIDGE_COMMAND_SIGNING_KEY",
                           private_key_pem(generate_signing_key()).decode())
    else:
        monkeypatch.delenv("BRIDGE_COMMAND_SIGNING_KEY", raising=False)
    async with db.session() as s:
        await auth.create_admin_user(s, "boss", "secret-boss", auth.HEAD_OFFICE)
        await publish_book(s, "store1", book("v1"), "test")
    sock = bound_socket()  # held until the site listens on it: no other bind can take it
    port = port_of(sock)
    base = f"http://127.0.0.1:{port}"
    cfg = BridgeConfig()
    cfg.bridge.worker_id = f"sniffed-{port}"
    cfg.mqtt.port, cfg.mqtt.username = broker.port, ""
    cfg.mqtt.reconnect_min_s, cfg.mqtt.session_expiry_s = 0.1, 0
    cfg.http.public_url = base  # plain http: the shop LAN sees everything
    cfg.http.kiosk_auth_dir = deploy.dir
    cfg.mp.price_book = EXAMPLE
    cfg.rpc.handler_modules = []
    seen: list[tuple[str, str]] = []

    @web.middleware
    async def sniffer(request: web.Request, handler):
        seen.append((request.path, request.headers.get("Authorization", "")))
        return await handler(request)

    app = create_app(cfg, db=db)
    app.middlewares.insert(0, sniffer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner, SimpleNamespace(base=base, password=password, seen=seen, port=broker.port)


@pytest.fixture(params=[True, False], ids=["signing-key", "no-signing-key"])
async def bridge(request, db, broker, tmp_path: Path, monkeypatch):
    """A bridge on plain http with kiosk auth on; with and without a signing key."""
    runner, b = await _bridge(db, broker, tmp_path, monkeypatch, request.param)
    b.tokens = request.param
    try:
        async with aiohttp.ClientSession(base_url=b.base) as http:
            async def mqtt_up() -> bool:
                async with http.get("/api/v1/health") as r:
                    return (await r.json())["mqtt"] is True

            await until(mqtt_up, WAIT_S, what="the bridge's MQTT connection")
            async with http.post("/api/v1/admin/session",
                                 json={"username": "boss", "secret": "secret-boss"}) as r:
                b.boss = {"Authorization": "Bearer " + (await r.json())["token"]}
            b.http = http
            yield b
    finally:
        await runner.cleanup()


async def test_kiosk_never_sends_its_secret_over_http(bridge, tmp_path: Path):
    b = bridge
    async with Journal(tmp_path / "journal.db", "store1", "kiosk1") as journal:
        await journal.store_price_book(book("v1"))
        link = Link(mqtt_section(b.port, username="store1-kiosk1"), "store1", "kiosk1",
                    password=b.password)
        async with link, CatalogSync(link, journal) as sync:
            async with b.http.put("/api/v1/admin/stores/store1/catalog", headers=b.boss,
                                  json=book_json("v2", water_price=250)) as r:
                assert r.status == 201, await r.text()
            if b.tokens:
                await until(lambda: sync.current_version == "v2", WAIT_S,
                            what="the kiosk to apply v2")
            else:
                await until(lambda: sync.last_error is not None, WAIT_S,
                            what="the kiosk to give up")
                assert "never sends its credentials over plain http" in sync.last_error
                assert "token=" not in sync.last_error
                assert sync.current_version == "v1"  # still selling on the old book
    downloads = [auth for path, auth in b.seen if path.startswith("/api/v1/catalog/")]
    assert downloads, "the kiosk did try to download"
    assert all(not header for header in downloads), downloads  # no Basic, nothing at all


@pytest.mark.parametrize("bridge", [True], indirect=True, ids=["signing-key"])
async def test_a_token_opens_only_its_own_book(bridge):
    b = bridge
    async with b.http.get("/api/v1/admin/stores/store1/catalog", headers=b.boss) as r:
        url = (await r.json())["url"]
    token = parse_qs(urlsplit(url).query)["token"][0]
    async with b.http.put("/api/v1/admin/stores/store1/catalog", headers=b.boss,
                          json=book_json("v2")) as r:
        assert r.status == 201
    async with b.http.get(url) as r:
        assert r.status == 200
    for other in (f"/api/v1/catalog/store1/v2?token={token}",  # another version
                  f"/api/v1/catalog/store2/v1?token={token}",  # another store
                  f"/api/v1/catalog/store1/v1?token={token[:-2]}AA",  # forged
                  "/api/v1/catalog/store1/v1"):  # none
        async with b.http.get(other) as r:
            assert r.status == 401, other
