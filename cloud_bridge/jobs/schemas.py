"""Request and response models of the fleet job routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from cloud_bridge.openapi import QueryModel, RequestModel
from cloud_bridge.responses import ResponseModel

from .scheduler import ExecState, JobRunState

JobState = JobRunState
TARGET = r"^(all|store:[^\s]{1,64}|group:[^\s]{1,64}|kiosk:[^\s/]{1,64}/[^\s/]{1,64})$"


class JobCreate(RequestModel):
    bundle_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    target: list[str] = Field(min_length=1, max_length=100,
                              description="store:S1, group:G, kiosk:S1/K1 or all")
    stages: list[int] = Field(default=[100], min_length=1, max_length=10,
                              description="cumulative percentages, e.g. [5, 25, 100]")
    max_concurrency: int = Field(default=50, ge=1, le=10000)
    abort_failure_pct: int = Field(default=20, ge=1, le=100)
    abort_min_finished: int = Field(default=1, ge=1, le=100000)
    abort_health_failures: int | None = Field(default=None, ge=1, le=100000)
    timeout_s: int = Field(default=3600, ge=30, le=7 * 86400)
    start: bool = True


class GroupBody(RequestModel):
    kiosks: list[str] = Field(max_length=10000, description="store/kiosk")


class DownloadQuery(QueryModel):
    store: str = Field(default="", max_length=64)
    kiosk: str = Field(default="", max_length=64)
    token: str = Field(default="", max_length=100)


class BundleOut(ResponseModel):
    sha256: str
    kind: Literal["software", "config"]
    version: str
    size: int
    uploaded_by: str
    created_at: datetime


class ExecutionOut(ResponseModel):
    store: str
    kiosk: str
    state: ExecState
    reason: str | None
    attempts: int
    stage: int | None = Field(description="index into the job's stages when it was sent")
    dispatched_at: datetime | None
    finished_at: datetime | None


class JobOut(ResponseModel):
    id: int
    kind: Literal["software", "config"]
    version: str
    bundle_sha256: str
    target: list[str]
    stages: list[int]
    stage: int
    max_concurrency: int
    abort_failure_pct: int
    abort_min_finished: int
    abort_health_failures: int | None
    timeout_s: int
    state: JobState
    state_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    counts: dict[str, int]


class JobDetail(JobOut):
    executions: list[ExecutionOut]


class JobList(ResponseModel):
    items: list[JobOut]


class KioskExecutionOut(ResponseModel):
    """A kiosk's execution of the newest job that targets it."""

    store: str
    kiosk: str
    job_id: int
    job_state: JobState
    kind: Literal["software", "config"]
    version: str
    stage: int | None
    stages: list[int]
    state: ExecState
    reason: str | None
    updated_at: datetime


class KioskExecutionList(ResponseModel):
    items: list[KioskExecutionOut]


class ExecutionsQuery(QueryModel):
    store: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")


class GroupOut(ResponseModel):
    group: str
    kiosks: list[str]
