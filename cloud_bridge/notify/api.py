"""Routes of notifications: the mini-program reports accepted templates; head office reads
the outbox; with ``[mp] sandbox``, a fake of WeChat's subscribe-message endpoint."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cloud_bridge import auth, keys
from cloud_bridge.db import Database
from cloud_bridge.openapi import Call, QueryModel, RequestModel, Route, ShortText
from common.jsontypes import JsonObject

from . import service
from .models import NotifyMessage
from .runtime import SANDBOX_TOKEN, runtime

TAG = "notify"


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Grants(Out):
    grants: dict[str, int]


class Message(Out):
    id: int
    template_key: str
    status: str
    attempts: int
    error: str | None
    created_at: str
    sent_at: str | None


class MessageList(Out):
    items: list[Message]


class SendReply(Out):
    errcode: int
    errmsg: str
    msgid: int | None = None


def _db(call: Call) -> Database:
    return call.app[keys.DB_KEY]


class AcceptedBody(RequestModel):
    accepted: list[ShortText] = Field(min_length=1, max_length=20,
                                      description="reminder keys the shopper accepted")


async def accept(call: Call) -> JsonObject:
    """The shopper accepted these reminders in ``wx.requestSubscribeMessage`` (one message
    each); only keys with a configured template count."""
    known = call.app[keys.CONFIG_KEY].notify.templates
    wanted = [k for k in call.body_as(AcceptedBody).accepted if k in known]
    async with _db(call).session() as s:
        return {"grants": await service.grant(s, call.openid, wanted)}


async def my_grants(call: Call) -> JsonObject:
    """How many reminders of each kind I may still be sent."""
    async with _db(call).read() as s:
        return {"grants": await service.grants(s, call.openid)}


class MessagesQuery(QueryModel):
    status: Literal["pending", "sending", "sent", "skipped", "failed"] | None = None
    limit: int = Field(default=100, ge=1, le=1000)


async def messages(call: Call) -> JsonObject:
    """The outbox, newest first (head office)."""
    query = call.query_as(MessagesQuery)
    q = select(NotifyMessage).order_by(NotifyMessage.id.desc()).limit(query.limit)
    if query.status:
        q = q.where(NotifyMessage.status == query.status)
    async with _db(call).read() as s:
        return {"items": [service.message_json(m) for m in await s.scalars(q)]}


class SandboxQuery(QueryModel):
    access_token: str = Field(default="", max_length=512)


async def sandbox_send(call: Call) -> JsonObject:
    """Fake of WeChat's subscribe-message send: its checks and error codes."""
    if call.query_as(SandboxQuery).access_token != SANDBOX_TOKEN:
        return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
    try:
        body = await call.request.json()
        if not isinstance(body, dict):  # as indexing a list or a string would
            raise TypeError("the body is not an object")
        touser, template, data = body["touser"], body["template_id"], body["data"]
    except (ValueError, KeyError, TypeError):
        return {"errcode": 47001, "errmsg": "data format error"}
    if not isinstance(touser, str) or not touser:
        return {"errcode": 40003, "errmsg": "invalid openid"}
    if not isinstance(template, str) or not template or template.startswith("bad"):
        return {"errcode": 40037, "errmsg": "invalid template_id"}
    sb = runtime(call.app).sandbox
    if touser in sb.refused:
        return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
    for name, item in (data or {}).items():
        value = item.get("value") if isinstance(item, dict) else None
        limit = 20 if name.startswith("thing") else 32
        if not isinstance(value, str) or not value or len(value) > limit:
            return {"errcode": 47003, "errmsg": f"argument invalid! data.{name}.value invalid"}
    sb.sent.append(body)
    return {"errcode": 0, "errmsg": "ok", "msgid": len(sb.sent)}


ROUTES = [
    Route("POST", "/api/v1/mp/notify/subscriptions", accept, "Reminders I accepted", TAG,
          auth="mp", body=AcceptedBody, response=Grants),
    Route("GET", "/api/v1/mp/notify/subscriptions", my_grants, "Reminders I may be sent", TAG,
          auth="mp", response=Grants),
    Route("GET", "/api/v1/admin/notify/messages", messages, "The reminder outbox", TAG,
          auth="admin", query=MessagesQuery, roles=(auth.HEAD_OFFICE,), response=MessageList),
]
SANDBOX_ROUTES = [
    Route("POST", "/sandbox/cgi-bin/message/subscribe/send", sandbox_send,
          "Sandbox WeChat subscribe message", "sandbox", query=SandboxQuery,
          raw_body=("application/json", {"type": "object"}), response=SendReply),
]
