"""The rollout rules (:func:`cloud_bridge.jobs.scheduler.plan`) on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud_bridge.jobs.scheduler import ExecView, JobParams, allowed_in_stage, parse_stages, plan

T0 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def job(**kw) -> JobParams:
    base = dict(state="running", stages=(10, 50, 100), stage=0, max_concurrency=100,
                abort_failure_pct=50, abort_min_finished=2, abort_health_failures=None,
                timeout_s=600)
    base.update(kw)
    return JobParams(**base)


def fleet(n: int, **states) -> list[ExecView]:
    """n kiosks k00..; ``states`` maps index -> (state) for dispatched ones."""
    out = []
    for i in range(n):
        st = states.get(f"k{i:02d}")
        out.append(ExecView("s1", f"k{i:02d}", st or "queued", T0 if st else None))
    return out


def test_first_stage_dispatches_its_share_only():
    p = plan(job(), fleet(20), T0)
    assert p.state == "running" and p.stage == 0
    assert p.dispatch == [("s1", "k00"), ("s1", "k01")]  # 10 % of 20


def test_stage_waits_for_its_kiosks_then_advances():
    execs = fleet(20, k00="succeeded", k01="installing")
    assert plan(job(), execs, T0).dispatch == []  # k01 still in flight: canary not done
    execs = fleet(20, k00="succeeded", k01="succeeded")
    p = plan(job(), execs, T0)
    assert p.stage == 1 and len(p.dispatch) == 8  # 50 % of 20 = 10, 2 done


def test_concurrency_caps_in_flight():
    p = plan(job(stages=(100,), max_concurrency=3), fleet(20, k00="downloading"), T0)
    assert len(p.dispatch) == 2


def test_offline_kiosks_wait_queued():
    execs = [ExecView("s1", "a", "queued", None, online=False),
             ExecView("s1", "b", "queued", None, online=True)]
    assert plan(job(stages=(100,)), execs, T0).dispatch == [("s1", "b")]


def test_a_kiosk_busy_with_another_job_waits_queued():
    execs = [ExecView("s1", "a", "queued", None, busy=True),
             ExecView("s1", "b", "queued", None)]
    p = plan(job(stages=(100,)), execs, T0)
    assert p.dispatch == [("s1", "b")] and p.state == "running"


def test_a_newer_job_supersedes_what_was_not_sent_yet():
    execs = [ExecView("s1", "a", "queued", None, online=False, newer="job 9 (1.3.0)"),
             ExecView("s1", "b", "succeeded", T0, newer="job 9 (1.3.0)"),  # sent: stays
             ExecView("s1", "c", "queued", None)]
    p = plan(job(stages=(100,), abort_failure_pct=1, abort_min_finished=1), execs, T0)
    assert p.superseded == {("s1", "a"): "job 9 (1.3.0)"}
    assert p.dispatch == [("s1", "c")] and p.state == "running"  # not counted a failure
    done = [ExecView("s1", "a", "superseded", None), ExecView("s1", "b", "succeeded", T0),
            ExecView("s1", "c", "succeeded", T0)]
    assert plan(job(stages=(100,)), done, T0).state == "completed"


def test_superseded_kiosks_fill_their_stage():
    execs = [ExecView("s1", f"k{i}", "superseded" if i < 2 else "queued", None)
             for i in range(4)]
    p = plan(job(stages=(50, 100)), execs, T0)
    assert p.stage == 1 and p.dispatch == [("s1", "k2"), ("s1", "k3")]


def test_failure_rate_aborts():
    execs = fleet(20, k00="failed", k01="succeeded", k02="rolled_back")
    p = plan(job(abort_failure_pct=50, abort_min_finished=3), execs, T0)
    assert p.state == "aborted" and "2/3" in p.reason and p.dispatch == []


def test_too_few_finished_does_not_abort_yet():
    p = plan(job(abort_min_finished=3), fleet(20, k00="failed", k01="installing"), T0)
    assert p.state == "running"


def test_health_failures_abort():
    execs = fleet(20, k00="rolled_back", k01="succeeded")
    p = plan(job(abort_health_failures=1, abort_failure_pct=100), execs, T0)
    assert p.state == "aborted" and "health" in p.reason


def test_timeouts_fail_and_count():
    execs = fleet(4, k00="downloading")
    p = plan(job(stages=(25, 100), abort_min_finished=1, abort_failure_pct=100), execs,
             T0 + timedelta(seconds=601))
    assert p.timed_out == [("s1", "k00")]
    assert p.state == "aborted"


def test_all_finished_completes():
    execs = fleet(2, k00="succeeded", k01="succeeded")
    assert plan(job(), execs, T0).state == "completed"


@pytest.mark.parametrize("state", ["paused", "cancelled", "aborted", "created"])
def test_only_running_jobs_move(state):
    p = plan(job(state=state), fleet(5), T0)
    assert p.state == state and p.dispatch == []


def test_stages_parse():
    assert parse_stages("5%,25%,100%") == (5, 25, 100)
    assert parse_stages("10%") == (10, 100)
    for bad in ("0%", "50%,20%", "x", "101%"):
        with pytest.raises(ValueError):
            parse_stages(bad)
    assert allowed_in_stage(3, 5) == 1 and allowed_in_stage(200, 5) == 10
