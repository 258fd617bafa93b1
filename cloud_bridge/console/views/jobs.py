"""A job's page: progress while it runs, then its result or its file."""

from __future__ import annotations

from aiohttp import web

from cloud_bridge.errors import NotFound
from common.jsontypes import JsonObject

from ..call import PageCall
from ..models import ConsoleJob


async def _job(call: PageCall) -> ConsoleJob:
    job_id = call.path["job_id"]
    async with call.db.session() as s:
        job = await s.get(ConsoleJob, int(job_id)) if job_id.isdigit() else None
    # Only its owner sees a job (an export holds the owner's view of the data).
    if job is None or job.owner_id != call.active.user.id:
        raise NotFound(f"job {job_id} not found")
    return job


async def job_page(call: PageCall) -> JsonObject | web.StreamResponse:
    job = await _job(call)
    if "application/json" in call.request.headers.get("Accept", ""):
        return web.json_response({"status": job.status, "done": job.done, "total": job.total,
                                  "error": job.error})
    return {"job": job, "kind_label": call.t(f"job.{job.kind}")}


async def job_file(call: PageCall) -> web.StreamResponse:
    job = await _job(call)
    if job.status != "done" or job.file_body is None:
        raise NotFound("no file")
    return web.Response(body=job.file_body, headers={
        "Content-Type": job.file_type or "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{job.file_name}"'})
