"""Fleet jobs at run time: the bundle store, download tokens and the periodic scheduler.

Bundles live in ``$CLOUD_BRIDGE_BUNDLES`` when set, else a ``fleet-bundles`` directory
beside the SQLite database, else ``/var/lib/cloud-bridge/fleet-bundles``, one file per
bundle named by its sha256. Every ``TICK_S`` each worker runs :func:`tick_once`: per
running job one transaction (the job row locked on PostgreSQL, so two workers never
dispatch the same kiosk) marks the due executions dispatched, then the signed ``job``
commands go out through the bridge's MQTT connection (the existing command path).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cloud_bridge import commands
from cloud_bridge.catalog import public_base_url
from cloud_bridge.keys import CONFIG_KEY, DB_KEY, INGEST_KEY
from cloud_bridge.models import now
from cloud_bridge.security import download_tokens
from common.jsontypes import JsonObject
from contract.wire.commands import JOB, JobArgs
from contract.wire.events import uuid7
from contract.wire.topics import KioskTopics

from . import service
from .models import FleetBundle, FleetExecution, FleetJob

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from cloud_bridge.config import BridgeConfig
    from cloud_bridge.db import Database
    from contract.bundles import Manifest

log = logging.getLogger(__name__)

BUNDLES_ENV = "CLOUD_BRIDGE_BUNDLES"
DEFAULT_BUNDLES = Path("/var/lib/cloud-bridge/fleet-bundles")
# Seconds between scheduler rounds: a stage advances within this of its last report.
TICK_S = 2.0
TOKEN_CONTEXT = b"selfcheckout bundle download v1\x00"
# A bundle URL (in a job command) is good this long: a kiosk on a slow link resumes a
# download with Range for hours; a day later the URL is useless to whoever copied it.
BUNDLE_TOKEN_TTL_S = 24 * 3600


class Publish(Protocol):
    """How a job command goes out: ``Ingest.publish(topic, payload, qos=1)``."""

    async def __call__(self, topic: str, payload: bytes, *, qos: int) -> None: ...


def bundles_dir(db_url: str) -> Path:
    if os.environ.get(BUNDLES_ENV):
        return Path(os.environ[BUNDLES_ENV])
    if db_url.startswith("sqlite") and "///" in db_url:
        path = db_url.split("///", 1)[1]
        if path and path != ":memory:" and not path.startswith("file:"):
            return Path(path).parent / "fleet-bundles"
    return DEFAULT_BUNDLES


def bundle_path(app_or_url: web.Application | str, sha256: str) -> Path:
    url = app_or_url if isinstance(app_or_url, str) else app_or_url[DB_KEY].url
    return bundles_dir(url) / f"{sha256}.tar"


def keep_bundle(src: Path, folder: Path, keys: list[Ed25519PublicKey],
                move: bool = False) -> tuple[str, Manifest]:
    """Verify a bundle file and keep it under ``folder`` as ``<sha256>.tar``; (sha, manifest).

    Raises :class:`contract.bundles.BundleError` when head office did not sign it.
    """
    import shutil

    from contract.bundles import sha256_file, verify_bundle

    manifest = verify_bundle(src, keys)
    sha = sha256_file(src)
    folder.mkdir(parents=True, exist_ok=True)
    if move:
        os.replace(src, folder / f"{sha}.tar")
    else:
        tmp = folder / f".{sha}.part"
        shutil.copyfile(src, tmp)
        os.replace(tmp, folder / f"{sha}.tar")
    return sha, manifest


def _token_key(config: BridgeConfig) -> bytes | None:
    key = commands.load_signing_key(config)
    if key is None:
        return None
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    return hashlib.sha256(TOKEN_CONTEXT + raw).digest()


def make_token(key: bytes, store: str, kiosk: str, sha256: str,
               now: float | None = None) -> str:
    """Kiosk ``store/kiosk``'s token for bundle ``sha256``, good for
    :data:`BUNDLE_TOKEN_TTL_S` (``cloud_bridge.security.download_tokens``)."""
    return download_tokens.mint(key, (store, kiosk, sha256),
                                download_tokens.expiry(now, BUNDLE_TOKEN_TTL_S))


def token_verdict(config: BridgeConfig, store: str, kiosk: str, sha256: str, token: str | None,
                  now: float | None = None) -> str:
    """``ok``, ``expired`` or ``invalid``: whether ``token`` lets kiosk ``store/kiosk``
    download bundle ``sha256`` now."""
    return download_tokens.verdict(_token_key(config), (store, kiosk, sha256), token, now,
                                   ttl_s=BUNDLE_TOKEN_TTL_S)


def token_valid(config: BridgeConfig, store: str, kiosk: str, sha256: str, token: str | None) -> bool:
    """Whether ``token`` lets kiosk ``store/kiosk`` download bundle ``sha256`` now."""
    return token_verdict(config, store, kiosk, sha256, token) == download_tokens.OK


def bundle_url(config: BridgeConfig, sha256: str, store: str, kiosk: str) -> str:
    """The kiosk's download URL of a bundle, with its per-kiosk token."""
    key = _token_key(config)
    query = {"store": store, "kiosk": kiosk}
    if key is not None:
        query["token"] = make_token(key, store, kiosk, sha256)
    return f"{public_base_url(config)}/api/v1/fleet/bundles/{sha256}?{urlencode(query)}"


async def tick_once(db: Database, config: BridgeConfig, publish: Publish) -> int:
    """One scheduler round over every running job; how many commands were sent."""
    key = commands.load_signing_key(config)
    if key is None:
        return 0

    def job_args(job: FleetJob, bundle: FleetBundle, ex: FleetExecution) -> JsonObject:
        if ex.cmd_id is None:  # step() gave it its command id just before
            raise ValueError(f"execution {ex.store}/{ex.kiosk} of job {job.id} has no cmd_id")
        return JobArgs(job_id=job.id, kind=job.kind, version=job.version, sha256=bundle.sha256,
                       size=bundle.size,
                       url=bundle_url(config, bundle.sha256, ex.store, ex.kiosk),
                       report_id=ex.cmd_id).model_dump(mode="json")

    async with db.session() as s:
        ids = await service.running_job_ids(s)
    sent = 0
    for job_id in ids:
        async def step(s: AsyncSession, job: int = job_id) -> list[service.Dispatch]:
            return await service.step(s, job, now(), uuid7, job_args)

        dispatches = await db.transact(step)
        for d in dispatches:
            cmd = commands.sign_command(key, d.store, d.kiosk, JOB, d.args,
                                        ttl_s=max(config.commands.ttl_s, 300), cmd_id=d.cmd_id)
            try:
                await publish(KioskTopics(d.store, d.kiosk).cmd, cmd.encode(), qos=1)
                sent += 1
            except Exception as err:
                # Not sent: the execution is marked dispatched, so it times out and fails.
                log.warning("job %s to %s/%s not sent: %s", d.job_id, d.store, d.kiosk, err)
    return sent


async def run_forever(db: Database, config: BridgeConfig, publish: Publish, tick_s: float = TICK_S) -> None:
    while True:
        await asyncio.sleep(tick_s)
        try:
            await tick_once(db, config, publish)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("fleet job round failed; next in %.0f s", tick_s)


async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the scheduler while the bridge has an MQTT connection to send commands on."""
    ingest = app.get(INGEST_KEY)
    if ingest is None:
        yield
        return
    tick_s = float(os.environ.get("CLOUD_BRIDGE_JOBS_TICK_S", TICK_S))
    task = asyncio.create_task(run_forever(app[DB_KEY], app[CONFIG_KEY], ingest.publish, tick_s),
                               name="fleet-jobs")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
