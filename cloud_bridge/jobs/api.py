"""Fleet job HTTP API: head office uploads bundles and runs jobs; kiosks download bundles.

- ``POST /api/v1/admin/fleet/bundles`` (body: the bundle tar): checked against the bridge's
  own signing key (a bundle not signed by head office is 422), stored by sha256.
- ``POST /api/v1/admin/fleet/jobs``, ``GET .../jobs``, ``GET .../jobs/{id}``,
  ``POST .../jobs/{id}/pause|resume|cancel``, ``PUT .../fleet/groups/{group}``.
- ``GET /api/v1/admin/fleet/executions?store=``: per kiosk, its execution of the newest
  job (stage, state, version); store staff see their own store's kiosks.
- ``GET /api/v1/fleet/bundles/{sha256}?store=&kiosk=&token=``: the bundle for one kiosk,
  with HTTP Range (a kiosk resumes a cut download), token from its job command.

Every other admin route is head office only: store staff must not roll software out.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import tempfile
from datetime import datetime
from pathlib import Path

from aiohttp import web

from cloud_bridge import auth, commands
from cloud_bridge.errors import BridgeError, InvalidRequest, NotFound, Unavailable
from cloud_bridge.keys import CONFIG_KEY, DB_KEY
from cloud_bridge.openapi import Call, Handler, Route, problem
from common.jsontypes import JsonObject
from contract.bundles import BundleError, verify_bundle

from . import runtime, service
from .models import FleetBundle, FleetExecution, FleetJob
from .scheduler import parse_stages
from .schemas import (
    BundleOut,
    DownloadQuery,
    ExecutionsQuery,
    GroupBody,
    GroupOut,
    JobCreate,
    JobDetail,
    JobList,
    JobOut,
    KioskExecutionList,
)

log = logging.getLogger(__name__)

A = "/api/v1/admin/fleet"
TAG = "fleet-jobs"
HO = (auth.HEAD_OFFICE,)
MAX_BUNDLE = 512 * 1024 * 1024
SHA = {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}
JOB_ID = {"job_id": {"type": "integer", "minimum": 1, "maximum": 10**15}}
GROUP = {"group": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}}


class UnprocessableBundle(BridgeError):
    status = 422
    title = "Unprocessable bundle"


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def bundle_json(b: FleetBundle) -> JsonObject:
    return {"sha256": b.sha256, "kind": b.kind, "version": b.version, "size": b.size,
            "uploaded_by": b.uploaded_by, "created_at": b.created_at.isoformat()}


def job_json(job: FleetJob, execs: list[FleetExecution]) -> JsonObject:
    return {"id": job.id, "kind": job.kind, "version": job.version,
            "bundle_sha256": job.bundle_sha256, "target": job.target, "stages": job.stages,
            "stage": job.stage, "max_concurrency": job.max_concurrency,
            "abort_failure_pct": job.abort_failure_pct,
            "abort_min_finished": job.abort_min_finished,
            "abort_health_failures": job.abort_health_failures, "timeout_s": job.timeout_s,
            "state": job.state, "state_reason": job.state_reason, "created_by": job.created_by,
            "created_at": job.created_at.isoformat(), "updated_at": job.updated_at.isoformat(),
            "counts": service.counts(execs)}


def exec_json(e: FleetExecution) -> JsonObject:
    return {"store": e.store, "kiosk": e.kiosk, "state": e.state, "reason": e.reason,
            "attempts": e.attempts, "stage": e.stage, "dispatched_at": _iso(e.dispatched_at),
            "finished_at": _iso(e.finished_at)}


async def upload_bundle(call: Call) -> JsonObject:
    """Store a signed bundle (the tar in the body); 422 unless head office signed it."""
    key = commands.load_signing_key(call.app[CONFIG_KEY])
    if key is None:
        raise Unavailable("no command signing key provisioned: bundles cannot be checked")
    folder = runtime.bundles_dir(call.app[DB_KEY].url)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload", dir=folder)
    h, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as fh:
            # Streamed: a wheelhouse is far above the app's 1 MiB body limit for JSON.
            async for chunk in call.request.content.iter_chunked(1 << 16):
                size += len(chunk)
                if size > MAX_BUNDLE:
                    raise InvalidRequest(f"bundle larger than {MAX_BUNDLE} bytes")
                h.update(chunk)
                fh.write(chunk)
        if size == 0:
            raise InvalidRequest("empty body: send the bundle file")
        try:
            manifest = await asyncio.to_thread(verify_bundle, Path(tmp), [key.public_key()])
        except BundleError as err:
            raise UnprocessableBundle(str(err)) from err
        sha = h.hexdigest()
        os.replace(tmp, runtime.bundle_path(call.app, sha))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    async with call.app[DB_KEY].session() as s:
        row = await service.add_bundle(s, sha, manifest.kind, manifest.version, size,
                                       call.principal.actor)
        return bundle_json(row)


async def create_job(call: Call) -> JsonObject:
    """Create (and by default start) a job for a bundle."""
    body = call.body_as(JobCreate)
    try:
        stages = parse_stages(body.stages)
    except ValueError as err:
        raise InvalidRequest(str(err)) from err
    async with call.app[DB_KEY].session() as s:
        job = await service.create_job(
            s, bundle_sha256=body.bundle_sha256, target=body.target, stages=stages,
            max_concurrency=body.max_concurrency, abort_failure_pct=body.abort_failure_pct,
            abort_min_finished=body.abort_min_finished,
            abort_health_failures=body.abort_health_failures, timeout_s=body.timeout_s,
            actor=call.principal.actor, start=body.start)
        return job_json(job, await service.executions(s, job.id))


async def list_jobs(call: Call) -> JsonObject:
    async with call.app[DB_KEY].session() as s:
        jobs = await service.list_jobs(s)
        return {"items": [job_json(j, await service.executions(s, j.id)) for j in jobs]}


async def job_detail(call: Call) -> JsonObject:
    async with call.app[DB_KEY].session() as s:
        job = await service.get_job(s, int(call.path["job_id"]))
        execs = await service.executions(s, job.id)
        return {**job_json(job, execs), "executions": [exec_json(e) for e in execs]}


def kiosk_execution_json(e: FleetExecution, job: FleetJob) -> JsonObject:
    return {"store": e.store, "kiosk": e.kiosk, "job_id": job.id, "job_state": job.state,
            "kind": job.kind, "version": job.version, "stage": e.stage, "stages": job.stages,
            "state": e.state, "reason": e.reason, "updated_at": e.updated_at.isoformat()}


async def kiosk_executions(call: Call) -> JsonObject:
    """Per kiosk: its execution of the newest job (stage, state, version, reason)."""
    store = call.principal.store_scope(call.query_as(ExecutionsQuery).store)
    async with call.app[DB_KEY].session() as s:
        rows = await service.kiosk_executions(s, store)
        return {"items": [kiosk_execution_json(e, job) for e, job in rows]}


def _action(action: str) -> Handler:
    async def handler(call: Call) -> JsonObject:
        async with call.app[DB_KEY].session() as s:
            job = await service.change_state(s, int(call.path["job_id"]), action,
                                             call.principal.actor)
            return job_json(job, await service.executions(s, job.id))

    handler.__name__ = f"{action}_job"
    handler.__doc__ = f"{action.capitalize()} a job"
    return handler


async def set_group(call: Call) -> JsonObject:
    pairs = []
    for item in call.body_as(GroupBody).kiosks:
        store, sep, kiosk = item.partition("/")
        if not sep or not store or not kiosk or "/" in kiosk or len(item) > 129:
            raise InvalidRequest(f"kiosk {item!r}: use store/kiosk")
        pairs.append((store, kiosk))
    async with call.app[DB_KEY].session() as s:
        await service.set_group(s, call.path["group"], pairs)
    return {"group": call.path["group"], "kiosks": sorted({f"{s}/{k}" for s, k in pairs})}


async def download_bundle(call: Call) -> web.StreamResponse:
    """A bundle for one kiosk (token from its job command); supports HTTP Range."""
    q = call.query_as(DownloadQuery)
    sha = call.path["sha256"]
    verdict = runtime.token_verdict(call.app[CONFIG_KEY], q.store, q.kiosk, sha, q.token)
    if verdict == "expired":
        log.warning("bundle %s for %s/%s refused: download token expired", sha[:12], q.store,
                    q.kiosk)
        return problem(403, "Forbidden", "download token expired: a bundle URL is good for "
                                         "a day after its job command")
    if verdict != "ok":
        return problem(401, "Unauthorized", "a valid download token for this kiosk is required")
    path = runtime.bundle_path(call.app, sha)
    if not path.is_file():
        raise NotFound(f"no bundle {sha}")
    # FileResponse answers Range (206) and If-Range itself, so a cut download resumes.
    return web.FileResponse(path, headers={"Content-Type": "application/x-tar",
                                           "Cache-Control": "private, no-transform"})


ROUTES = [
    Route("POST", f"{A}/bundles", upload_bundle, "Upload a signed update bundle (head office)",
          TAG, auth="admin", roles=HO, status=201, response=BundleOut,
          raw_body=("application/octet-stream", {"type": "string", "format": "binary"}),
          responses={422: "not a bundle signed by head office", 503: "no signing key"}),
    Route("POST", f"{A}/jobs", create_job, "Create a fleet job (staged rollout)", TAG,
          auth="admin", roles=HO, body=JobCreate, status=201, response=JobOut,
          responses={404: "no such bundle"}),
    Route("GET", f"{A}/jobs", list_jobs, "Fleet jobs, newest first", TAG, auth="admin",
          roles=HO, response=JobList),
    Route("GET", f"{A}/jobs/{{job_id}}", job_detail, "A fleet job with its executions", TAG,
          auth="admin", roles=HO, path_params=JOB_ID, response=JobDetail),
    *[Route("POST", f"{A}/jobs/{{job_id}}/{action}", _action(action),
            f"{action.capitalize()} a fleet job", TAG, auth="admin", roles=HO,
            path_params=JOB_ID, response=JobOut, responses={409: "not possible in this state"})
      for action in ("pause", "resume", "cancel")],
    Route("GET", f"{A}/executions", kiosk_executions,
          "Per kiosk, its execution of the newest fleet job", TAG, auth="admin",
          roles=(auth.HEAD_OFFICE, auth.STORE_STAFF), query=ExecutionsQuery,
          response=KioskExecutionList),
    Route("PUT", f"{A}/groups/{{group}}", set_group, "Set the kiosks of a group", TAG,
          auth="admin", roles=HO, path_params=GROUP, body=GroupBody, response=GroupOut),
    Route("GET", "/api/v1/fleet/bundles/{sha256}", download_bundle,
          "Download a bundle (kiosk, with the token of its job command; HTTP Range)", TAG,
          path_params=SHA, query=DownloadQuery, raw=True, response_type="application/x-tar",
          response={"type": "string", "format": "binary"},
          responses={206: "partial content (Range)", 304: "not modified",
                     401: "no valid token", 403: "download token expired",
                     416: "range not satisfiable"}),
]
