"""Response models of the security routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from cloud_bridge.responses import ResponseModel, Role


class UserState(ResponseModel):
    username: str
    role: Role
    store: str | None
    disabled: bool = Field(description="a disabled user cannot log in; its sessions are ended")


class AuditLineOut(ResponseModel):
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    source: str | None
    detail: str


class AuditList(ResponseModel):
    items: list[AuditLineOut]


class Purged(ResponseModel):
    deleted: dict[str, int] = Field(description="rows deleted per table")
