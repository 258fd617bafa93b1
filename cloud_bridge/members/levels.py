"""The member ladder: the chain's levels by growth value and the program's rules, and the
rung a member stands on (earned by growth, or bought with a paid membership).

Its own module so that paid membership (:mod:`.paid`) and the member rules
(:mod:`.service`), which each need the other's answers, both build on it instead of
importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import MemberLevel, MemberProgram

# The ladder a chain starts with (head office edits it with PUT /admin/members/program).
DEFAULT_LEVELS = (
    ("regular", "普通会员", "Regular", 0, 0, 10_000),
    ("silver", "银卡会员", "Silver", 1_000, 200, 12_000),
    ("gold", "金卡会员", "Gold", 5_000, 500, 15_000),
    ("diamond", "钻石会员", "Diamond", 20_000, 800, 20_000),
)
DEFAULT_PROGRAM = {"registration_growth": 100, "growth_per_yuan": 1, "points_per_yuan": 1,
                   "points_expiry_days": 365}


@dataclass(frozen=True)
class Program:
    """The rules in force: growth/points per yuan and the ladder (lowest rung first)."""

    registration_growth: int
    growth_per_yuan: int
    points_per_yuan: int
    points_expiry_days: int
    levels: tuple[MemberLevel, ...]

    def level_for(self, growth: int) -> MemberLevel:
        """The highest rung whose ``min_growth`` the growth value reaches."""
        best = self.levels[0]
        for lv in self.levels:
            if growth >= lv.min_growth:
                best = lv
        return best

    def level(self, code: str) -> MemberLevel:
        """The rung named ``code`` (the lowest when it was removed from the ladder)."""
        return next((lv for lv in self.levels if lv.code == code), self.levels[0])


async def program(s: AsyncSession) -> Program:
    """The program in force, seeding the defaults on first use."""
    row = await s.get(MemberProgram, 1)
    if row is None:
        row = MemberProgram(id=1, **DEFAULT_PROGRAM)
        s.add(row)
        for code, zh, en, min_g, disc, mult in DEFAULT_LEVELS:
            s.add(MemberLevel(code=code, name_zh=zh, name_en=en, min_growth=min_g,
                              discount_bp=disc, points_multiplier_bp=mult))
        await s.flush()
    levels = (await s.scalars(select(MemberLevel).order_by(MemberLevel.min_growth))).all()
    return Program(row.registration_growth, row.growth_per_yuan, row.points_per_yuan,
                   row.points_expiry_days, tuple(levels))


def level_code(prog: Program, growth: int, paid_level: str | None) -> str:
    """The member's rung: earned by growth, or the one a paid membership in force gives,
    whichever is higher on the ladder."""
    earned = prog.level_for(growth)
    if paid_level is None:
        return earned.code
    bought = prog.level(paid_level)
    return bought.code if bought.min_growth > earned.min_growth else earned.code
