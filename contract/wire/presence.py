"""Presence (retained status, last will) and periodic telemetry."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from .base import WireMessage, utcnow


class KioskStatus(WireMessage):
    """Retained on ``status``; the broker publishes the ``offline`` last will for us."""

    state: Literal["online", "offline"]
    version: str | None = None
    boot_time: datetime | None = None
    ts: datetime = Field(default_factory=utcnow)
    reason: str | None = Field(default=None, description="why offline: shutdown, lwt, ...")


class Telemetry(WireMessage):
    """QoS 0 health report every ``telemetry_interval_s``."""

    ts: datetime = Field(default_factory=utcnow)
    queue_depth: int = Field(ge=0)
    oldest_unsent_s: float | None = Field(default=None, ge=0)
    dead_letters: int = Field(default=0, ge=0)
    link: str = "up"
    printer: str = "unknown"
    paper: str = "unknown"
    camera: str = "unknown"
    camera_fps: float | None = None
    decode_ms_p50: float | None = None
    display: str = "unknown"
    disk_free_mb: int | None = None
    cpu_temp_c: float | None = None
    offline_health: str = Field(default="ok", description="ok | warning | paused")
    config_version: int | None = None
    catalog_version: str | None = None
    maintenance: bool = False
