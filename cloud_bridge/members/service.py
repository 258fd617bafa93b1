"""Member rules: registration, profile, levels by growth value (plain async functions).

Growth and points changes are keyed by their source (``UNIQUE(source_type,
source_id)``): an order paid, a refund, the registration bonus. A retried job or a
repeated request inserts nothing the second time, so nothing counts twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import InvalidRequest, NotFound
from .levels import Program, level_code, program
from .models import GrowthEntry, MemberLevel, MemberProgram, MemberRecord

if TYPE_CHECKING:
    from .schemas import ProgramBody


async def set_program(s: AsyncSession, body: ProgramBody) -> Program:
    """Replace the growth/points rules and the ladder; members are re-levelled."""
    rules, levels = body.model_dump(exclude={"levels"}), body.levels
    if not levels or min(lv.min_growth for lv in levels) != 0:
        raise InvalidRequest("the ladder needs a level at min_growth 0")
    if len({lv.code for lv in levels}) != len(levels):
        raise InvalidRequest("level codes must be unique")
    if len({lv.min_growth for lv in levels}) != len(levels):
        raise InvalidRequest("two levels at the same min_growth")
    await program(s)
    row = await s.get(MemberProgram, 1)
    for key, value in rules.items():
        setattr(row, key, value)
    for old in (await s.scalars(select(MemberLevel))).all():
        await s.delete(old)
    await s.flush()
    for lv in levels:
        s.add(MemberLevel(**lv.model_dump()))
    await s.flush()
    prog = await program(s)
    from .paid import paid_levels  # paid membership builds on this module

    paid = await paid_levels(s)
    for m in (await s.scalars(select(MemberRecord))).all():
        m.level = level_code(prog, m.growth, paid.get(m.id))
    return prog


def new_member_id() -> str:
    """A member id: short, unguessable, fits a token subject."""
    return "m" + secrets.token_hex(8)


async def find_member(s: AsyncSession, appid: str, openid: str) -> MemberRecord | None:
    """The member of this mini-program user, if registered."""
    return await s.scalar(select(MemberRecord).where(MemberRecord.appid == appid,
                                                     MemberRecord.openid == openid))


async def member_of(s: AsyncSession, appid: str, openid: str) -> MemberRecord:
    """The caller's member record; 404 when the caller has not registered."""
    m = await find_member(s, appid, openid)
    if m is None:
        raise NotFound("not a member yet: register first")
    return m


async def register(s: AsyncSession, *, appid: str, openid: str, unionid: str | None = None,
                   phone: str | None = None, home_store: str | None = None
                   ) -> tuple[MemberRecord, bool]:
    """Register (or find) the member of a WeChat user; ``(member, created)``.

    The unionid, when WeChat gives one, identifies the person across the chain's apps:
    a second app of the same person finds the same member.
    """
    m = None
    if unionid:
        m = await s.scalar(select(MemberRecord).where(MemberRecord.unionid == unionid))
    if m is None:
        m = await find_member(s, appid, openid)
    if m is not None:
        if phone and not m.phone:
            m.phone = phone
        return m, False
    prog = await program(s)
    m = MemberRecord(id=new_member_id(), unionid=unionid, appid=appid, openid=openid,
                     phone=phone, home_store=home_store, growth=0, points=0,
                     level=prog.levels[0].code)
    try:
        async with s.begin_nested():
            s.add(m)
    except IntegrityError:
        # The same user registering twice at once: the other request won.
        found = await find_member(s, appid, openid)
        if found is None:
            raise
        return found, False
    await add_growth(s, m.id, "register", m.id, prog.registration_growth)
    return m, True


async def change_phone(s: AsyncSession, m: MemberRecord, phone: str) -> None:
    """Bind ``phone`` to the member in place of the number it had.

    The caller has re-authenticated the shopper (a fresh wx.login code of the member's own
    WeChat user: :mod:`cloud_bridge.mp_pay.reauth`).
    """
    m.phone = phone


async def add_growth(s: AsyncSession, member_id: str, source_type: str, source_id: str,
                     delta: int) -> bool:
    """Add ``delta`` growth for one source, once; re-level the member. False when done before."""
    if delta == 0:
        return False
    try:
        async with s.begin_nested():
            s.add(GrowthEntry(member_id=member_id, source_type=source_type,
                              source_id=source_id, delta=delta))
    except IntegrityError:
        return False
    # Growth never goes below zero: a refund of an order bought before joining.
    await s.execute(update(MemberRecord).where(MemberRecord.id == member_id)
                    .values(growth=MemberRecord.growth + delta))
    await s.execute(update(MemberRecord).where(MemberRecord.id == member_id,
                                               MemberRecord.growth < 0).values(growth=0))
    from .paid import relevel  # paid membership builds on this module

    await relevel(s, member_id)
    return True


PROFILE_FIELDS = ("birthday", "region", "gender", "home_store")


def member_json(m: MemberRecord, prog: Program) -> dict:
    """The member as the API shows it (never the openid or unionid)."""
    lv = prog.level(m.level)
    nxt = next((x for x in prog.levels if x.min_growth > m.growth), None)
    return {
        "member_id": m.id, "level": lv.code, "level_name_zh": lv.name_zh,
        "level_name_en": lv.name_en, "growth": m.growth,
        "next_level_growth": nxt.min_growth if nxt else None,
        "discount_bp": lv.discount_bp, "points_multiplier_bp": lv.points_multiplier_bp,
        "points": m.points, "phone_bound": m.phone is not None,
        "phone_masked": (m.phone[:3] + "****" + m.phone[-4:]) if m.phone else None,
        "birthday": m.birthday, "region": m.region, "gender": m.gender,
        "home_store": m.home_store, "registered_at": m.registered_at.isoformat(),
    }


@dataclass(frozen=True, slots=True)
class OptInProfile:
    """What one member chose to give (each field ``None`` when not given)."""

    member_id: str
    birthday: str | None
    gender: str | None
    region: str | None


async def opt_in_profiles(s: AsyncSession) -> list[OptInProfile]:
    """The members who gave at least one of birthday, gender, region, with what they gave.

    For statistics over groups only (analytics demographics, shown with a minimum group
    size); never to be shown per member.
    """
    given = (MemberRecord.birthday.is_not(None) | MemberRecord.gender.is_not(None)
             | MemberRecord.region.is_not(None))
    rows = (await s.execute(select(MemberRecord.id, MemberRecord.birthday,
                                   MemberRecord.gender, MemberRecord.region).where(given))).all()
    return [OptInProfile(*r) for r in rows]
