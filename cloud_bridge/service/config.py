"""The ``[delivery]`` section of the bridge's configuration: the carrier tracker."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DeliverySection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_url: str = Field(
        default="https://poll.kuaidi100.com", pattern=r"^https?://[^\s]+$",
        description="Kuaidi100 API base (/poll, /poll/query.do); the bridge's own "
        "/sandbox/kuaidi100 when [mp] sandbox is on")
    customer: str | None = Field(default=None, max_length=64,
                                 description="Kuaidi100 customer id; unset: no tracking")
    key_credential: str = Field(default="kuaidi100_key", description="credential name")
    callback_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s]+$",
        description="where the tracker pushes; default <public_url>/api/v1/carrier/kuaidi100/notify")
    poll_after_s: float = Field(default=4 * 3600, ge=60,
                                description="query a shipment not heard of for this long")
    delay_after_h: float = Field(default=48, ge=1,
                                 description="alert the store after this long without news")
