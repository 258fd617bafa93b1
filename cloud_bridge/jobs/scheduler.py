"""The rollout rules of a fleet job, as one pure function: :func:`plan`.

Given a job's parameters, its executions and the time, :func:`plan` says what to do
next: which executions timed out, whether the job aborts or completes, which stage it
is in, and which kiosks get the job command now. No database, no MQTT: the runtime
(:mod:`.runtime`) applies the plan, so the rules are tested on their own.

Rules (AWS IoT Jobs' rollout/abort model, with Mender-style staged canaries):

- stages are cumulative percentages of the target (e.g. 5, 25, 100): stage ``i`` may have
  ``ceil(total * stages[i] / 100)`` kiosks dispatched (at least one);
- the job moves to the next stage only when every dispatched execution has finished, so
  each stage is a canary for the next;
- at most ``max_concurrency`` executions are in flight at once;
- only online kiosks are dispatched; an offline one stays queued until it reconnects;
- a kiosk runs one job at a time: while it has another job's execution in flight it is not
  dispatched (it would refuse the command); it stays queued;
- a kiosk converges to the newest wanted version: a queued execution not yet sent is
  ``superseded`` (finished, not a failure) when a newer job of the same kind targets the
  kiosk and is running or already succeeded there, so a kiosk that was off for a month
  gets only the newest release, never an older one after it;
- an execution in flight longer than ``timeout_s`` fails ("no answer");
- abort when ``failures / finished >= abort_failure_pct %`` once ``abort_min_finished``
  have finished, or when ``abort_health_failures`` kiosks rolled back (failed health);
- complete when every execution has finished.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, get_args

from contract.wire.commands import JOB_STATES as JOB_STATES_WIRE
from contract.wire.commands import JOB_TERMINAL
from contract.wire.commands import JobState as WireJobState

JobRunState = Literal["created", "running", "paused", "cancelled", "aborted", "completed"]
JOB_STATES: tuple[JobRunState, ...] = get_args(JobRunState)
JOB_FINAL = ("cancelled", "aborted", "completed")
FAILURES = ("failed", "rolled_back")
# An execution the bridge finished without sending it: a newer job wants the kiosk. The
# kiosk never reports it, so it is not one of the wire's JOB_STATES.
SUPERSEDED: Literal["superseded"] = "superseded"
ExecState = WireJobState | Literal["superseded"]
EXEC_STATES: tuple[ExecState, ...] = (*JOB_STATES_WIRE, SUPERSEDED)
EXEC_FINISHED = (*JOB_TERMINAL, SUPERSEDED)


@dataclass(frozen=True, slots=True)
class JobParams:
    state: str
    stages: tuple[int, ...]
    stage: int
    max_concurrency: int
    abort_failure_pct: int
    abort_min_finished: int
    abort_health_failures: int | None
    timeout_s: int


@dataclass(frozen=True, slots=True)
class ExecView:
    """One kiosk's execution as the rules see it.

    ``busy``: the kiosk has another job's execution in flight. ``newer``: the newer job of
    the same kind that wants this kiosk (e.g. ``"job 9 (1.3.0)"``), if any.
    """

    store: str
    kiosk: str
    state: str
    dispatched_at: datetime | None
    online: bool = True
    busy: bool = False
    newer: str | None = None


@dataclass(slots=True)
class Plan:
    state: str
    stage: int
    reason: str | None = None
    dispatch: list[tuple[str, str]] = field(default_factory=list)
    timed_out: list[tuple[str, str]] = field(default_factory=list)
    superseded: dict[tuple[str, str], str] = field(default_factory=dict)  # -> by whom


def allowed_in_stage(total: int, pct: int) -> int:
    """How many kiosks a stage of ``pct`` % lets be dispatched (cumulative, at least 1)."""
    return min(total, max(1, math.ceil(total * pct / 100)))


def plan(job: JobParams, execs: list[ExecView], now: datetime) -> Plan:
    """The next step of ``job``; see the module docstring for the rules."""
    if job.state != "running":
        return Plan(job.state, job.stage)
    limit = timedelta(seconds=job.timeout_s)
    timed_out = [(e.store, e.kiosk) for e in execs
                 if e.dispatched_at is not None and e.state not in JOB_TERMINAL
                 and now - e.dispatched_at > limit]
    superseded = {(e.store, e.kiosk): e.newer for e in execs
                  if e.newer and e.state == "queued" and e.dispatched_at is None}
    late = set(timed_out)
    states = ["failed" if (e.store, e.kiosk) in late
              else SUPERSEDED if (e.store, e.kiosk) in superseded else e.state for e in execs]
    total = len(execs)
    finished = sum(s in EXEC_FINISHED for s in states)
    failures = sum(s in FAILURES for s in states)
    health = states.count("rolled_back")
    out = Plan("running", job.stage, timed_out=timed_out, superseded=superseded)
    if job.abort_health_failures and health >= job.abort_health_failures:
        out.state, out.reason = "aborted", f"{health} kiosk(s) failed the health check"
        return out
    if finished and finished >= job.abort_min_finished and (
            failures * 100 >= job.abort_failure_pct * finished):
        out.state = "aborted"
        out.reason = (f"failure rate {failures}/{finished} reached "
                      f"{job.abort_failure_pct}%")
        return out
    if finished == total:
        out.state, out.reason = "completed", None
        return out
    # A superseded execution takes its place in the stage as a sent one would.
    dispatched = sum(e.dispatched_at is not None or st == SUPERSEDED
                     for e, st in zip(execs, states, strict=True))
    in_flight = dispatched - finished
    stage = job.stage
    allowed = allowed_in_stage(total, job.stages[stage])
    while dispatched >= allowed and in_flight == 0 and stage < len(job.stages) - 1:
        stage += 1
        allowed = allowed_in_stage(total, job.stages[stage])
    out.stage = stage
    room = min(allowed - dispatched, job.max_concurrency - in_flight)
    if room > 0:
        ready = sorted((e.store, e.kiosk) for e, st in zip(execs, states, strict=True)
                       if e.dispatched_at is None and st == "queued" and e.online
                       and not e.busy)
        out.dispatch = ready[:room]
    return out


def parse_stages(text: str | list[int] | None) -> tuple[int, ...]:
    """``"5%,25%,100%"`` (or a list) as cumulative percentages ending at 100."""
    if text is None:
        return (100,)
    parts = text if isinstance(text, list) else [p for p in text.split(",") if p.strip()]
    try:
        stages = tuple(int(str(p).strip().rstrip("%")) for p in parts)
    except ValueError as err:
        raise ValueError("stages are percentages such as 5%,25%,100%") from err
    if not stages or any(not 1 <= s <= 100 for s in stages):
        raise ValueError("each stage is a percentage from 1 to 100")
    if any(b <= a for a, b in itertools.pairwise(stages)):
        raise ValueError("stages must increase")
    return stages if stages[-1] == 100 else (*stages, 100)
