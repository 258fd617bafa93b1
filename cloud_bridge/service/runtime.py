"""The service domain's long-lived resources: the chat fan-out hub and the file storage.

Added to the app's ``cleanup_ctx`` by :func:`cloud_bridge.app.create_app` (a domain's
``runtime.runtime_ctx``). Files go to ``$CLOUD_BRIDGE_SERVICE_FILES`` when set, else a
``service-files`` directory beside the SQLite database, else ``/var/lib/cloud-bridge``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from cloud_bridge.keys import CONFIG_KEY, DB_KEY

from . import jobs
from .hub import LocalHub, PgNotifyHub
from .kb import KbSearch
from .storage import FileStorage, LocalFileStorage
from .tracking import SandboxParcel, delivery_job

FILES_ENV = "CLOUD_BRIDGE_SERVICE_FILES"
DEFAULT_FILES = Path("/var/lib/cloud-bridge/service-files")


@dataclass(slots=True)
class ServiceRuntime:
    hub: LocalHub
    storage: FileStorage
    kb: KbSearch
    # The carrier sandbox's parcels, (com, number) -> state (only with [mp] sandbox).
    sandbox_parcels: dict[tuple[str, str], SandboxParcel] = field(default_factory=dict)


RUNTIME_KEY = web.AppKey("service_runtime", ServiceRuntime)


def files_dir(db_url: str) -> Path:
    if os.environ.get(FILES_ENV):
        return Path(os.environ[FILES_ENV])
    if db_url.startswith("sqlite") and "///" in db_url:
        path = db_url.split("///", 1)[1]
        if path and path != ":memory:" and not path.startswith("file:"):
            return Path(path).parent / "service-files"
    return DEFAULT_FILES


async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:

    db = app[DB_KEY]
    hub = LocalHub() if db.is_sqlite else PgNotifyHub(db.url)
    tz = app[CONFIG_KEY].bridge.timezone
    async with hub:
        app[RUNTIME_KEY] = ServiceRuntime(hub=hub, storage=LocalFileStorage(files_dir(db.url)),
                                         kb=KbSearch())
        sweeper = asyncio.create_task(
            jobs.run_forever(db, tz, [delivery_job(app), reminder_job(app)]), name="svc-sweep")
        try:
            yield
        finally:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)


def reminder_job(app: web.Application) -> Callable[[], Awaitable[None]]:
    """Each sweep: reminders of the bookings due within ``[notify] appointment_lead_min``."""
    from datetime import timedelta

    from .reminders import appointment_reminders

    async def job() -> None:
        cfg = app[CONFIG_KEY]
        if cfg.notify.enabled:
            await appointment_reminders(app[DB_KEY], timedelta(
                minutes=cfg.notify.appointment_lead_min), cfg.bridge.timezone)

    return job


def runtime(app: web.Application) -> ServiceRuntime:
    return app[RUNTIME_KEY]
