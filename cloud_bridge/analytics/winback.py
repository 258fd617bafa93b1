"""Win-back: what analytics asks marketing to do for a churned member.

Marketing implements :class:`WinBackIssuer` (issue a coupon through its own rules and
channels); until it does, :class:`RecordingIssuer` records the intended coupon in
``analytics_winback_actions`` with status ``intended`` so that nothing is lost and the
console shows what would be sent. One action per member per period (a unique key), so a
re-run of the nightly job never sends twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import bulk_insert
from cloud_bridge.models import now

from .models import WinBackAction

# Coupon value by segment (fen): more for members who were worth more.
COUPON_BY_SEGMENT = {"at_risk": 2000, "lost": 1000, "hibernating": 1000}
DEFAULT_COUPON = 500


@dataclass(frozen=True, slots=True)
class WinBackOffer:
    """A coupon meant for one churned member (members by id, never a phone number)."""

    member_id: str
    segment: str
    coupon_fen: int
    reason: str


class WinBackIssuer(Protocol):
    """Marketing's side: issue the offers; return the member ids actually issued."""

    async def issue(self, session: AsyncSession, period: str,
                    offers: list[WinBackOffer]) -> set[str]: ...


class RecordingIssuer:
    """The default: record the intended coupons; issues nothing itself."""

    status = "intended"

    async def issue(self, session: AsyncSession, period: str,
                    offers: list[WinBackOffer]) -> set[str]:
        return set()


def offer_for(member_id: str, segment: str, p_alive: float, gap: float | None) -> WinBackOffer:
    """The coupon for a churned member of ``segment``."""
    coupon = COUPON_BY_SEGMENT.get(segment, DEFAULT_COUPON)
    why = (f"p_alive {p_alive:.2f} after an expected gap of {gap:.0f} days" if gap
           else f"p_alive {p_alive:.2f} (one purchase)")
    return WinBackOffer(member_id, segment, coupon, why)


async def record_win_back(session: AsyncSession, period: str, offers: list[WinBackOffer],
                          issuer: WinBackIssuer | None = None) -> int:
    """Hand ``offers`` to marketing and record each once per period; returns new actions."""
    issuer = issuer or RecordingIssuer()
    done = set((await session.scalars(select(WinBackAction.member_id)
                                      .where(WinBackAction.period == period))).all())
    fresh = [o for o in offers if o.member_id not in done]
    if not fresh:
        return 0
    issued = await issuer.issue(session, period, fresh)
    rows = [{"member_id": o.member_id, "period": period, "segment": o.segment,
             "coupon_fen": o.coupon_fen, "reason": o.reason[:200],
             "status": "issued" if o.member_id in issued else "intended",
             "created_at": now()} for o in fresh]
    await session.execute(*bulk_insert(session, WinBackAction, rows))
    return len(rows)
