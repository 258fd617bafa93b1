"""The carrier tracker of this bridge: Kuaidi100 with the configured account, or the
bridge's own sandbox (``[mp] sandbox``); and the periodic delivery sweep job."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import NotRequired, TypedDict

from aiohttp import web

from cloud_bridge.config import BridgeConfig
from cloud_bridge.db import Database
from cloud_bridge.keys import CONFIG_KEY, DB_KEY
from common.jsontypes import JsonObject

from . import delivery
from . import kuaidi100 as k100

log = logging.getLogger(__name__)

SANDBOX_KEY = "sandbox-kuaidi100-key"
SANDBOX_CUSTOMER = "SANDBOXCUSTOMER"
SANDBOX_PATH = "/sandbox/kuaidi100"
NOTIFY_PATH = "/api/v1/carrier/kuaidi100/notify"


class SandboxParcel(TypedDict):
    """A parcel of the carrier sandbox: its events (Kuaidi100's ``data`` items, oldest
    first) and, once subscribed, where its pushes go and the salt they are signed with."""

    com: str
    num: str
    state: str
    events: list[JsonObject]
    callback: NotRequired[str]
    salt: NotRequired[str]


def _cfg(app: web.Application) -> BridgeConfig:
    return app[CONFIG_KEY]


def _base_url(app: web.Application) -> str:
    http = _cfg(app).http
    return (http.public_url or f"http://{http.host}:{http.port}").rstrip("/")


def account_key(app: web.Application) -> str | None:
    """The tracker account key: configured, else the sandbox's when the sandbox is on."""
    from cloud_bridge.config import load_secret

    cfg = _cfg(app)
    if cfg.delivery.customer:
        return load_secret(cfg.delivery.key_credential)
    return SANDBOX_KEY if cfg.mp.sandbox else None


def tracker_of(app: web.Application) -> k100.Kuaidi100 | None:
    cfg = _cfg(app)
    d, key = cfg.delivery, account_key(app)
    if key is None:
        return None
    callback = d.callback_url or _base_url(app) + NOTIFY_PATH
    if d.customer:
        return k100.Kuaidi100(d.api_url, d.customer, key, callback)
    # The sandbox: this bridge's own (`serve` points api_url at it once it listens).
    own = d.api_url if d.api_url.endswith(SANDBOX_PATH) else _base_url(app) + SANDBOX_PATH
    return k100.Kuaidi100(own, SANDBOX_CUSTOMER, key, callback)


def settings_of(app: web.Application) -> delivery.Settings:
    d = _cfg(app).delivery
    return delivery.Settings(poll_after_s=d.poll_after_s, delay_after_h=d.delay_after_h)


def delivery_job(app: web.Application) -> Callable[[], Awaitable[None]]:
    async def job() -> None:
        counts = await delivery.sweep(db_of(app), tracker_of(app), settings_of(app))
        if counts["delays"]:
            log.warning("delivery: %d shipment(s) without news, stores alerted", counts["delays"])

    return job


def db_of(app: web.Application) -> Database:
    return app[DB_KEY]
