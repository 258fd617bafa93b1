"""The notification sender: every ``send_interval_s`` the outbox's due messages go out.

The access token is the ``mp_access_token`` credential (kept fresh by whatever holds the
mini-program's AppSecret), or the sandbox's with ``[mp] sandbox``; WeChat's host is the
one of ``[mp] code2session_url`` (the bridge itself under ``/sandbox`` in demos and tests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from cloud_bridge.keys import CONFIG_KEY, DB_KEY, HTTP_KEY
from common.jsontypes import JsonObject

from . import service

log = logging.getLogger(__name__)
SANDBOX_TOKEN = "sandbox-access-token"


@dataclass(slots=True)
class SandboxInbox:
    """What the sandbox's WeChat received, and shoppers who refuse (tests, demo)."""

    sent: list[JsonObject] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)


@dataclass(slots=True)
class NotifyRuntime:
    sandbox: SandboxInbox


RUNTIME_KEY = web.AppKey("notify_runtime", NotifyRuntime)


def runtime(app: web.Application) -> NotifyRuntime:
    return app[RUNTIME_KEY]


def wechat_base(app: web.Application) -> str:
    return app[CONFIG_KEY].mp.code2session_url.split("/sns/jscode2session")[0]


def access_token(app: web.Application) -> str | None:
    from cloud_bridge.config import load_secret

    return load_secret("mp_access_token") or (
        SANDBOX_TOKEN if app[CONFIG_KEY].mp.sandbox else None)


async def send_once(app: web.Application) -> dict[str, int]:
    token = access_token(app)
    if token is None:
        return {}
    return await service.send_due(app[DB_KEY], app[HTTP_KEY], wechat_base(app), token,
                                  app[CONFIG_KEY].notify.templates)


async def _loop(app: web.Application, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            counts = await send_once(app)
            if counts.get("failed"):
                log.warning("reminders: %d failed", counts["failed"])
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reminder sending failed; next round in %.0f s", every)


async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    app[RUNTIME_KEY] = NotifyRuntime(sandbox=SandboxInbox())
    cfg = app[CONFIG_KEY].notify
    task = asyncio.create_task(_loop(app, cfg.send_interval_s), name="notify-send") \
        if cfg.enabled else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
