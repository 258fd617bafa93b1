"""The ``[notify]`` section: which WeChat subscribe-message template serves which reminder."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NotifySection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    templates: dict[str, str] = Field(
        default_factory=dict,
        description="reminder key -> template id picked in the mini-program's console, e.g. "
        "appointment_reminder = \"...\"; a key without a template is not sent")
    send_interval_s: float = Field(default=30.0, ge=1, description="how often the outbox is sent")
    appointment_lead_min: int = Field(default=120, ge=5, le=7 * 24 * 60,
                                      description="remind a booking this long before it starts")
