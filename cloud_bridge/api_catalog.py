"""Price-book HTTP API: head office publishes, kiosks download; announcing at start.

- ``PUT /api/v1/admin/stores/{store}/catalog`` (head office only): a JSON price book,
  validated by :mod:`contract.pricebook` (422 naming the field when unusable); the
  version must be new for the store (409). Stored, made current, and announced with
  a retained pointer on ``kiosk/v1/{store}/catalog``.
- ``GET /api/v1/admin/stores/{store}/catalog``: the store's current version.
- ``GET /api/v1/catalog/{store}/{version}``: the canonical bytes the pointer's SHA-256
  covers, ``ETag`` = that SHA-256. With ``[http] kiosk_auth_dir`` set (the provisioning
  dir of ``cloud-bridge kiosk add``) it needs HTTP Basic with a kiosk's MQTT credentials
  (username ``{store}-{kiosk}``, a kiosk of that store); unset, it is open (prices are
  public in the shop anyway; set ``public_url`` to https when credentials are sent).

:func:`catalog_ctx` (a ``cleanup_ctx``) re-announces every store's current pointer
each time the bridge's MQTT client connects: a broker that lost its retained messages
(restart without persistence) gets them back.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import aiomqtt
from aiohttp import web
from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from common.jsontypes import JsonObject

from . import auth, catalog, keys, responses
from .errors import Forbidden, NotFound
from .openapi import Call, Route, problem
from .security.download_tokens import REANNOUNCE_S

if TYPE_CHECKING:
    from cloud_bridge.config import BridgeConfig
    from cloud_bridge.db import Database
    from cloud_bridge.ingest import Ingest

log = logging.getLogger(__name__)

# While connected, check this often whether the MQTT client reconnected (and must
# re-announce); cheap, and a kiosk learns of a new pointer within it after a broker loss.
ANNOUNCE_RECHECK_S = 1.0
# After a failed announcement, retry this much later (the broker may be restarting).
ANNOUNCE_RETRY_S = 5.0

VERSION_SCHEMA = {"type": "string", "pattern": catalog.VERSION_PATTERN}
_VERSION = re.compile(catalog.VERSION_PATTERN)


def _announce_lock(app: web.Application) -> asyncio.Lock:
    """One announcer at a time in this process, so that an older pointer never wins."""
    return app[keys.SERVICES_KEY].catalog_announce_lock


class PriceBookUpload(BaseModel):
    """Any JSON object here; the handler validates it as a ``contract.pricebook.PriceBook``
    (so that a bad book is a 422 naming the field). Documented with the PriceBook schema."""

    model_config = ConfigDict(extra="allow")

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # The PriceBook's own schema, generated in the caller's pass (so the OpenAPI
        # document's one pass over every model puts its parts under components too).
        from contract.pricebook import PriceBook

        return handler(PriceBook.__pydantic_core_schema__)


class CanonicalPriceBook(PriceBookUpload):
    """A published price book as kiosks download it: its canonical JSON (the bytes the
    pointer's sha256 covers). Described with the PriceBook schema, like the upload."""


async def publish_catalog(call: Call) -> JsonObject:
    """Publish a store's price book (head office): stored, made current, announced."""
    store = call.path["store"]
    if call.principal.role != auth.HEAD_OFFICE:
        raise Forbidden("only head office publishes price books")
    raw = await call.request.read()  # already read (and size-limited) by the route wrapper
    book = await asyncio.to_thread(catalog.parse_upload, raw)
    db, config = call.app[keys.DB_KEY], call.app[keys.CONFIG_KEY]
    async with db.session() as s:
        info = await catalog.publish_book(s, store, book, call.principal.actor)
    announced = False
    ingest = call.app.get(keys.INGEST_KEY)
    if ingest is not None and ingest.connected.is_set():
        try:
            async with _announce_lock(call.app):
                await catalog.announce_current(db, config, ingest.publish, store)
            announced = True
        except aiomqtt.MqttError as err:
            log.warning("price book %s/%s stored, not announced yet: %s",
                        store, info.version, err)
    # Not announced now: the next (re)connect of the MQTT client announces it.
    return {**info.json(), "url": catalog.book_url(config, store, info.version),
            "announced": announced}


async def get_catalog(call: Call) -> JsonObject:
    """The store's current price book version (sha256, size, who published it and when)."""
    store = call.path["store"]
    call.principal.check_store(store)
    async with call.app[keys.DB_KEY].session() as s:
        info = await catalog.current_info(s, store)
    if info is None:
        raise NotFound(f"store {store} has no published price book")
    return {**info.json(), "url": catalog.book_url(call.app[keys.CONFIG_KEY], store, info.version)}


def _basic_credentials(request: web.Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _kiosk_may_read(auth_dir: Path, store: str, username: str, password: str) -> bool:
    """Whether ``username``/``password`` are the MQTT credentials of a kiosk of ``store``."""
    from .provisioning import Deployment, ProvisioningError, verify_mosquitto_hash

    deployment = Deployment(auth_dir)
    try:
        entry = deployment.registry().get(username)
        hashed = deployment.passwd_entries().get(username)
    except (ProvisioningError, OSError) as err:
        log.error("kiosk credentials in %s unreadable: %s", auth_dir, err)
        return False
    # The registry, not the username's shape: "a-b-c" may be store a or store a-b.
    if entry is None or hashed is None or entry.get("store") != store:
        return False
    return verify_mosquitto_hash(password, hashed)


def _token_verdict(call: Call, store: str, version: str) -> str | None:
    """What the URL's download token (from the pointer) says about this book: ``ok``,
    ``expired``, ``invalid``; ``None`` without a token."""
    from .security import download_tokens as tokens

    token = call.request.query.get(tokens.QUERY)
    if token is None:
        return None
    return tokens.token_verdict(tokens.token_key(call.app[keys.CONFIG_KEY]), store, version,
                                token)


def _unauthorized(detail: str) -> web.Response:
    resp = problem(401, "Unauthorized", detail)
    resp.headers["WWW-Authenticate"] = 'Basic realm="cloud-bridge price books"'
    return resp


async def download_catalog(call: Call) -> web.StreamResponse:
    """A price book's canonical bytes (what the pointer's sha256 covers); ETag = sha256.

    Needs HTTP Basic with a kiosk's MQTT credentials when ``[http] kiosk_auth_dir`` is set,
    or the book's download token; an expired token is 403 with the reason.
    """
    store, version = call.path["store"], call.path["version"]
    auth_dir = call.app[keys.CONFIG_KEY].http.kiosk_auth_dir
    verdict = _token_verdict(call, store, version) if auth_dir is not None else None
    if verdict == "expired":
        log.warning("price book %s/%s refused: download token expired", store, version)
        return problem(403, "Forbidden", "download token expired: the store's catalog "
                                         "pointer is re-announced with a fresh one")
    if auth_dir is not None and verdict != "ok":
        creds = _basic_credentials(call.request)
        if creds is None:
            return _unauthorized("send HTTP Basic with the kiosk's MQTT username and password")
        if not await asyncio.to_thread(_kiosk_may_read, auth_dir, store, *creds):
            return _unauthorized(f"not the credentials of a kiosk of store {store}")
    if not _VERSION.match(version):
        raise NotFound(f"no version {version!r}")
    async with call.app[keys.DB_KEY].session() as s:
        found = await catalog.book_body(s, store, version)
    if found is None:
        raise NotFound(f"store {store} has no price book version {version}")
    sha, body = found
    etag = f'"{sha}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=31536000, immutable"}
    if etag in call.request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", charset="utf-8",
                        headers=headers)


# --------------------------------------------------------------------------- announcing


async def _announce_on_connect(app: web.Application, db: Database, config: BridgeConfig,
                               ingest: Ingest) -> None:
    while True:
        await ingest.connected.wait()
        try:
            async with _announce_lock(app):
                count = await catalog.announce_current(db, config, ingest.publish)
            log.info("announced the current price book of %d store(s)", count)
        except (aiomqtt.MqttError, OSError) as err:
            log.warning("price books not re-announced (%s); retrying", err)
            await asyncio.sleep(ANNOUNCE_RETRY_S)
            continue
        except Exception:
            log.exception("price books not re-announced")
            await asyncio.sleep(ANNOUNCE_RETRY_S)
            continue
        # The ingest has no "disconnected" event to wait on; polling its flag is cheap.
        # Re-announced every REANNOUNCE_S too: the pointers' download tokens expire.
        announced_at = time.monotonic()
        while ingest.connected.is_set() and (  # noqa: ASYNC110
                time.monotonic() - announced_at < REANNOUNCE_S):
            await asyncio.sleep(ANNOUNCE_RECHECK_S)


async def catalog_ctx(app: web.Application) -> AsyncIterator[None]:
    """Re-announce every store's current price book whenever the MQTT client connects."""
    ingest = app.get(keys.INGEST_KEY)
    if ingest is None:  # MQTT off: nothing to announce with
        yield
        return
    task = asyncio.create_task(
        _announce_on_connect(app, app[keys.DB_KEY], app[keys.CONFIG_KEY], ingest),
        name="catalog-announce")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


A = "/api/v1/admin"
ROUTES = [
    Route("PUT", f"{A}/stores/{{store}}/catalog", publish_catalog,
          "Publish a store's price book (head office; 422 names the bad field)", "catalog",
          auth="admin", body=PriceBookUpload, status=201, response=responses.CatalogPublished,
          responses={422: "not a price book the kiosks can use (names the field)"}),
    Route("GET", f"{A}/stores/{{store}}/catalog", get_catalog,
          "The store's current price book version", "catalog", auth="admin",
          response=responses.CatalogVersion),
    Route("GET", "/api/v1/catalog/{store}/{version}", download_catalog,
          "Download a price book (canonical JSON, ETag = sha256; HTTP Basic with the kiosk's "
          "MQTT credentials when the bridge is configured so)", "catalog",
          path_params={"version": VERSION_SCHEMA}, raw=True, basic_auth=True,
          response=CanonicalPriceBook, responses={304: "not modified (If-None-Match)",
                                                  403: "download token expired"}),
]
