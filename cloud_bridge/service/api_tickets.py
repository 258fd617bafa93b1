"""Staff routes of tickets (``/api/v1/admin/service/...``): queue, detail, status, fields,
notes, messages, canned replies, attachments, and the staff chat WebSocket."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import AwareDatetime, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import Forbidden, InvalidRequest, NotFound
from cloud_bridge.openapi import Call, Ident, QueryModel, RequestModel, Route, ShortText, Text
from common.jsontypes import JsonObject

from . import attachments, schemas, tickets, ws
from .api_common import (
    ID_SCHEMA,
    TAG,
    A,
    db,
    message_list,
    path_id,
    post_and_signal,
    staff_ticket,
)
from .models import Attachment
from .runtime import runtime

Label = Annotated[str, StringConstraints(pattern=r"^[^\x00,]{1,32}$")]
ClientMsgId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Body = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]
# The bytes of the image; its type is read from its first bytes, not from a header.
IMAGE_BODY = ("application/octet-stream", {"type": "string", "format": "binary"})
IMAGE_ERRORS = {413: "image larger than allowed", 415: "not a JPEG, PNG, GIF or WebP image"}


class QueueQuery(QueryModel):
    store: Ident | None = None
    status: schemas.TicketStatus | None = None
    assignee: Ident | None = None
    kind: schemas.TicketKind | None = None
    label: Label | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10**6)


async def list_tickets(call: Call) -> JsonObject:
    """The ticket queue: active tickets, VIP members first, then priority, oldest first."""
    q = call.query_as(QueueQuery)
    store = call.principal.store_scope(q.store)
    async with db(call).session() as s:
        rows, total = await tickets.queue(s, store=store, status=q.status, assignee=q.assignee,
                                          kind=q.kind, label=q.label, limit=q.limit,
                                          offset=q.offset)
        return {"total": total, "items": [tickets.ticket_json(c) for c in rows]}


class OpenTicketBody(RequestModel):
    store: Ident
    channel: schemas.TicketChannel
    kind: schemas.TicketKind = "conversation"
    subject: Text
    priority: schemas.Priority = "normal"
    tier: schemas.Tier | None = None
    category: schemas.Category | None = None
    order_no: Ident | None = None
    member_id: Ident | None = None
    external_ref: Ident | None = Field(default=None, description=(
        "the channel's own id, e.g. a WeChat Pay complaint_id: the same one is one ticket"))


async def open_ticket(call: Call) -> JsonObject:
    """Open a ticket for a kiosk help call, a complaint at the counter or a WeChat Pay
    consumer complaint (one ticket per complaint id)."""
    b = call.body_as(OpenTicketBody)
    call.principal.check_store(b.store)
    async with db(call).session() as s:
        if b.order_no is not None:
            await _check_order(s, b.order_no, b.store)
        conv = await tickets.open_ticket(
            s, store=b.store, channel=b.channel, kind=b.kind, subject=b.subject,
            actor=call.principal.actor, priority=b.priority, tier=b.tier, category=b.category,
            order_no=b.order_no, member_id=b.member_id, external_ref=b.external_ref)
        return tickets.ticket_json(conv)


async def _check_order(s: AsyncSession, order_no: str, store: str) -> None:
    from cloud_bridge import orders

    order = await orders.get_order(s, order_no)
    if order.store != store:
        raise NotFound(f"order {order_no} not found")


async def ticket_detail(call: Call) -> JsonObject:
    """One ticket with its internal notes and its history."""
    async with db(call).session() as s:
        conv = await staff_ticket(s, call, path_id(call, "ticket_id"))
        notes = await tickets.notes(s, conv.id)
        events = await tickets.history(s, conv.id)
        return {**tickets.ticket_json(conv),
                "notes": [{"id": n.id, "author": n.author, "text": n.text,
                           "at": n.at.isoformat()} for n in notes],
                "history": [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                             "detail": e.detail or {}} for e in events]}


class StatusBody(RequestModel):
    status: schemas.TicketStatus
    snooze_until: AwareDatetime | None = None


async def set_status(call: Call) -> JsonObject:
    """Move a ticket: open, pending, snoozed (until a time), resolved, closed."""
    async with db(call).session() as s:
        conv = await staff_ticket(s, call, path_id(call, "ticket_id"), lock=True)
        b = call.body_as(StatusBody)
        s.add(tickets.set_status(conv, b.status, call.principal.actor,
                                 snooze_until=b.snooze_until))
        return tickets.ticket_json(conv)


class FieldsBody(RequestModel):
    priority: schemas.Priority | None = None
    tier: schemas.Tier | None = None
    assignee: Ident | None = None
    labels: list[Label] | None = Field(default=None, max_length=20)
    order_no: Ident | None = None
    member_id: Ident | None = None
    category: schemas.Category | None = None


async def update_ticket(call: Call) -> JsonObject:
    """Change priority, tier, assignee, labels, the linked order or member."""
    b = call.body_as(FieldsBody)
    changes = b.model_dump(exclude_unset=True)
    if any(v is None for k, v in changes.items() if k in ("priority", "tier", "labels")):
        raise InvalidRequest("priority, tier and labels cannot be null")
    async with db(call).session() as s:
        conv = await staff_ticket(s, call, path_id(call, "ticket_id"), lock=True)
        if b.order_no:  # set in this change (unset fields keep their default, None)
            await _check_order(s, b.order_no, conv.store)
        for ev in tickets.update_fields(conv, call.principal.actor, changes):
            s.add(ev)
        return tickets.ticket_json(conv)


class NoteBody(RequestModel):
    text: Text


async def add_note(call: Call) -> JsonObject:
    """An internal note: staff see it, the shopper never does."""
    async with db(call).session() as s:
        conv = await staff_ticket(s, call, path_id(call, "ticket_id"))
        note = await tickets.add_note(s, conv, call.principal.actor,
                                      call.body_as(NoteBody).text)
        return {"id": note.id, "author": note.author, "text": note.text,
                "at": note.at.isoformat()}


class MessagesQuery(QueryModel):
    after_seq: int = Field(default=0, ge=0, le=10**12)
    limit: int = Field(default=100, ge=1, le=200)


async def ticket_messages(call: Call) -> JsonObject:
    """The conversation's messages after ``after_seq``, in order."""
    async with db(call).session() as s:
        conv = await staff_ticket(s, call, path_id(call, "ticket_id"))
        q = call.query_as(MessagesQuery)
        return await message_list(s, conv.id, q.after_seq, q.limit, True)


class ReplyBody(RequestModel):
    client_msg_id: ClientMsgId
    body: Body = ""
    canned_reply_id: int | None = Field(default=None, ge=1, le=10**15)
    attachment_id: Ident | None = None


async def reply(call: Call) -> JsonObject:
    """Answer over HTTP (the WebSocket does the same); a canned reply by its id."""
    b = call.body_as(ReplyBody)
    text = b.body
    async with db(call).session() as s:
        conv = await staff_ticket(s, call, path_id(call, "ticket_id"))
        if b.canned_reply_id is not None:
            canned = {c.id: c for c in await tickets.canned_replies(s, conv.store)}
            if b.canned_reply_id not in canned:
                raise NotFound(f"canned reply {b.canned_reply_id} not found")
            text = canned[b.canned_reply_id].body
    return await post_and_signal(call, conv.id, sender_kind="staff", body=text,
                                 client_msg_id=b.client_msg_id, attachment_id=b.attachment_id)


class CannedQuery(QueryModel):
    store: Ident | None = None


async def list_canned(call: Call) -> JsonObject:
    """Canned replies of a store plus the chain-wide ones."""
    store = call.principal.store_scope(call.query_as(CannedQuery).store)
    async with db(call).session() as s:
        rows = await tickets.canned_replies(s, store)
    return {"items": [{"id": c.id, "store": c.store, "shortcut": c.shortcut, "title": c.title,
                       "body": c.body} for c in rows]}


class CannedBody(RequestModel):
    store: Ident | None = Field(default=None, description="null: chain-wide (head office)")
    shortcut: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,32}$")]
    title: ShortText
    body: Text


async def add_canned(call: Call) -> JsonObject:
    """A canned reply for one store, or chain-wide (head office only)."""
    b = call.body_as(CannedBody)
    if b.store is None and not call.principal.chain_wide:
        raise Forbidden("only head office adds chain-wide canned replies")
    if b.store is not None:
        call.principal.check_store(b.store)
    async with db(call).session() as s:
        c = await tickets.add_canned_reply(s, store=b.store, shortcut=b.shortcut, title=b.title,
                                           body=b.body, actor=call.principal.actor)
        return {"id": c.id, "store": c.store, "shortcut": c.shortcut, "title": c.title,
                "body": c.body}


async def upload_attachment(call: Call) -> JsonObject:
    """An image for a ticket's conversation (JPEG, PNG, GIF, WebP; checked by content)."""
    data = await call.request.read()
    async with db(call).session() as s:
        conv = await staff_ticket(s, call, path_id(call, "ticket_id"))
        att = await attachments.save_image(s, runtime(call.app).storage, data, store=conv.store,
                                           owner=call.principal.actor, purpose="chat")
        return attachments.attachment_json(att)


async def get_attachment(call: Call) -> web.Response:
    """An image of the caller's store."""
    async with db(call).session() as s:
        att = await attachments.get_attachment(s, call.path["attachment_id"])
        if not call.principal.chain_wide and att.store != call.principal.store:
            raise NotFound(f"attachment {att.id} not found")
    return await _image_response(call, att)


async def _image_response(call: Call, att: Attachment) -> web.Response:
    try:
        data = await runtime(call.app).storage.get(att.storage_key)
    except FileNotFoundError as err:
        raise NotFound(f"attachment {att.id} is gone") from err
    return web.Response(body=data, content_type=att.content_type,
                        headers={"Cache-Control": "private, max-age=86400",
                                 "X-Content-Type-Options": "nosniff"})


async def staff_chat(call: Call) -> web.StreamResponse:
    """WebSocket: staff of a store get every new message of its conversations and reply."""
    store = call.path["store"]
    call.principal.check_store(store)
    socket = await ws.open_socket(call.request)
    conn = ws.ChatConnection(call.app, socket, actor=call.principal.actor, sender_kind="staff",
                             store=store, conversation_id=None)
    return await ws.serve(conn)


T = {"ticket_id": ID_SCHEMA}
ROUTES = [
    Route("GET", f"{A}/tickets", list_tickets, "Ticket queue (VIP first)", TAG, auth="admin",
          query=QueueQuery, response=schemas.SvcTicketList),
    Route("POST", f"{A}/tickets", open_ticket, "Open a ticket (help call, complaint)", TAG,
          auth="admin", body=OpenTicketBody, status=201, response=schemas.SvcTicket),
    Route("GET", f"{A}/tickets/{{ticket_id}}", ticket_detail, "One ticket, notes, history", TAG,
          auth="admin", path_params=T, response=schemas.SvcTicketDetail),
    Route("POST", f"{A}/tickets/{{ticket_id}}/status", set_status, "Change a ticket's status",
          TAG, auth="admin", path_params=T, body=StatusBody, response=schemas.SvcTicket),
    Route("PATCH", f"{A}/tickets/{{ticket_id}}", update_ticket,
          "Priority, tier, assignee, labels, linked order/member", TAG, auth="admin",
          path_params=T, body=FieldsBody, response=schemas.SvcTicket),
    Route("POST", f"{A}/tickets/{{ticket_id}}/notes", add_note, "Add an internal note", TAG,
          auth="admin", path_params=T, body=NoteBody, status=201, response=schemas.SvcNote),
    Route("GET", f"{A}/tickets/{{ticket_id}}/messages", ticket_messages, "Messages after a seq",
          TAG, auth="admin", path_params=T, query=MessagesQuery,
          response=schemas.SvcMessageList),
    Route("POST", f"{A}/tickets/{{ticket_id}}/messages", reply, "Reply (text, canned, image)",
          TAG, auth="admin", path_params=T, body=ReplyBody, status=201,
          response=schemas.SvcPosted),
    Route("POST", f"{A}/tickets/{{ticket_id}}/attachments", upload_attachment,
          "Upload an image", TAG, auth="admin", path_params=T, raw_body=IMAGE_BODY, status=201,
          response=schemas.SvcAttachment, responses=IMAGE_ERRORS),
    Route("GET", f"{A}/attachments/{{attachment_id}}", get_attachment, "An image", TAG,
          auth="admin", raw=True, response_type="image/*",
          response={"type": "string", "format": "binary"}),
    Route("GET", f"{A}/canned-replies", list_canned, "Canned replies", TAG, auth="admin",
          query=CannedQuery, response=schemas.SvcCannedReplyList),
    Route("POST", f"{A}/canned-replies", add_canned, "Add a canned reply", TAG, auth="admin",
          body=CannedBody, status=201, response=schemas.SvcCannedReply),
    Route("GET", f"{A}/stores/{{store}}/chat", staff_chat,
          "WebSocket: the store's live chat (Upgrade: websocket)", TAG, auth="admin",
          raw=True, status=101, response_type=None),
]
