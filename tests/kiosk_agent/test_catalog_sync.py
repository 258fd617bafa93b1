"""Catalog sync: retained pointer -> HTTP fetch -> sha256 check -> one journal transaction."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import aiomqtt
import pytest
from aiohttp import web

from contract.pricebook import load_price_book
from contract.wire.shadow import CatalogPointer
from contract.wire.topics import store_catalog
from kiosk_agent.catalog_sync import CatalogSync
from kiosk_agent.journal import Journal
from kiosk_agent.link import Link
from tests.support.link_helpers import mqtt_section, shrink_timings
from tests.support.sockets import bound_socket, port_of
from tests.support.waiting import until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the link's and the sync's timing constants."""
    shrink_timings(monkeypatch)
    import kiosk_agent.catalog_sync as cs

    monkeypatch.setattr(cs, "RETRY_MIN_S", 0.05)


def _book_bytes(version: str) -> bytes:
    book = load_price_book(ROOT / "config" / "pricebook.example.json")
    return book.model_copy(update={"version": version}).canonical_bytes()


@pytest.fixture
async def bookserver():
    """An HTTP server serving price books from a dict (path -> bytes), with a gate."""
    files: dict[str, bytes] = {}
    gate = asyncio.Event()
    gate.set()

    async def handle(request: web.Request) -> web.Response:
        await gate.wait()
        body = files.get(request.path)
        return web.Response(body=body) if body is not None else web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = bound_socket()  # held until the site listens on it: no other bind can take it
    port = port_of(sock)
    await web.SockSite(runner, sock).start()
    yield f"http://127.0.0.1:{port}", files, gate
    await runner.cleanup()


async def _announce(port: int, pointer: CatalogPointer) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as c:
        await c.publish(store_catalog("store1"), pointer.encode(), qos=1, retain=True)


def _pointer(base: str, version: str, body: bytes, sha: str | None = None) -> CatalogPointer:
    return CatalogPointer(version=version, sha256=sha or hashlib.sha256(body).hexdigest(),
                          size=len(body), url=f"{base}/books/{version}.json")


async def test_new_version_applied_old_kept_until_complete(broker, journal: Journal, bookserver):
    base, files, gate = bookserver
    old = load_price_book(ROOT / "config" / "pricebook.example.json")
    await journal.store_price_book(old)
    v2 = _book_bytes("v2")
    files["/books/v2.json"] = v2
    applied = []

    async def on_applied(book) -> None:
        applied.append(book.version)

    gate.clear()  # hold the download
    async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
        async with CatalogSync(link, journal, on_applied=on_applied) as sync:
            await _announce(broker.port, _pointer(base, "v2", v2))
            await asyncio.sleep(0.3)
            assert (await journal.current_price_book())[0] == old.version  # still selling on it
            gate.set()
            await asyncio.wait_for(sync.synced.wait(), 10)
    version, sha, body = await journal.current_price_book()
    assert (version, body) == ("v2", v2) and sha == hashlib.sha256(v2).hexdigest()
    assert applied == ["v2"]


async def test_corrupt_download_refused_then_fixed(broker, journal: Journal, bookserver):
    base, files, _ = bookserver
    v3 = _book_bytes("v3")
    files["/books/v3.json"] = v3[:-1] + b" "  # same size, different bytes
    async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
        async with CatalogSync(link, journal) as sync:
            await _announce(broker.port, _pointer(base, "v3", v3))
            await until(lambda: sync.last_error, 10, what="a failed download")
            assert "sha256 mismatch" in sync.last_error
            assert await journal.current_price_book() is None
            files["/books/v3.json"] = v3  # the bridge fixes it; the retry picks it up
            await asyncio.wait_for(sync.synced.wait(), 10)
    assert (await journal.current_price_book())[0] == "v3"


async def test_malformed_pointer_and_missing_book(broker, journal: Journal, bookserver, caplog):
    base, _files, _ = bookserver
    async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
        async with CatalogSync(link, journal) as sync:
            assert await link.wait_connected(5)
            async with aiomqtt.Client("127.0.0.1", broker.port) as c:
                await c.publish(store_catalog("store1"), b'{"v":1,"version":"x"}', qos=1)
            body = _book_bytes("v4")
            await _announce(broker.port, _pointer(base, "v4", body))  # 404
            await until(lambda: sync.last_error, 10, what="a failed download")
            assert "HTTP 404" in sync.last_error
            result = await sync.sync_now()  # the sync_catalog command
            assert result["changed"] is False and "HTTP 404" in result["error"]
    assert "dropped malformed catalog pointer" in caplog.text
    assert await journal.current_price_book() is None
