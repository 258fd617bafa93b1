"""Mini-program routes of conversations (``/api/v1/mp/service/...``): start one, read and
send messages, images, the shopper's chat WebSocket, complaints and suggestions."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import NotFound
from cloud_bridge.openapi import Call, Ident, QueryModel, RequestModel, Route, Text
from common.jsontypes import JsonObject

from . import attachments, schemas, tickets, ws
from .api_common import (
    ID_SCHEMA,
    TAG,
    M,
    db,
    message_list,
    my_conversation,
    path_id,
    post_and_signal,
)
from .api_tickets import IMAGE_BODY, IMAGE_ERRORS, Body, ClientMsgId, _image_response
from .models import Conversation
from .runtime import runtime


def conversation_json(c: Conversation) -> JsonObject:
    return {"id": c.id, "store": c.store, "kind": c.kind, "channel": c.channel,
            "status": c.status, "category": c.category, "subject": c.subject,
            "order_no": c.order_no, "last_seq": c.last_seq,
            "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat()}


async def _my_order(s: AsyncSession, call: Call, order_no: str | None, store: str) -> None:
    """A linked order must be the caller's and of that store (else 404, nothing leaks)."""
    if order_no is None:
        return
    from cloud_bridge import orders

    try:
        order = await orders.get_order(s, order_no)
    except NotFound:
        order = None
    if order is None or order.openid != call.openid or order.store != store:
        raise NotFound(f"order {order_no} not found")


class StartBody(RequestModel):
    store: Ident
    subject: Text
    order_no: Ident | None = None


async def start_conversation(call: Call) -> JsonObject:
    """Start a chat with a store (optionally about one of my orders)."""
    b = call.body_as(StartBody)
    async with db(call).session() as s:
        await _my_order(s, call, b.order_no, b.store)
        conv = await tickets.open_ticket(s, store=b.store, channel="chat", subject=b.subject,
                                         actor=call.principal.actor,
                                         openid=call.openid, order_no=b.order_no)
        return conversation_json(conv)


class ComplaintBody(RequestModel):
    store: Ident
    kind: schemas.TicketKind = Field(description="complaint or suggestion")
    category: schemas.Category
    subject: Text
    text: Text
    order_no: Ident | None = None


async def file_complaint(call: Call) -> JsonObject:
    """A complaint or a suggestion (complaint form): a ticket of its own kind."""
    b = call.body_as(ComplaintBody)
    if b.kind == "conversation":
        from cloud_bridge.errors import InvalidRequest

        raise InvalidRequest("kind must be complaint or suggestion")
    async with db(call).session() as s:
        await _my_order(s, call, b.order_no, b.store)
        conv = await tickets.open_ticket(
            s, store=b.store, channel="complaint_form", kind=b.kind, category=b.category,
            subject=b.subject, actor=call.principal.actor, openid=call.openid,
            order_no=b.order_no, priority="high" if b.kind == "complaint" else "normal")
        conv_id = conv.id
    await post_and_signal(call, conv_id, sender_kind="customer", body=b.text,
                          client_msg_id="complaint-text", attachment_id=None)
    async with db(call).session() as s:
        return conversation_json(await my_conversation(s, call, conv_id))


class MineQuery(QueryModel):
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=10**6)


async def my_conversations(call: Call) -> JsonObject:
    """My conversations, complaints and suggestions, newest first."""
    q = call.query_as(MineQuery)
    cond = Conversation.openid == call.openid
    async with db(call).session() as s:
        total = await s.scalar(select(func.count()).select_from(Conversation).where(cond))
        rows = (await s.scalars(select(Conversation).where(cond).order_by(
            Conversation.updated_at.desc(), Conversation.id.desc())
            .limit(q.limit).offset(q.offset))).all()
    return {"total": int(total or 0), "items": [conversation_json(c) for c in rows]}


class MessagesQuery(QueryModel):
    after_seq: int = Field(default=0, ge=0, le=10**12)
    limit: int = Field(default=100, ge=1, le=200)


async def conversation_messages(call: Call) -> JsonObject:
    """Messages of my conversation after ``after_seq``, in order."""
    async with db(call).session() as s:
        conv = await my_conversation(s, call, path_id(call, "conversation_id"))
        q = call.query_as(MessagesQuery)
        return await message_list(s, conv.id, q.after_seq, q.limit, False)


class SendBody(RequestModel):
    client_msg_id: ClientMsgId
    body: Body = ""
    attachment_id: Ident | None = None


async def send_message(call: Call) -> JsonObject:
    """Send a message over HTTP (when the WebSocket is not open)."""
    b = call.body_as(SendBody)
    async with db(call).session() as s:
        conv = await my_conversation(s, call, path_id(call, "conversation_id"))
    return await post_and_signal(call, conv.id, sender_kind="customer", body=b.body,
                                 client_msg_id=b.client_msg_id, attachment_id=b.attachment_id)


async def upload_image(call: Call) -> JsonObject:
    """An image for my conversation (JPEG, PNG, GIF, WebP; checked by content)."""
    data = await call.request.read()
    async with db(call).session() as s:
        conv = await my_conversation(s, call, path_id(call, "conversation_id"))
        att = await attachments.save_image(s, runtime(call.app).storage, data, store=conv.store,
                                           owner=call.principal.actor, purpose="chat")
        return attachments.attachment_json(att)


async def get_image(call: Call) -> web.Response:
    """An image I sent, or one sent in my conversations."""
    async with db(call).session() as s:
        att = await attachments.get_attachment(s, call.path["attachment_id"])
        if not await attachments.visible_to_shopper(s, att, call.principal.actor,
                                                    call.openid):
            raise NotFound(f"attachment {att.id} not found")
    return await _image_response(call, att)


class ChatQuery(QueryModel):
    last_seq: int = Field(default=0, ge=0, le=10**12,
                          description="the last seq this client saw; missed messages follow")


async def shopper_chat(call: Call) -> web.StreamResponse:
    """WebSocket: my conversation live; reconnect with last_seq to get what was missed."""
    from .kb_search import suggest_for_chat

    async with db(call).session() as s:
        conv = await my_conversation(s, call, path_id(call, "conversation_id"))
    socket = await ws.open_socket(call.request)
    conn = ws.ChatConnection(call.app, socket, actor=call.principal.actor,
                             sender_kind="customer", store=conv.store, conversation_id=conv.id,
                             last_seq=call.query_as(ChatQuery).last_seq,
                             suggest=suggest_for_chat(call.app))
    return await ws.serve(conn)


C = {"conversation_id": ID_SCHEMA}
ROUTES = [
    Route("POST", f"{M}/conversations", start_conversation, "Start a chat with a store", TAG,
          auth="mp", body=StartBody, status=201, response=schemas.SvcConversation),
    Route("GET", f"{M}/conversations", my_conversations, "My conversations", TAG, auth="mp",
          query=MineQuery, response=schemas.SvcConversationList),
    Route("POST", f"{M}/complaints", file_complaint, "File a complaint or suggestion", TAG,
          auth="mp", body=ComplaintBody, status=201, response=schemas.SvcConversation),
    Route("GET", f"{M}/conversations/{{conversation_id}}/messages", conversation_messages,
          "Messages after a seq", TAG, auth="mp", path_params=C, query=MessagesQuery,
          response=schemas.SvcMessageList),
    Route("POST", f"{M}/conversations/{{conversation_id}}/messages", send_message,
          "Send a message", TAG, auth="mp", path_params=C, body=SendBody, status=201,
          response=schemas.SvcPosted),
    Route("POST", f"{M}/conversations/{{conversation_id}}/attachments", upload_image,
          "Upload an image", TAG, auth="mp", path_params=C, raw_body=IMAGE_BODY, status=201,
          response=schemas.SvcAttachment, responses=IMAGE_ERRORS),
    Route("GET", f"{M}/attachments/{{attachment_id}}", get_image, "An image", TAG, auth="mp",
          raw=True, response_type="image/*", response={"type": "string", "format": "binary"}),
    Route("GET", f"{M}/conversations/{{conversation_id}}/chat", shopper_chat,
          "WebSocket: my conversation live (Upgrade: websocket)", TAG, auth="mp",
          path_params=C, query=ChatQuery, raw=True, status=101, response_type=None),
]
