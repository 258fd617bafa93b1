"""The fleet jobs page: per kiosk the execution of its newest job, and the jobs list."""

from __future__ import annotations

from cloud_bridge import fleet
from cloud_bridge.console.call import PageCall
from cloud_bridge.console.views.dashboard import visible_stores
from common.jsontypes import JsonObject

from .. import service


def stage_text(stage: int | None, stages: list[int]) -> str:
    """``2/3 (25%)``: the stage a kiosk was sent in, of the job's stages; ``—`` if not sent."""
    if stage is None or not 0 <= stage < len(stages):
        return "—"
    return f"{stage + 1}/{len(stages)} ({stages[stage]}%)"


async def updates(call: PageCall) -> JsonObject:
    store = call.store_filter()
    async with call.db.session() as s:
        executions = await service.kiosk_executions(s, store)
        running = {(k["store"], k["kiosk"]): k["version"]
                   for k in await fleet.fleet_view(s, store)}
        jobs = []
        if call.principal.chain_wide:
            for job in await service.list_jobs(s, limit=20):
                counts = service.counts(await service.executions(s, job.id))
                jobs.append({"job": job, "counts": counts,
                             "stage": stage_text(job.stage, job.stages)})
    rows = [{"e": e, "job": job, "key": f"{e.store}/{e.kiosk}",
             "running": running.get((e.store, e.kiosk)) or "—",
             "stage": stage_text(e.stage, job.stages),
             "updated": call.when(e.updated_at, e.store, seconds=True)}
            for e, job in executions]
    return {"rows": rows, "jobs": jobs, "store": store, "stores": await visible_stores(call)}
