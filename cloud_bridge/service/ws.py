"""Live chat over aiohttp WebSocket: shoppers on one conversation, staff on their store.

Frames are JSON objects with a ``type``. From clients::

    {"type": "message", "client_msg_id": "c-1", "body": "你好", "attachment_id": null}
        (staff add "conversation_id")
    {"type": "resume", "last_seq": {"12": 5}}     staff: what they saw per conversation
    {"type": "typing", "text": "退货"}              shopper: suggested FAQ articles back
    {"type": "ping"}

To clients: ``message`` (stored messages, each with its ``seq``), ``ack`` (your message
is stored as ``seq``), ``suggestions``, ``error``, ``pong``.

Delivery: one task per connection sends, per conversation, every message with a seq
above the last one it sent, read from the database in seq order; signals from the hub
(or the poll) only say when to look. So each connection gets each message once and in
order, and a shopper who reconnects with ``?last_seq=N`` gets exactly what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import timedelta

from aiohttp import WSMsgType, web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import BridgeError, InvalidRequest
from cloud_bridge.keys import DB_KEY
from cloud_bridge.models import now
from common.jsontypes import JsonMapping, JsonObject

from . import chat
from .hub import POLL_S, Signal, Subscriber
from .kb_search import Suggest
from .models import Conversation, Message
from .runtime import runtime

log = logging.getLogger(__name__)

# Largest frame a client may send (a message is at most 2000 characters of text).
MAX_FRAME_BYTES = 64 * 1024
# Keep-alive pings; a client that stops answering is dropped after about this long.
HEARTBEAT_S = 30.0
# Staff connections look back this far for conversations to poll (clock skew margin).
POLL_LOOKBACK = timedelta(seconds=60)


class ChatConnection:
    """One WebSocket client: reads its frames, sends what it has not seen yet."""

    def __init__(self, app: web.Application, ws: web.WebSocketResponse, *, actor: str,
                 sender_kind: str, store: str, conversation_id: int | None,
                 last_seq: int = 0, suggest: Suggest | None = None) -> None:
        self.app = app
        self.ws = ws
        self.db = app[DB_KEY]
        self.hub = runtime(app).hub
        self.actor = actor
        self.sender_kind = sender_kind
        self.store = store
        self.conversation_id = conversation_id
        self.connected_at = now()
        self.last_sent: dict[int, int] = {}
        self.suggest = suggest
        if conversation_id is not None:
            self.last_sent[conversation_id] = last_seq
            self.sub = Subscriber(conversations={conversation_id})
        else:
            self.sub = Subscriber(store=store)
        self._send_lock = asyncio.Lock()

    async def send(self, obj: JsonObject) -> None:
        async with self._send_lock:
            await self.ws.send_str(json.dumps(obj, ensure_ascii=False))

    async def run(self) -> None:
        self.hub.subscribe(self.sub)
        if self.conversation_id is not None:
            self.sub.pending.add(self.conversation_id)
            self.sub.wake.set()
        sender = asyncio.create_task(self._deliver(), name="svc-chat-deliver")
        try:
            await self._read()
        finally:
            self.hub.unsubscribe(self.sub)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    # ------------------------------------------------------------------ delivery

    async def _deliver(self) -> None:
        while not self.ws.closed:
            polled = False
            try:
                await asyncio.wait_for(self.sub.wake.wait(), timeout=POLL_S)
            except TimeoutError:
                polled = True
            self.sub.wake.clear()
            todo, self.sub.pending = self.sub.pending, set()
            try:
                if polled:
                    todo |= await self._poll()
                for conv_id in sorted(todo):
                    await self._flush(conv_id)
            except (ConnectionResetError, RuntimeError):
                return  # the socket closed under us; the reader ends the connection
            except Exception:
                log.exception("chat delivery failed; retried at the next poll")

    async def _poll(self) -> set[int]:
        async with self.db.sessions() as s:
            if self.conversation_id is not None:
                rows = [(self.conversation_id, await s.scalar(select(Conversation.last_seq)
                         .where(Conversation.id == self.conversation_id)))]
            else:
                rows = [(cid, last) for cid, last in await s.execute(
                    select(Conversation.id, Conversation.last_seq).where(
                        Conversation.store == self.store,
                        Conversation.updated_at >= self.connected_at - POLL_LOOKBACK))]
        return {cid for cid, last in rows
                if last is not None and last > self.last_sent.get(cid, -1)}

    async def _baseline(self, s: AsyncSession, conv_id: int) -> int:
        """Staff get new messages of a conversation they did not resume: after connecting."""
        seq = await s.scalar(select(func.max(Message.seq)).where(
            Message.conversation_id == conv_id, Message.created_at < self.connected_at))
        return int(seq or 0)

    async def _flush(self, conv_id: int) -> None:
        while True:
            async with self.db.sessions() as s:
                if conv_id not in self.last_sent:
                    self.last_sent[conv_id] = await self._baseline(s, conv_id)
                rows = await chat.messages_after(s, conv_id, self.last_sent[conv_id])
                atts = await chat.attachments_of(s, {m.attachment_id for m in rows
                                                     if m.attachment_id})
            for msg in rows:
                if msg.seq <= self.last_sent[conv_id]:
                    continue
                await self.send(chat.message_json(msg, atts.get(msg.attachment_id or ""),
                                                  staff_view=self.sender_kind == "staff"))
                self.last_sent[conv_id] = msg.seq
            if len(rows) < chat.PAGE:
                return

    # ------------------------------------------------------------------ reading

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type != WSMsgType.TEXT:
                if frame.type == WSMsgType.BINARY:
                    await self.send({"type": "error", "status": 400,
                                     "detail": "send JSON text frames"})
                continue
            try:
                obj = json.loads(frame.data)
                if not isinstance(obj, dict):
                    raise InvalidRequest("a frame must be a JSON object")
                await self._handle(obj)
            except ValueError:
                await self.send({"type": "error", "status": 400, "detail": "frame is not JSON"})
            except BridgeError as err:
                await self.send({"type": "error", "status": err.status, "detail": err.detail,
                                 "client_msg_id": obj.get("client_msg_id")
                                 if isinstance(obj, dict) else None})

    async def _handle(self, obj: JsonMapping) -> None:
        kind = obj.get("type")
        if kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "message":
            await self._post(obj)
        elif kind == "resume" and self.conversation_id is None:
            await self._resume(obj.get("last_seq"))
        elif kind == "typing" and self.suggest is not None:
            text = obj.get("text")
            if isinstance(text, str) and text.strip():
                items = await self.suggest(self.store, text[:200])
                await self.send({"type": "suggestions", "text": text[:200], "items": items})
        else:
            raise InvalidRequest(f"unknown frame type {kind!r}")

    async def _resume(self, last_seq: object) -> None:
        if not isinstance(last_seq, dict) or len(last_seq) > 1000:
            raise InvalidRequest("resume needs last_seq: {conversation_id: seq}")
        try:
            wanted = {int(k): int(v) for k, v in last_seq.items()}
        except (TypeError, ValueError) as err:
            raise InvalidRequest("last_seq maps conversation ids to numbers") from err
        async with self.db.sessions() as s:
            mine = set((await s.scalars(select(Conversation.id).where(
                Conversation.id.in_(wanted), Conversation.store == self.store))).all())
        for cid in mine:
            self.last_sent[cid] = max(wanted[cid], 0)
            self.sub.pending.add(cid)
        self.sub.wake.set()

    async def _post(self, obj: JsonMapping) -> None:
        conv_id = self.conversation_id
        if conv_id is None:
            raw = obj.get("conversation_id")
            if not isinstance(raw, int) or isinstance(raw, bool):
                raise InvalidRequest("staff messages name their conversation_id")
            conv_id = raw
        client_msg_id = obj.get("client_msg_id")
        if not isinstance(client_msg_id, str) or not 0 < len(client_msg_id) <= 64:
            raise InvalidRequest("a message needs a client_msg_id (1-64 characters)")
        body = obj.get("body") or ""
        attachment_id = obj.get("attachment_id")
        if not isinstance(body, str) or not (attachment_id is None
                                             or isinstance(attachment_id, str)):
            raise InvalidRequest("body and attachment_id are strings")
        sig: Signal | None = None

        async def work(s: AsyncSession) -> chat.Posted:
            nonlocal sig
            conv = await s.get(Conversation, conv_id)
            if conv is None or conv.store != self.store:
                raise InvalidRequest(f"no conversation {conv_id} here")
            posted = await chat.post_message(
                s, conv_id, sender_kind=self.sender_kind, sender=self.actor, body=body,
                client_msg_id=client_msg_id, attachment_id=attachment_id)
            if posted.new:
                sig = Signal(conv_id, self.store, posted.message.seq)
                await self.hub.in_transaction(s, sig)
            return posted

        posted = await self.db.transact(work)
        if sig is not None:
            self.hub.after_commit(sig)
        await self.send({"type": "ack", "conversation_id": conv_id,
                         "client_msg_id": client_msg_id, "seq": posted.message.seq})


async def open_socket(request: web.Request) -> web.WebSocketResponse:
    """The upgraded socket, or a 400 problem for a plain HTTP request."""
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_FRAME_BYTES)
    if not ws.can_prepare(request).ok:
        raise InvalidRequest("this is a WebSocket endpoint: send an Upgrade: websocket request")
    await ws.prepare(request)
    return ws


async def serve(conn: ChatConnection) -> web.WebSocketResponse:
    with contextlib.suppress(ConnectionResetError):
        await conn.run()
    return conn.ws
