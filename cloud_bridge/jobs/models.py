"""Tables of fleet jobs (prefix ``fleet_``): bundles, groups, jobs and per-kiosk executions.

A job rolls one uploaded bundle out to its target kiosks in stages; each target kiosk
has one execution row whose state the kiosk's reports move along (see
:mod:`cloud_bridge.jobs.scheduler` for the rules).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now


class FleetBundle(Base):
    """An uploaded, signature-checked bundle; the file lives in the bundle directory."""

    __tablename__ = "fleet_bundles"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class FleetGroupMember(Base):
    """A kiosk in a named group (``group:NAME`` targets)."""

    __tablename__ = "fleet_group_members"
    group: Mapped[str] = mapped_column(String(64), primary_key=True)
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk: Mapped[str] = mapped_column(String(64), primary_key=True)


class FleetJob(Base):
    __tablename__ = "fleet_jobs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bundle_sha256: Mapped[str] = mapped_column(ForeignKey("fleet_bundles.sha256"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(64))
    target: Mapped[list[str]] = mapped_column(JSON)  # ["store:S1", "group:G", "kiosk:S1/K1"]
    stages: Mapped[list[int]] = mapped_column(JSON)  # cumulative percentages, last is 100
    stage: Mapped[int] = mapped_column(Integer, default=0)  # index into stages
    max_concurrency: Mapped[int] = mapped_column(Integer)
    # Abort when failed/finished >= abort_failure_pct once abort_min_finished have finished,
    # or when this many kiosks failed their health check (rolled back).
    abort_failure_pct: Mapped[int] = mapped_column(Integer)
    abort_min_finished: Mapped[int] = mapped_column(Integer)
    abort_health_failures: Mapped[int | None] = mapped_column(Integer)
    timeout_s: Mapped[int] = mapped_column(Integer)  # per execution, once dispatched
    state: Mapped[str] = mapped_column(String(16), index=True)
    state_reason: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class FleetExecution(Base):
    """One kiosk's run of one job."""

    __tablename__ = "fleet_executions"
    job_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("fleet_jobs.id"),
        primary_key=True)
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(300))
    cmd_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The job's stage (index into its stages) when this kiosk was sent the job.
    stage: Mapped[int | None] = mapped_column(Integer)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    __table_args__ = (Index("ix_fleet_executions_kiosk", "store", "kiosk"),)
