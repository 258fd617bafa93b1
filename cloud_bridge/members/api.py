"""Member routes: the shopper's side under ``/api/v1/mp/member``, head office's under
``/api/v1/admin/members``, and the sandbox of WeChat's phone-number API."""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject

from .. import auth, keys
from ..config import load_secret
from ..db import Database
from ..errors import InvalidRequest, Unavailable
from ..openapi import Call, Route
from . import jobs, member_code, points, referrals, schemas, service, wechat
from .models import MemberRecord

M = "/api/v1/mp/member"
A = "/api/v1/admin/members"
NOT_MEMBER = {404: "the caller has not registered as a member"}


def _db(call: Call) -> Database:
    return call.app[keys.DB_KEY]


def _appid(call: Call) -> str:
    return call.app[keys.CONFIG_KEY].mp.app_id


async def _stored_value(s: AsyncSession, member_id: str) -> int:
    # Stored value stays in payments; read-only here for the code's snapshot.
    from ..payments.models import MemberBalance

    row = await s.get(MemberBalance, member_id)
    return row.balance if row is not None else 0


async def _bind_phone(call: Call, code: str) -> str:
    config = call.app[keys.CONFIG_KEY]
    token = load_secret("mp_access_token") or ("sandbox-access-token" if config.mp.sandbox
                                                else None)
    if not token:
        raise Unavailable("no mp_access_token credential for WeChat's phone-number API")
    return await wechat.get_phone_number(call.app[keys.HTTP_KEY],
                                         wechat.phone_url(config.mp.code2session_url),
                                         config.mp.app_id, token, code)


async def register_member(call: Call) -> JsonObject:
    """Join the chain's membership (idempotent); optionally bind the WeChat phone number."""
    b = call.body_as(schemas.RegisterBody)
    phone = await _bind_phone(call, b.phone_code) if b.phone_code else None
    async with _db(call).session() as s:
        m, _ = await service.register(s, appid=_appid(call), openid=call.openid,
                                      phone=phone, home_store=b.home_store)
        await s.flush()
        if b.invite_code:
            await referrals.accept(s, m, b.invite_code)
        await s.refresh(m)
        return service.member_json(m, await service.program(s))


async def my_member(call: Call) -> JsonObject:
    """My membership: level, growth, points, opt-in profile."""
    async with _db(call).session() as s:
        m = await service.member_of(s, _appid(call), call.openid)
        return service.member_json(m, await service.program(s))


async def update_profile(call: Call) -> JsonObject:
    """Give (or take back, with ``clear``) birthday, region and gender; each is opt-in."""
    b = call.body_as(schemas.ProfileBody)
    if b.birthday is not None:
        try:
            born = date.fromisoformat(b.birthday)
        except ValueError:
            raise InvalidRequest("birthday is not a real date") from None
        if not date(1900, 1, 1) <= born <= date.today():
            raise InvalidRequest("birthday out of range")
    async with _db(call).session() as s:
        m = await service.member_of(s, _appid(call), call.openid)
        for name in ("birthday", "region", "gender"):
            value = getattr(b, name)
            if value is not None:
                setattr(m, name, value)
        for name in b.clear:
            setattr(m, name, None)
        return service.member_json(m, await service.program(s))


async def my_member_code(call: Call) -> JsonObject:
    """A member code for the kiosk's camera: signed, good for minutes, with a snapshot."""
    key = member_code.signing_key(call.app[keys.CONFIG_KEY])
    async with _db(call).session() as s:
        m = await service.member_of(s, _appid(call), call.openid)
        sv = await _stored_value(s, m.id)
        now = int(time.time())
        text = member_code.issue_member_code(key, m.id, m.level, m.points, sv, now=now)
    exp = now + member_code.MEMBER_CODE_TTL_S
    return {"code": text, "expires_at": exp, "level": m.level, "points": m.points,
            "stored_value": sv}


async def my_points(call: Call) -> JsonObject:
    """My points balance and ledger, newest first."""
    q = call.query_as(schemas.PointsQuery)
    async with _db(call).session() as s:
        m = await service.member_of(s, _appid(call), call.openid)
        rows = await points.ledger(s, m.id, q.limit, q.offset)
        return {"balance": m.points, "items": [
            {"id": r.id, "kind": r.kind, "points": r.points, "source_type": r.source_type,
             "source_id": r.source_id, "created_at": r.created_at.isoformat()} for r in rows]}


def _program_json(prog: service.Program) -> JsonObject:
    return {"registration_growth": prog.registration_growth,
            "growth_per_yuan": prog.growth_per_yuan, "points_per_yuan": prog.points_per_yuan,
            "points_expiry_days": prog.points_expiry_days,
            "levels": [{"code": lv.code, "name_zh": lv.name_zh, "name_en": lv.name_en,
                        "min_growth": lv.min_growth, "discount_bp": lv.discount_bp,
                        "points_multiplier_bp": lv.points_multiplier_bp}
                       for lv in prog.levels]}


async def get_program(call: Call) -> JsonObject:
    """The level ladder and the growth and points rules."""
    async with _db(call).session() as s:
        return _program_json(await service.program(s))


async def put_program(call: Call) -> JsonObject:
    """Replace the ladder and the rules (head office); every member is re-levelled."""
    body = call.body_as(schemas.ProgramBody)
    async with _db(call).session() as s:
        return _program_json(await service.set_program(s, body))


async def list_members(call: Call) -> JsonObject:
    """Members, newest first; store staff see the members whose home store is theirs."""
    q = call.query_as(schemas.MembersQuery)
    store = call.principal.store_scope(q.store)
    cond = [] if store is None else [MemberRecord.home_store == store]
    async with _db(call).session() as s:
        total = await s.scalar(select(func.count()).select_from(MemberRecord).where(*cond))
        rows = (await s.scalars(select(MemberRecord).where(*cond)
                                .order_by(MemberRecord.registered_at.desc(), MemberRecord.id)
                                .limit(q.limit).offset(q.offset))).all()
        prog = await service.program(s)
        return {"total": total, "items": [service.member_json(m, prog) for m in rows]}


async def sync_growth(call: Call) -> dict[str, int]:
    """Run the growth/points job now: paid and refunded orders, expired points."""
    async with _db(call).session() as s:
        out = await jobs.sync_orders(s)
        out["points_expired"] = await points.expire(s)
    return out


ROUTES = [
    Route("POST", f"{M}/register", register_member, "Become a member", "members", auth="mp",
          body=schemas.RegisterBody, response=schemas.MemMember,
          responses={400: "the phone code is invalid or used",
                     403: "WeChat refused the phone number (risk, other app)",
                     404: "no such invitation code",
                     409: "the invitation is refused (own code, invited already, a cycle)",
                     429: "WeChat rate limit", 502: "WeChat answered nonsense",
                     503: "WeChat busy or not configured"}),
    Route("GET", f"{M}", my_member, "My membership", "members", auth="mp",
          response=schemas.MemMember, responses=NOT_MEMBER),
    Route("PUT", f"{M}/profile", update_profile, "Opt-in profile", "members", auth="mp",
          body=schemas.ProfileBody, response=schemas.MemMember, responses=NOT_MEMBER),
    Route("GET", f"{M}/code", my_member_code, "My member code (QR)", "members", auth="mp",
          response=schemas.MemCode,
          responses={**NOT_MEMBER, 503: "no member code key configured"}),
    Route("GET", f"{M}/points", my_points, "My points", "members", auth="mp",
          query=schemas.PointsQuery, response=schemas.MemPoints, responses=NOT_MEMBER),
    Route("GET", f"{A}/program", get_program, "Member levels and rules", "members",
          auth="admin", response=schemas.MemProgram),
    Route("PUT", f"{A}/program", put_program, "Set member levels and rules", "members",
          auth="admin", roles=(auth.HEAD_OFFICE,), body=schemas.ProgramBody,
          response=schemas.MemProgram),
    Route("GET", A, list_members, "Members", "members", auth="admin",
          query=schemas.MembersQuery, response=schemas.MemMemberList),
    Route("POST", f"{A}/sync", sync_growth, "Count growth and points of orders now", "members",
          auth="admin", roles=(auth.HEAD_OFFICE,), response=schemas.MemSyncResult),
]
SANDBOX_ROUTES = [
    Route("POST", f"/sandbox{wechat.PHONE_PATH}", wechat.sandbox_getuserphonenumber,
          "Sandbox fake of WeChat getuserphonenumber", "sandbox", query=wechat.PhoneQuery,
          body=wechat.PhoneBody, response=schemas.PhoneReply),
]

# Paid membership, referrals, surveys and the points exchange (members.programs_api).
from .programs_api import ROUTES as PROGRAM_ROUTES  # noqa: E402

ROUTES += PROGRAM_ROUTES
