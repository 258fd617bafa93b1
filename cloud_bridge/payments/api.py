"""HTTP routes of payments: provider notifications and members' stored value.

* ``POST /api/v1/pay/notify/wechat``: WeChat Pay v3 notification (signed headers,
  AES-256-GCM resource). Accepted: ``204``; refused: 4xx/5xx with
  ``{"code": "FAIL", "message": ...}`` (WeChat retries). The body is also a problem
  document (``type, title, status, detail``) like every other error of the bridge.
* ``POST /api/v1/pay/notify/alipay``: Alipay asynchronous notification (form, RSA2).
  The reply is the plain text ``success`` (stop sending) or ``fail`` (send again).
* ``GET /api/v1/admin/members/{member_id}/balance`` and ``POST .../balance/topups``:
  a member's stored value (储值) and a top-up at the counter, idempotent by ``key``.
"""

from __future__ import annotations

import logging

from aiohttp import web
from pydantic import Field
from sqlalchemy import select

from cloud_bridge import responses
from cloud_bridge.errors import NotFound, Unavailable
from cloud_bridge.keys import SERVICES_KEY
from cloud_bridge.openapi import Call, Ident, RequestModel, Route, ShortText, Text, problem
from common.jsontypes import JsonObject

from .models import MemberBalance, StoredValueEntry
from .providers.stored_value import StoredValueProvider
from .service import PaymentService

log = logging.getLogger(__name__)

MAX_TOPUP_FEN = 10**9  # ten million yuan: far above any real top-up
ENTRIES_SHOWN = 20


def _service(call: Call) -> PaymentService | None:
    return call.app[SERVICES_KEY].payments


def _wechat_fail(status: int, message: str) -> web.Response:
    return problem(status, "Notification refused", message, code="FAIL", message=message)


async def wechat_notify(call: Call) -> web.Response:
    """WeChat Pay notification: 204 when applied; FAIL (4xx/5xx) makes WeChat send again."""
    svc = _service(call)
    if svc is None or "wechat" not in svc.providers:
        return _wechat_fail(404, "wechat pay is not configured here")
    body = await call.request.read()
    if await svc.handle_notification("wechat", dict(call.request.headers), body):
        return web.Response(status=204)
    return _wechat_fail(400, "notification refused")


async def alipay_notify(call: Call) -> web.Response:
    """Alipay notification: plain ``success`` when applied, ``fail`` otherwise."""
    svc = _service(call)
    ok = False
    if svc is not None and "alipay" in svc.providers:
        ok = await svc.handle_notification("alipay", dict(call.request.headers),
                                           await call.request.read())
    return web.Response(text="success" if ok else "fail", content_type="text/plain")


def _stored_value(call: Call) -> StoredValueProvider:
    svc = _service(call)
    provider = svc.providers.get("stored_value") if svc is not None else None
    if not isinstance(provider, StoredValueProvider):
        raise Unavailable("stored value is not enabled ([payments] stored_value)")
    return provider


async def member_balance(call: Call) -> JsonObject:
    """A member's stored-value balance (fen) and latest ledger entries."""
    provider = _stored_value(call)
    member_id = call.path["member_id"]
    async with provider.db.session() as s:
        row = await s.get(MemberBalance, member_id)
        entries = (await s.scalars(
            select(StoredValueEntry).where(StoredValueEntry.member_id == member_id)
            .order_by(StoredValueEntry.id.desc()).limit(ENTRIES_SHOWN))).all()
    if row is None and not entries:
        raise NotFound(f"member {member_id} has no stored value")
    return {
        "member_id": member_id, "balance": row.balance if row else 0,
        "currency": row.currency if row else "CNY",
        "entries": [{"key": e.entry_key, "delta": e.delta, "balance_after": e.balance_after,
                     "shortfall": e.shortfall, "offline": e.offline,
                     "at": e.created_at.isoformat()} for e in entries],
    }


class TopUpBody(RequestModel):
    amount: int = Field(ge=1, le=MAX_TOPUP_FEN, description="fen")
    key: Ident = Field(description="idempotency key: the same key tops up once")
    store: Ident | None = Field(default=None, description="the counter's store (store staff: "
                                "their own, the default)")
    approver: ShortText | None = Field(default=None, description="a second person's username "
                                       "(at or above the approval threshold)")
    approver_secret: Text | None = Field(default=None, description="the second person's secret")


async def member_top_up(call: Call) -> JsonObject:
    """Top up a member's stored value (储值充值) at the counter; idempotent by ``key``.

    Scoped, capped per call and per day by role, a second person above a threshold, who
    recorded (:mod:`cloud_bridge.security.topups`).
    """
    from cloud_bridge.security import runtime as security_runtime
    from cloud_bridge.security import service as security
    from cloud_bridge.security import topups

    provider = _stored_value(call)
    member_id, b = call.path["member_id"], call.body_as(TopUpBody)
    await topups.authorize(provider.db, security_runtime.guard(call.app), call.principal,
                           member_id, b.amount, b.key, b.store, b.approver, b.approver_secret,
                           security.caller_source(call.request.remote))
    balance = await provider.top_up(member_id, b.amount, b.key)
    log.info("stored value of member %s topped up by %d fen by %s (key %s)", member_id,
             b.amount, call.principal.actor, b.key)
    return {"member_id": member_id, "balance": balance, "currency": "CNY"}


WECHAT_BODY = {"type": "object", "properties": {
    "id": {"type": "string"}, "event_type": {"type": "string"},
    "resource": {"type": "object"}}}
ALIPAY_BODY = {"type": "object", "additionalProperties": {"type": "string"}}

NO_STORED_VALUE = "stored value is not enabled"
ROUTES = [
    Route("POST", "/api/v1/pay/notify/wechat", wechat_notify, "WeChat Pay notification",
          "payments", status=204, raw=True, response_type=None,
          raw_body=("application/json", WECHAT_BODY)),
    Route("POST", "/api/v1/pay/notify/alipay", alipay_notify, "Alipay notification",
          "payments", raw=True, response_type="text/plain",
          raw_body=("application/x-www-form-urlencoded", ALIPAY_BODY),
          response={"type": "string", "enum": ["success", "fail"]}),
    Route("GET", "/api/v1/admin/members/{member_id}/balance", member_balance,
          "Member stored-value balance", "admin", auth="admin",
          response=responses.MemberBalance, responses={503: NO_STORED_VALUE}),
    Route("POST", "/api/v1/admin/members/{member_id}/balance/topups", member_top_up,
          "Top up stored value", "admin", auth="admin", body=TopUpBody, status=201,
          response=responses.MemberTopUp,
          responses={503: NO_STORED_VALUE, 403: "outside the caller's store, over the daily "
                     "limit, or a second person is needed", 429: "approver throttled"}),
]
