"""``[console]`` of the bridge config: sessions, cookies and the stores' time zones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:  # the bridge config holds this section
    from cloud_bridge.config import BridgeConfig


class ConsoleSection(BaseModel):
    """How the merchant console (``/console/``) keeps sessions and shows times."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(default=True, description="serve the console under /console/")
    idle_timeout_s: int = Field(
        default=30 * 60, ge=30, le=24 * 3600,
        description="a session unused this long is over (the clerk logs in again)")
    session_ttl_s: int = Field(
        default=12 * 3600, ge=60, le=7 * 24 * 3600,
        description="a session is over this long after login whatever its use")
    secure_cookie: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Secure cookie flag: auto = when the request came over https "
        "(or X-Forwarded-Proto: https from a proxy on the same host)")
    default_language: Literal["zh", "en"] = "zh"
    store_timezones: dict[str, str] = Field(
        default_factory=dict,
        description="IANA zone per store id (e.g. {S9 = \"Asia/Urumqi\"}); stores not "
        "listed use [bridge] timezone")
    fleet_sample_s: int = Field(
        default=60, ge=0, le=3600,
        description="sample kiosks online and queue age per store this often for the fleet "
        "charts (0: never)")
    export_max_rows: int = Field(default=200_000, ge=1, le=5_000_000,
                                 description="rows one CSV/XLSX export may hold")

    @field_validator("store_timezones")
    @classmethod
    def _zones_exist(cls, value: dict[str, str]) -> dict[str, str]:
        for store, zone in value.items():
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError) as err:
                raise ValueError(f"{store}: unknown time zone {zone!r}") from err
        return value


def console_config(config: BridgeConfig) -> ConsoleSection:
    """``config.console`` (its defaults when the TOML has no ``[console]``)."""
    return config.console
