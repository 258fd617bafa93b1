"""The cloud bridge's aiohttp application: factory and resources in cleanup_ctx.

``create_app(config)`` builds the app; the database, the outgoing HTTP client
(for WeChat's code2session) and the MQTT ingest each live in one ``cleanup_ctx``
generator, opened in that order and closed in reverse. Handlers and RPC code
reach them through the typed keys of :mod:`.keys` (``request.app[DB_KEY]``) and the
typed :class:`~.services.BridgeServices` (``request.app[SERVICES_KEY].payments``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from common.jsontypes import JsonObject

from . import api_admin, api_catalog, api_mp, responses, rpc
from .config import BridgeConfig
from .db import Database, open_database
from .domains import domain_modules
from .ingest import Ingest
from .keys import CONFIG_KEY, DB_KEY, HTTP_KEY, INGEST_KEY, ROUTES_KEY, SERVICES_KEY
from .openapi import (
    Call,
    Route,
    add_routes,
    build_document,
    db_token_resolver,
    problem_middleware,
)
from .services import BridgeServices

log = logging.getLogger(__name__)


# How long the HTTP client waits for WeChat's code2session.
UPSTREAM_TIMEOUT_S = 10.0


async def openapi_document(call: Call) -> JsonObject:
    """The OpenAPI document of every route."""
    return build_document(call.app[ROUTES_KEY])


async def health(call: Call) -> JsonObject:
    """Liveness plus whether the MQTT ingest is connected."""
    ingest = call.app.get(INGEST_KEY)
    return {
        "status": "ok",
        "worker": call.app[CONFIG_KEY].bridge.worker_id,
        "mqtt": None if ingest is None else ingest.connected.is_set(),
        "rpc_methods": rpc.registered_methods(),
    }


CORE_ROUTES = [
    Route("GET", "/api/v1/openapi.json", openapi_document, "OpenAPI document", "meta",
          response=responses.OPENAPI_DOCUMENT_SCHEMA),
    Route("GET", "/api/v1/health", health, "Liveness and MQTT state", "meta",
          response=responses.Health),
]


def all_routes(config: BridgeConfig) -> list[Route]:
    """Core routes, then every domain folder's ``api.ROUTES`` (:mod:`.domains`)."""
    routes = [*CORE_ROUTES, *api_admin.ROUTES, *api_mp.ROUTES]
    routes += api_catalog.ROUTES
    if config.mp.sandbox:
        routes += api_mp.SANDBOX_ROUTES
    for module in domain_modules("api"):
        routes += getattr(module, "ROUTES", [])
        if config.mp.sandbox:
            routes += getattr(module, "SANDBOX_ROUTES", [])
    return routes


def _database_ctx(db: Database | None) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        config = app[CONFIG_KEY]
        if config.database.auto_migrate:
            from .migrations import upgrade

            await asyncio.to_thread(upgrade, config.database_url())
        database = db or open_database(config)
        app[DB_KEY] = database
        try:
            yield
        finally:
            if db is None:
                await database.close()

    return ctx


async def _http_client_ctx(app: web.Application) -> AsyncIterator[None]:
    timeout = aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        app[HTTP_KEY] = client
        yield


async def _ingest_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG_KEY]
    if not config.mqtt.enabled:
        yield
        return
    services = app[SERVICES_KEY]
    async with Ingest(config, app[DB_KEY], services=services) as ingest:
        app[INGEST_KEY] = ingest
        services.ingest = ingest
        try:
            yield
        finally:
            services.ingest = None


def create_app(config: BridgeConfig, *, db: Database | None = None) -> web.Application:
    """The bridge application; pass ``db`` to share an already open database (tests)."""
    app = web.Application(middlewares=[problem_middleware], client_max_size=1024 * 1024)
    app[CONFIG_KEY] = config
    app[SERVICES_KEY] = BridgeServices(config)
    routes = all_routes(config)
    app[ROUTES_KEY] = routes
    add_routes(app, routes, db_token_resolver)
    rpc.load_handler_modules(config.rpc.handler_modules)
    app.cleanup_ctx.append(_database_ctx(db))
    app.cleanup_ctx.append(_http_client_ctx)
    from .payments.runtime import payments_ctx

    app.cleanup_ctx.append(payments_ctx)
    app.cleanup_ctx.append(_ingest_ctx)
    app.cleanup_ctx.append(api_catalog.catalog_ctx)  # after ingest: announces through it
    for module in domain_modules("runtime"):  # a domain's long-lived resources, if it has any
        if hasattr(module, "runtime_ctx"):
            app.cleanup_ctx.append(module.runtime_ctx)
    from .console.web import mount_console  # HTML pages under /console/ (not API routes)

    mount_console(app)
    return app

