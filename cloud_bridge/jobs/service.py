"""Fleet jobs as plain async functions over an ``AsyncSession`` (no HTTP, no MQTT).

- :func:`add_bundle`: record a bundle whose signature was checked (:mod:`.bundles`);
- :func:`create_job`: resolve the target to kiosks, one queued execution each;
- :func:`change_state`: pause, resume, cancel (head office);
- :func:`sync_reports`: move executions along from the kiosks' ``cmd/res`` reports
  (the ``job`` command's own result and the :class:`JobProgress` reports after it);
- :func:`step`: one scheduler round of one job (:func:`.scheduler.plan` applied); returns
  the executions to send the signed command to, already marked dispatched;
- :func:`kiosk_executions`: per kiosk, its execution of the newest job that targets it
  (the fleet view's update column).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.models import CommandResultRow, Kiosk, now
from common.jsontypes import JsonObject
from contract.wire.commands import JOB_STATES, JOB_TERMINAL

from .models import FleetBundle, FleetExecution, FleetGroupMember, FleetJob
from .scheduler import EXEC_FINISHED, EXEC_STATES, JOB_FINAL, SUPERSEDED, ExecView, JobParams, plan

# Whom a target string names.
TARGET_KINDS = ("all", "store", "group", "kiosk")
TRANSITIONS = {
    "pause": ({"running", "created"}, "paused"),
    "resume": ({"paused", "created"}, "running"),
    "cancel": ({"running", "paused", "created"}, "cancelled"),
}


def parse_target(spec: str) -> tuple[str, str]:
    """``store:S1`` / ``group:G`` / ``kiosk:S1/K1`` / ``all`` -> (kind, value)."""
    kind, _, value = spec.partition(":")
    if kind == "all" and not value:
        return kind, ""
    if kind not in TARGET_KINDS or not value or len(value) > 130:
        raise InvalidRequest(f"target {spec!r}: use store:S, group:G, kiosk:S/K or all")
    if kind == "kiosk" and value.count("/") != 1:
        raise InvalidRequest(f"target {spec!r}: a kiosk is store/kiosk")
    return kind, value


async def resolve_targets(session: AsyncSession, targets: list[str]) -> list[tuple[str, str]]:
    """The (store, kiosk) pairs a target list names, sorted, without duplicates."""
    found: set[tuple[str, str]] = set()
    for spec in targets:
        kind, value = parse_target(spec)
        if kind == "kiosk":
            store, kiosk = value.split("/")
            found.add((store, kiosk))
            continue
        if kind == "group":
            rows = await session.execute(select(FleetGroupMember.store, FleetGroupMember.kiosk)
                                         .where(FleetGroupMember.group == value))
        else:
            q = select(Kiosk.store, Kiosk.kiosk)
            rows = await session.execute(q.where(Kiosk.store == value) if kind == "store" else q)
        found.update((s, k) for s, k in rows.all())
    return sorted(found)


async def set_group(session: AsyncSession, group: str, kiosks: list[tuple[str, str]]) -> None:
    """Replace the members of ``group``."""
    old = (await session.scalars(select(FleetGroupMember)
                                 .where(FleetGroupMember.group == group))).all()
    for row in old:
        await session.delete(row)
    await session.flush()
    session.add_all(FleetGroupMember(group=group, store=s, kiosk=k) for s, k in sorted(set(kiosks)))


async def add_bundle(session: AsyncSession, sha256: str, kind: str, version: str, size: int,
                     actor: str) -> FleetBundle:
    """Record a verified bundle (idempotent: the same bytes twice is one bundle)."""
    row = await session.get(FleetBundle, sha256)
    if row is None:
        row = FleetBundle(sha256=sha256, kind=kind, version=version, size=size,
                          uploaded_by=actor, created_at=now())
        session.add(row)
        await session.flush()
    return row


async def create_job(session: AsyncSession, *, bundle_sha256: str, target: list[str],
                     stages: tuple[int, ...], max_concurrency: int, abort_failure_pct: int,
                     abort_min_finished: int, abort_health_failures: int | None,
                     timeout_s: int, actor: str, start: bool = True) -> FleetJob:
    bundle = await session.get(FleetBundle, bundle_sha256)
    if bundle is None:
        raise NotFound(f"no bundle {bundle_sha256}")
    kiosks = await resolve_targets(session, target)
    if not kiosks:
        raise InvalidRequest("the target names no known kiosk")
    at = now()
    job = FleetJob(bundle_sha256=bundle.sha256, kind=bundle.kind, version=bundle.version,
                   target=list(target), stages=list(stages), stage=0,
                   max_concurrency=max_concurrency, abort_failure_pct=abort_failure_pct,
                   abort_min_finished=abort_min_finished,
                   abort_health_failures=abort_health_failures, timeout_s=timeout_s,
                   state="running" if start else "created", created_by=actor,
                   created_at=at, updated_at=at)
    session.add(job)
    await session.flush()
    session.add_all(FleetExecution(job_id=job.id, store=s, kiosk=k, state="queued",
                                   attempts=0, updated_at=at) for s, k in kiosks)
    await session.flush()
    return job


async def get_job(session: AsyncSession, job_id: int, *, lock: bool = False) -> FleetJob:
    q = select(FleetJob).where(FleetJob.id == job_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    job = (await session.scalars(q.execution_options(populate_existing=True))).first()
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


async def change_state(session: AsyncSession, job_id: int, action: str, actor: str) -> FleetJob:
    job = await get_job(session, job_id, lock=True)
    allowed, target = TRANSITIONS[action]
    if job.state not in allowed:
        raise Conflict(f"job {job_id} is {job.state}; cannot {action}")
    job.state, job.state_reason, job.updated_at = target, f"{action} by {actor}", now()
    return job


async def executions(session: AsyncSession, job_id: int) -> list[FleetExecution]:
    return list((await session.scalars(
        select(FleetExecution).where(FleetExecution.job_id == job_id)
        .order_by(FleetExecution.store, FleetExecution.kiosk))).all())


def _progress_state(row: CommandResultRow, cmd_id: str) -> tuple[str, str | None] | None:
    """(state, reason) a ``cmd/res`` row reports about the job command ``cmd_id``."""
    if row.cmd_id == cmd_id:  # the command's own answer: refused, or accepted (queued)
        return None if row.ok else ("failed", row.error or "refused")
    result = row.result or {}
    state = result.get("state")
    return (state, result.get("reason")) if state in JOB_STATES else None


async def sync_reports(session: AsyncSession, execs: list[FleetExecution],
                       at: datetime | None = None) -> int:
    """Apply the kiosks' reports to in-flight executions (seen at ``at``); how many changed."""
    at = at or now()
    changed = 0
    for ex in execs:
        if ex.cmd_id is None or ex.state in JOB_TERMINAL:
            continue
        rows = (await session.scalars(select(CommandResultRow).where(
            CommandResultRow.store == ex.store, CommandResultRow.kiosk == ex.kiosk,
            or_(CommandResultRow.cmd_id == ex.cmd_id,
                CommandResultRow.cmd_id.like(f"{ex.cmd_id}.%"))))).all()
        best: tuple[int, str, str | None] | None = None
        for row in rows:
            got = _progress_state(row, ex.cmd_id)
            if got is None:
                continue
            rank = JOB_STATES.index(got[0])
            if best is None or rank > best[0]:
                best = (rank, got[0], got[1])
        if best is not None and best[1] != ex.state:
            ex.state, ex.reason, ex.updated_at = best[1], (best[2] or None), at
            if ex.reason:
                ex.reason = ex.reason[:300]
            if ex.state in JOB_TERMINAL:
                ex.finished_at = at
            changed += 1
    return changed


@dataclass(frozen=True, slots=True)
class Dispatch:
    job_id: int
    store: str
    kiosk: str
    cmd_id: str
    args: JsonObject


async def other_jobs(session: AsyncSession, job: FleetJob, execs: list[FleetExecution]
                     ) -> tuple[set[tuple[str, str]], dict[tuple[str, str], str]]:
    """For the kiosks ``job`` has yet to send to: those busy with another job's execution
    in flight, and per kiosk the newest newer job of the same kind that wants it (running,
    or already succeeded there) - the rules of :func:`.scheduler.plan`."""
    waiting = {(e.store, e.kiosk) for e in execs
               if e.state == "queued" and e.dispatched_at is None}
    if not waiting:
        return set(), {}
    rows = (await session.execute(
        select(FleetExecution.store, FleetExecution.kiosk, FleetExecution.state,
               FleetExecution.dispatched_at, FleetJob.id, FleetJob.kind, FleetJob.state,
               FleetJob.version)
        .join(FleetJob, FleetJob.id == FleetExecution.job_id)
        .where(FleetExecution.store.in_(sorted({s for s, _ in waiting})),
               FleetExecution.job_id != job.id)
        .order_by(FleetJob.id))).all()
    busy: set[tuple[str, str]] = set()
    newer: dict[tuple[str, str], str] = {}
    for store, kiosk, state, sent_at, other, kind, other_state, version in rows:
        key = (store, kiosk)
        if key not in waiting:
            continue
        if sent_at is not None and state not in EXEC_FINISHED:
            busy.add(key)
        if other > job.id and kind == job.kind and (
                other_state == "running" or state == "succeeded"):
            newer[key] = f"job {other} ({version})"  # ordered by id: the newest wins
    return busy, newer


def params(job: FleetJob) -> JobParams:
    return JobParams(job.state, tuple(job.stages), job.stage, job.max_concurrency,
                     job.abort_failure_pct, job.abort_min_finished, job.abort_health_failures,
                     job.timeout_s)


# The ``job`` command's arguments for one execution: (job, its bundle, execution) -> args.
JobArgsOf = Callable[[FleetJob, FleetBundle, FleetExecution], JsonObject]


async def step(session: AsyncSession, job_id: int, at: datetime, new_cmd_id: Callable[[], str],
               job_args: JobArgsOf) -> list[Dispatch]:
    """One round of one job; the dispatches are marked in this transaction (send after it)."""
    job = await get_job(session, job_id, lock=True)
    if job.state != "running":
        return []
    execs = await executions(session, job_id)
    await sync_reports(session, execs, at)
    stores = sorted({e.store for e in execs})
    online = {(k.store, k.kiosk): k.state == "online" for k in (await session.scalars(
        select(Kiosk).where(Kiosk.store.in_(stores)))).all()}
    busy, newer = await other_jobs(session, job, execs)
    views = [ExecView(e.store, e.kiosk, e.state, e.dispatched_at,
                      online.get((e.store, e.kiosk), False), busy=(e.store, e.kiosk) in busy,
                      newer=newer.get((e.store, e.kiosk))) for e in execs]
    decision = plan(params(job), views, at)
    by_key = {(e.store, e.kiosk): e for e in execs}
    for key in decision.timed_out:
        ex = by_key[key]
        ex.state, ex.reason, ex.finished_at, ex.updated_at = "failed", "no answer", at, at
    for key, by in decision.superseded.items():
        ex = by_key[key]
        ex.state, ex.reason, ex.finished_at, ex.updated_at = SUPERSEDED, f"superseded by {by}", at, at
    if decision.state != job.state or decision.stage != job.stage:
        job.state, job.stage, job.updated_at = decision.state, decision.stage, at
        job.state_reason = decision.reason
    out = []
    if decision.state == "running" and decision.dispatch:
        bundle = await session.get(FleetBundle, job.bundle_sha256)
        if bundle is None:  # a job is created for a stored bundle, which is never deleted
            raise NotFound(f"bundle {job.bundle_sha256} of job {job.id} is gone")
        for key in decision.dispatch:
            ex = by_key[key]
            ex.cmd_id, ex.dispatched_at, ex.updated_at = new_cmd_id(), at, at
            ex.attempts, ex.stage = ex.attempts + 1, decision.stage
            out.append(Dispatch(job.id, ex.store, ex.kiosk, ex.cmd_id, job_args(job, bundle, ex)))
    return out


async def kiosk_executions(session: AsyncSession, store: str | None = None,
                           limit: int = 5000) -> list[tuple[FleetExecution, FleetJob]]:
    """Per kiosk (of ``store``, or all): its execution of the newest job targeting it."""
    newest = select(FleetExecution.store, FleetExecution.kiosk,
                    func.max(FleetExecution.job_id).label("job_id"))
    if store is not None:
        newest = newest.where(FleetExecution.store == store)
    latest = newest.group_by(FleetExecution.store, FleetExecution.kiosk).subquery()
    rows = await session.execute(
        select(FleetExecution, FleetJob)
        .join(latest, (FleetExecution.store == latest.c.store)
              & (FleetExecution.kiosk == latest.c.kiosk)
              & (FleetExecution.job_id == latest.c.job_id))
        .join(FleetJob, FleetJob.id == FleetExecution.job_id)
        .order_by(FleetExecution.store, FleetExecution.kiosk).limit(limit))
    return [(ex, job) for ex, job in rows.all()]


async def running_job_ids(session: AsyncSession) -> list[int]:
    return list((await session.scalars(select(FleetJob.id).where(FleetJob.state == "running")
                                       .order_by(FleetJob.id))).all())


def counts(execs: list[FleetExecution]) -> dict[str, int]:
    out: dict[str, int] = {s: 0 for s in EXEC_STATES}
    for e in execs:
        out[e.state] = out.get(e.state, 0) + 1
    return out


async def list_jobs(session: AsyncSession, limit: int = 100) -> list[FleetJob]:
    return list((await session.scalars(select(FleetJob).order_by(FleetJob.id.desc())
                                       .limit(limit))).all())


def is_final(job: FleetJob) -> bool:
    return job.state in JOB_FINAL
