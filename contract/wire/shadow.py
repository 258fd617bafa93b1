"""Device shadow: desired configuration (cloud, retained) and reported state (kiosk, retained)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from .base import WireMessage, utcnow


class ShadowDesired(WireMessage):
    version: int = Field(ge=1, description="monotonic; an older or equal version is refused")
    config: dict[str, Any] = Field(default_factory=dict)
    ts: datetime = Field(default_factory=utcnow)


class ShadowReported(WireMessage):
    applied_version: int | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    refused_version: int | None = None
    error: str | None = None
    ts: datetime = Field(default_factory=utcnow)


class CatalogPointer(WireMessage):
    """Retained per store: the price book the kiosks should sell on."""

    version: str = Field(min_length=1, max_length=64)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    url: str | None = Field(default=None, description="HTTP fetch from the bridge")
    ts: datetime = Field(default_factory=utcnow)
