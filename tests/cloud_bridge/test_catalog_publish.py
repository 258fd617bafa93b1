"""Price-book publishing end to end: admin API / CLI -> bridge DB -> retained pointer on a
real Mosquitto -> a kiosk's Link + CatalogSync fetches over HTTP (Basic auth with its MQTT
credentials) -> the kiosk's journal sells on the new book."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import aiomqtt
import pytest
from aiohttp import web
from sqlalchemy import update

from cloud_bridge import auth
from cloud_bridge.app import create_app
from cloud_bridge.catalog import PublishedPriceBook, announce_current, publish_book
from cloud_bridge.config import BridgeConfig
from cloud_bridge.provisioning import Deployment
from contract.pricebook import parse_price_book
from contract.wire.shadow import CatalogPointer
from contract.wire.topics import store_catalog
from kiosk_agent.catalog_sync import CatalogSync
from kiosk_agent.journal import Journal
from kiosk_agent.link import Link
from tests.support.link_helpers import mqtt_section, shrink_timings
from tests.support.sockets import bound_socket, port_of
from tests.support.waiting import until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "pricebook.example.json"
WATER = "nongfu-water-550"  # 200 fen in the example book; 250 in v2
WAIT_S = 10.0


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the link's, the sync's and the announcer's timing constants."""
    shrink_timings(monkeypatch)
    import cloud_bridge.api_catalog as api_catalog
    import kiosk_agent.catalog_sync as cs

    monkeypatch.setattr(cs, "RETRY_MIN_S", 0.05)
    monkeypatch.setattr(api_catalog, "ANNOUNCE_RECHECK_S", 0.05)


def book_json(version: str, water_price: int = 200) -> dict:
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["version"] = version
    for product in data["products"]:
        if product["product_id"] == WATER:
            product["unit_price"] = water_price
            product["member_price"] = min(product.get("member_price") or water_price, water_price)
    return data


def book(version: str, water_price: int = 200):
    return parse_price_book(json.dumps(book_json(version, water_price)))


@pytest.fixture
async def bridge(db, broker, tmp_path: Path, monkeypatch):
    """A bridge app on a free port (MQTT on the test broker, kiosk Basic auth on), with
    store1 already at v1, a head-office and a store1 staff login, and kiosk credentials.
    It has a command signing key, so its pointers carry download tokens."""
    from contract.signing import generate_signing_key, private_key_pem

    monkeypatch.setenv("BRIDGE_COMMAND_SIGNING_KEY",
                       private_key_pem(generate_signing_key()).decode())
    deploy = Deployment(tmp_path / "deploy")
    password = (deploy.add_kiosk("store1", "kiosk1") / "mqtt_password").read_text().strip()
    other = (deploy.add_kiosk("store2", "kiosk1") / "mqtt_password").read_text().strip()
    async with db.session() as s:
        await auth.create_admin_user(s, "boss", "secret-boss", auth.HEAD_OFFICE)
        await auth.create_admin_user(s, "clerk", "secret-clerk", auth.STORE_STAFF, "store1")
        await publish_book(s, "store1", book("v1"), "test")  # announced by the start-up
    sock = bound_socket()  # held until the site listens on it: no other bind can take it
    port = port_of(sock)
    base = f"http://127.0.0.1:{port}"
    cfg = BridgeConfig()
    cfg.bridge.worker_id = f"catalog-{port}"
    cfg.mqtt.port = broker.port
    cfg.mqtt.username = ""
    cfg.mqtt.reconnect_min_s = 0.1
    cfg.mqtt.session_expiry_s = 0
    cfg.http.public_url = base
    cfg.http.kiosk_auth_dir = deploy.dir
    cfg.mp.sandbox = True
    cfg.mp.code2session_url = base + "/sandbox/sns/jscode2session"
    cfg.mp.price_book = EXAMPLE
    cfg.rpc.handler_modules = []
    runner = web.AppRunner(create_app(cfg, db=db))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        async with aiohttp.ClientSession(base_url=base) as http:
            async def mqtt_up() -> bool:
                async with http.get("/api/v1/health") as r:
                    return (await r.json())["mqtt"] is True

            await until(mqtt_up, WAIT_S, what="the bridge's MQTT connection")
            heads = {}
            for user in ("boss", "clerk"):
                async with http.post("/api/v1/admin/session",
                                     json={"username": user, "secret": f"secret-{user}"}) as r:
                    assert r.status == 200, await r.text()
                    heads[user] = {"Authorization": "Bearer " + (await r.json())["token"]}
            yield SimpleNamespace(http=http, base=base, boss=heads["boss"], clerk=heads["clerk"],
                                  password=password, other_password=other, port=broker.port,
                                  db=db)
    finally:
        await runner.cleanup()


@pytest.fixture
async def kiosk_journal(tmp_path: Path):
    """The kiosk's journal, selling on v1."""
    async with Journal(tmp_path / "journal.db", "store1", "kiosk1") as j:
        await j.store_price_book(book("v1"))
        yield j


def kiosk(b, journal: Journal):
    link = Link(mqtt_section(b.port, username="store1-kiosk1"), "store1", "kiosk1",
                password=b.password)
    return link, lambda: CatalogSync(link, journal)


async def test_published_book_reaches_the_kiosk(bridge, kiosk_journal):
    b = bridge
    link, make_sync = kiosk(b, kiosk_journal)
    async with link, make_sync() as sync:
        # The bridge re-announced v1 at start; the kiosk has it and fetches nothing.
        await until(lambda: sync.pointer is not None and sync.pointer.version == "v1",
                    WAIT_S, what="the re-announced v1 pointer")
        assert sync.pointer.url.startswith(f"{b.base}/api/v1/catalog/store1/v1?token=")
        v2 = book("v2", water_price=250)
        async with b.http.put("/api/v1/admin/stores/store1/catalog", headers=b.boss,
                              json=book_json("v2", water_price=250)) as r:
            assert r.status == 201, await r.text()
            published = await r.json()
        assert published["announced"] is True and published["sha256"] == v2.sha256()
        await until(lambda: sync.current_version == "v2", WAIT_S, what="the kiosk to apply v2")
    version, sha, body = await kiosk_journal.current_price_book()
    assert (version, sha, body) == ("v2", published["sha256"], v2.canonical_bytes())
    async with b.http.get("/api/v1/admin/stores/store1/catalog", headers=b.clerk) as r:
        current = await r.json()
    assert current["version"] == "v2" and current["current"] is True
    # Mini-program orders of store1 are priced by the published book, not the file.
    async with b.http.post("/api/v1/mp/session", json={"code": "shopper"}) as r:
        mp = {"Authorization": "Bearer " + (await r.json())["token"]}
    async with b.http.post("/api/v1/mp/orders", headers=mp, json={
            "store": "store1", "lines": [{"product_id": WATER, "qty": 2}]}) as r:
        assert r.status in (200, 201), await r.text()
        assert (await r.json())["lines"][0]["unit_price"] == 250
    async with b.http.post("/api/v1/mp/orders", headers=mp, json={
            "store": "store9", "lines": [{"product_id": WATER, "qty": 1}]}) as r:
        assert (await r.json())["lines"][0]["unit_price"] == 200  # no book: the file


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_tampered_book_refused_kiosk_keeps_v1(bridge, kiosk_journal):
    b = bridge
    async with b.http.put("/api/v1/admin/stores/store1/catalog", headers=b.boss,
                          json=book_json("v2", water_price=250)) as r:
        assert r.status == 201, await r.text()
        published = await r.json()
    body = book("v2", water_price=250).canonical_bytes()
    tampered = body.replace(b'"unit_price":250', b'"unit_price":  1')
    assert len(tampered) == len(body) and tampered != body
    async with b.db.session() as s:
        await s.execute(update(PublishedPriceBook).where(PublishedPriceBook.version == "v2")
                        .values(body=tampered))
    link, make_sync = kiosk(b, kiosk_journal)
    async with link, make_sync() as sync:
        await until(lambda: sync.last_error is not None, WAIT_S,
                    what="the kiosk to refuse the book")
        assert "sha256 mismatch" in sync.last_error
    assert (await kiosk_journal.current_price_book())[0] == "v1"
    # The download route itself: ETag is the published sha256; Basic auth per store.
    url = "/api/v1/catalog/store1/v2"
    async with b.http.get(url) as r:
        assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
    for user, pw in (("store2-kiosk1", b.other_password), ("store1-kiosk1", "wrong")):
        async with b.http.get(url, headers=basic(user, pw)) as r:
            assert r.status == 401, (user, r.status)
    good = basic("store1-kiosk1", b.password)
    async with b.http.get(url, headers=good) as r:
        assert r.status == 200 and r.headers["ETag"] == f'"{published["sha256"]}"'
        assert await r.read() == tampered
    async with b.http.get(url, headers={**good, "If-None-Match": r.headers["ETag"]}) as r:
        assert r.status == 304
    async with b.http.get("/api/v1/catalog/store1/v9", headers=good) as r:
        assert r.status == 404


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_bad_uploads_refused(bridge):
    b = bridge
    put = "/api/v1/admin/stores/store1/catalog"
    bad = book_json("v3")
    bad["products"][0]["unit_price"] = -5
    async with b.http.put(put, headers=b.boss, json=bad) as r:
        assert r.status == 422 and r.content_type == "application/problem+json"
        assert "products.0.unit_price" in (await r.json())["detail"]
    async with b.http.put(put, headers=b.boss, json=book_json("v 3")) as r:
        assert r.status == 422 and "version" in (await r.json())["detail"]
    async with b.http.put(put, headers=b.boss, json={"version": "v3", "bogus": 1}) as r:
        assert r.status == 422 and "bogus" in (await r.json())["detail"]
    async with b.http.put(put, headers=b.clerk, json=book_json("v3")) as r:
        assert r.status == 403  # store staff do not publish
    async with b.http.put(put, headers=b.boss, json=book_json("v1")) as r:
        assert r.status == 409  # v1 exists for store1
    async with b.http.put(put, headers=b.boss, data=b"not json") as r:
        assert r.status == 400
    async with b.http.get("/api/v1/admin/stores/store2/catalog", headers=b.boss) as r:
        assert r.status == 404
    async with b.http.get("/api/v1/admin/stores/store2/catalog", headers=b.clerk) as r:
        assert r.status == 403
    async with b.http.get(put, headers=b.boss) as r:
        assert (await r.json())["version"] == "v1"  # nothing above changed the current book


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_publish_announces_retained(db_url, broker, tmp_path: Path, capsys):
    from cloud_bridge.cli import main

    from .bridge_process import write_config

    cfg = write_config(tmp_path / "bridge.toml", db_url=db_url, worker="cli",
                       mqtt_port=broker.port)
    cfg.write_text(cfg.read_text().replace("[http]\n", '[http]\npublic_url = "https://hq.example"\n'))
    path = tmp_path / "v7.json"
    path.write_text(json.dumps(book_json("v7")), encoding="utf-8")
    args = ["catalog", "publish", "--config", str(cfg), "--store", "store1", "--file", str(path)]
    assert main(args) == 0, capsys.readouterr().err
    assert "announced" in capsys.readouterr().out

    async def retained() -> CatalogPointer:
        async with aiomqtt.Client("127.0.0.1", broker.port) as c:
            await c.subscribe(store_catalog("store1"), qos=1)
            async with asyncio.timeout(WAIT_S):
                async for msg in c.messages:
                    return CatalogPointer.model_validate_json(msg.payload)

    pointer = asyncio.run(retained())
    sha = hashlib.sha256(book("v7").canonical_bytes()).hexdigest()
    assert (pointer.version, pointer.sha256) == ("v7", sha)
    assert pointer.url == "https://hq.example/api/v1/catalog/store1/v7"
    assert main(args) == 1 and "already has" in capsys.readouterr().err
    assert main(["catalog", "show", "--config", str(cfg), "--store", "store1"]) == 0
    assert json.loads(capsys.readouterr().out)["sha256"] == sha
    path.write_text(json.dumps({"version": "v8", "products": [{"product_id": "x"}]}))
    assert main(args) == 1 and "products.0" in capsys.readouterr().err


async def test_reannounce_never_leaves_an_older_pointer(db):
    """A worker re-announcing v1 while another publishes v2 ends with v2 retained."""
    async with db.session() as s:
        await publish_book(s, "store1", book("v1"), "test")
    sent: list[str] = []

    async def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        assert (topic, qos, retain) == (store_catalog("store1"), 1, True)
        sent.append(CatalogPointer.model_validate_json(payload).version)
        if len(sent) == 1:  # another worker commits v2 (and announces it) meanwhile
            async with db.session() as s:
                await publish_book(s, "store1", book("v2"), "other worker")

    cfg = BridgeConfig()
    cfg.http.public_url = "https://hq.example/"
    assert await announce_current(db, cfg, publish) == 1
    assert sent == ["v1", "v2"]
