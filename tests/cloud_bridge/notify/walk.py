"""The notification part of the OpenAPI success walk."""

from __future__ import annotations

from typing import Any


def walk(call: Any, ctx: dict[str, Any]) -> None:
    call("POST", "/api/v1/mp/notify/subscriptions", body={"accepted": ["appointment_reminder"]})
    call("GET", "/api/v1/mp/notify/subscriptions")
    call("GET", "/api/v1/admin/notify/messages", query={"status": "sent"})
    call("POST", "/sandbox/cgi-bin/message/subscribe/send",
         query={"access_token": "sandbox-access-token"},
         body={"touser": "o-walker", "template_id": "TPL", "data": {"thing1": {"value": "会员咨询"}}})
