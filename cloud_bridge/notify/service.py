"""Subscribe messages: grants, the outbox, and sending through WeChat.

``POST /cgi-bin/message/subscribe/send?access_token=`` with ``touser``, ``template_id``,
``page`` and ``data`` (``{"thing1": {"value": ...}}``). WeChat's answers, as handled:
``0`` sent (one grant used); ``43101`` the shopper has not accepted (or used up) the
template: skipped, the grant set to 0; ``-1`` busy and ``45009`` daily limit: tried again
later (at most ``MAX_ATTEMPTS``); ``40003`` bad openid, ``40037`` bad template id,
``47003`` bad data: failed, logged, never retried (retrying cannot fix them).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import Database
from cloud_bridge.errors import NotFound
from common.jsontypes import JsonMapping, JsonObject

from .models import NotifyGrant, NotifyMessage

log = logging.getLogger(__name__)

SEND_PATH = "/cgi-bin/message/subscribe/send"
MAX_ATTEMPTS = 5
RETRY = frozenset({-1, 45009})
NOT_SUBSCRIBED = 43101
MAX_GRANTS = 100  # WeChat lets one acceptance send one message; nobody accepts 100 ahead


def _now() -> datetime:
    return datetime.now(UTC)


async def grant(s: AsyncSession, openid: str, keys: list[str]) -> dict[str, int]:
    """The shopper accepted these templates once more (``wx.requestSubscribeMessage``)."""
    for key in sorted(set(keys)):
        row = await s.scalar(select(NotifyGrant).where(
            NotifyGrant.openid == openid, NotifyGrant.template_key == key).with_for_update())
        if row is None:
            s.add(NotifyGrant(openid=openid, template_key=key, remaining=1, updated_at=_now()))
        else:
            row.remaining = min(row.remaining + keys.count(key), MAX_GRANTS)
            row.updated_at = _now()
    await s.flush()
    return await grants(s, openid)


async def grants(s: AsyncSession, openid: str) -> dict[str, int]:
    rows = await s.execute(select(NotifyGrant.template_key, NotifyGrant.remaining)
                           .where(NotifyGrant.openid == openid))
    return dict(rows.tuples().all())


async def enqueue(s: AsyncSession, *, dedupe_key: str, openid: str, template_key: str,
                  data: dict[str, str], page: str | None = None) -> bool:
    """Store a message to send; ``False`` when this reminder was enqueued before."""
    exists = await s.scalar(select(NotifyMessage.id).where(
        NotifyMessage.dedupe_key == dedupe_key))
    if exists is not None:
        return False
    try:
        async with s.begin_nested():
            s.add(NotifyMessage(dedupe_key=dedupe_key, openid=openid, template_key=template_key,
                                data=data, page=page, status="pending", next_try_at=_now(),
                                created_at=_now()))
    except IntegrityError:  # another worker enqueued it meanwhile
        return False
    return True


async def _post(http: aiohttp.ClientSession, url: str, token: str,
                body: JsonMapping) -> int:
    try:
        async with http.post(url, params={"access_token": token}, json=body,
                             allow_redirects=False) as r:
            if r.status != 200:
                return -1
            data: object = await r.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return -1
    if not isinstance(data, dict):  # an answer without errcode, as .get would have failed
        return -1
    try:
        return int(data.get("errcode") or 0)
    except (TypeError, ValueError, AttributeError):
        return -1


async def send_due(db: Database, http: aiohttp.ClientSession, base_url: str, token: str,
                   templates: dict[str, str], now: datetime | None = None) -> dict[str, int]:
    """Send the pending messages whose time has come (counts by outcome)."""
    now = now or _now()
    counts = {"sent": 0, "skipped": 0, "failed": 0, "retry": 0}
    async with db.session() as s:
        due = [(m.id, m.openid, m.template_key, m.data, m.page) for m in (await s.scalars(
            select(NotifyMessage).where(NotifyMessage.status == "pending",
                                        NotifyMessage.next_try_at <= now)
            .order_by(NotifyMessage.id).limit(200))).all()]
    for msg_id, openid, key, data, page in due:
        template = templates.get(key)
        async with db.session() as s:
            g = await s.scalar(select(NotifyGrant).where(
                NotifyGrant.openid == openid, NotifyGrant.template_key == key)
                .with_for_update())
            msg = await s.get(NotifyMessage, msg_id, with_for_update=True)
            if msg is None or msg.status != "pending":
                continue   # another worker took it
            if template is None or g is None or g.remaining < 1:
                msg.status = "skipped"
                msg.error = "no template configured" if template is None else "not subscribed"
                counts["skipped"] += 1
                continue
            # Claimed: a crash after the POST leaves it "sending", never sent twice.
            msg.status, msg.attempts = "sending", msg.attempts + 1
            g.remaining -= 1
        body = {"touser": openid, "template_id": template, "page": page or "pages/index/index",
                "data": {k: {"value": v} for k, v in data.items()}, "lang": "zh_CN"}
        code = await _post(http, base_url + SEND_PATH, token, body)
        async with db.session() as s:
            msg = await s.get(NotifyMessage, msg_id, with_for_update=True)
            if msg is None:  # claimed above: only a deleted row is missing
                raise NotFound(f"notify message {msg_id} not found")
            if code == 0:
                msg.status, msg.sent_at, msg.error = "sent", _now(), None
                counts["sent"] += 1
                continue
            # Not delivered: the grant was not used.
            await s.execute(update(NotifyGrant).where(
                NotifyGrant.openid == openid, NotifyGrant.template_key == key)
                .values(remaining=0 if code == NOT_SUBSCRIBED else NotifyGrant.remaining + 1))
            msg.error = f"errcode {code}"
            if code == NOT_SUBSCRIBED:
                msg.status = "skipped"
                counts["skipped"] += 1
            elif code in RETRY and msg.attempts < MAX_ATTEMPTS:
                msg.status = "pending"
                msg.next_try_at = _now() + timedelta(seconds=30 * 2 ** msg.attempts)
                counts["retry"] += 1
            else:
                msg.status = "failed"
                log.warning("subscribe message %d to %s failed: errcode %d", msg_id, key, code)
                counts["failed"] += 1
    return counts


def message_json(m: NotifyMessage) -> JsonObject:
    return {"id": m.id, "template_key": m.template_key, "status": m.status,
            "attempts": m.attempts, "error": m.error, "created_at": m.created_at.isoformat(),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None}
