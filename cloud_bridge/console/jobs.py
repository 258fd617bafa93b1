"""Long operations started from a page (exports, reconciliation) with visible progress.

A job is a row (:class:`~.models.ConsoleJob`) and an asyncio task in the worker that
started it; the task writes its progress to the row, so the job page (and its JSON,
polled by ``console.js``) shows it from any worker. A worker that stops cancels its
tasks; their rows end ``failed`` and the clerk starts again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import update

from cloud_bridge.db import Database
from cloud_bridge.models import now
from common.jsontypes import JsonObject

from .call import PageCall
from .models import ConsoleJob

#: The console's running background jobs (exports, reconciliations), ended with the app.
TASKS_KEY = web.AppKey("console_tasks", set[asyncio.Task[None]])

log = logging.getLogger(__name__)

# Progress is written at most this often (a write per row would slow the job down).
PROGRESS_EVERY_S = 0.3


@dataclass(slots=True)
class Output:
    """What a finished job leaves: a file to download and/or a result to show."""

    result: JsonObject | None = None
    file_name: str | None = None
    file_type: str | None = None
    body: bytes | None = None


class Progress:
    """Handed to the job's work: ``await progress(done, total)`` (throttled writes)."""

    def __init__(self, db: Database, job_id: int) -> None:
        self.db, self.job_id = db, job_id
        self._last = 0.0

    async def __call__(self, done: int, total: int, force: bool = False) -> None:
        loop = asyncio.get_running_loop()
        if not force and loop.time() - self._last < PROGRESS_EVERY_S:
            return
        self._last = loop.time()
        async with self.db.session() as s:
            await s.execute(update(ConsoleJob).where(ConsoleJob.id == self.job_id)
                            .values(done=done, total=total, updated_at=now()))


Work = Callable[[Progress], Awaitable[Output]]


async def start(call: PageCall, kind: str, params: JsonObject, work: Work) -> int:
    """Record the job, run ``work`` in the background, return the job id."""
    async with call.db.session() as s:
        job = ConsoleJob(kind=kind, owner_id=call.active.user.id, status="running", done=0,
                         total=0, params=params, created_at=now(), updated_at=now(), size=0)
        s.add(job)
        await s.flush()
        job_id = job.id
    db = call.db

    tasks = call.request.app[TASKS_KEY]
    task = asyncio.create_task(_run(db, job_id, work), name=f"console-job-{job_id}")
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return job_id


async def _run(db: Database, job_id: int, work: Work) -> None:
    progress = Progress(db, job_id)
    try:
        out = await work(progress)
    except asyncio.CancelledError:
        await _finish(db, job_id, status="failed", error="stopped with the bridge")
        raise
    except Exception as err:  # the clerk sees the reason on the job page
        log.exception("console job %d failed", job_id)
        await _finish(db, job_id, status="failed", error=str(err)[:500])
        return
    await _finish(db, job_id, status="done", out=out)


async def _finish(db: Database, job_id: int, *, status: str, out: Output | None = None,
                  error: str | None = None) -> None:
    values: dict[str, object] = {"status": status, "updated_at": now(), "error": error}
    if out is not None:
        values.update(result=out.result, file_name=out.file_name, file_type=out.file_type,
                      file_body=out.body, size=len(out.body or b""))
    async with db.session() as s:
        job = await s.get(ConsoleJob, job_id)
        if job is not None:
            if status == "done":
                values["done"] = max(job.done, job.total)
            for k, v in values.items():
                setattr(job, k, v)


def job_url(job_id: int) -> str:
    return f"/console/jobs/{job_id}"


def redirect_to(job_id: int) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(job_url(job_id))
