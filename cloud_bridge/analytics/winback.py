"""Win-back: what analytics asks marketing to do for a churned member.

With ``$CLOUD_BRIDGE_ANALYTICS_WINBACK_TEMPLATES`` set (``segment=template_id`` pairs,
``*`` for every other segment, e.g. ``at_risk=12,lost=13,*=14``), :class:`MarketingIssuer`
gives each churned member one coupon of the template head office chose for their
segment, through the marketing domain's own claim (its limits, validity and wallet: the
member sees it in the mini-program). Marketing owns the coupon's rules; analytics only
chooses whom. Without the setting, :class:`RecordingIssuer` records the intended coupon in
``analytics_winback_actions`` with status ``intended`` so that nothing is lost and the
console shows what would be sent. One action per member per period (a unique key), so a
re-run of the nightly job never sends twice, and none for a member who had one in the
last ``COOLDOWN_DAYS`` (a churned member stays churned night after night).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import bulk_insert
from cloud_bridge.errors import BridgeError
from cloud_bridge.models import now

from .models import WinBackAction

log = logging.getLogger(__name__)

TEMPLATES_ENV = "CLOUD_BRIDGE_ANALYTICS_WINBACK_TEMPLATES"
# A member offered a win-back coupon is not offered another for this many days: long
# enough for a 14-day coupon to be used or lapse and the member to be seen again.
COOLDOWN_DAYS = 30

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


class MarketingIssuer:
    """Claims one coupon per offer from marketing (``marketing.service.claim``).

    Args:
        templates: segment -> coupon template id; ``"*"`` serves segments not named.
    """

    status = "issued"

    def __init__(self, templates: dict[str, int]) -> None:
        self.templates = templates

    async def issue(self, session: AsyncSession, period: str,
                    offers: list[WinBackOffer]) -> set[str]:
        from cloud_bridge.marketing import service as marketing

        issued: set[str] = set()
        for o in offers:
            template = self.templates.get(o.segment, self.templates.get("*"))
            if template is None:
                continue
            try:
                async with session.begin_nested():  # a refused claim undoes only itself
                    await marketing.claim(session, template, o.member_id, channel="campaign")
            except BridgeError as err:  # paused, all claimed, the member's limit, no template
                log.warning("win-back coupon (template %d) for %s not issued: %s", template,
                            o.member_id, err.detail)
                continue
            issued.add(o.member_id)
        return issued


def parse_templates(text: str) -> dict[str, int]:
    """``at_risk=12,lost=13,*=14`` -> ``{"at_risk": 12, "lost": 13, "*": 14}``."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        segment, sep, number = part.partition("=")
        if not sep or not number.strip().isdigit() or not segment.strip():
            raise ValueError(f"{TEMPLATES_ENV}: {part!r} is not segment=template_id")
        out[segment.strip()] = int(number)
    return out


def configured_issuer() -> WinBackIssuer:
    """The issuer ``$CLOUD_BRIDGE_ANALYTICS_WINBACK_TEMPLATES`` asks for (else recording)."""
    text = os.environ.get(TEMPLATES_ENV, "").strip()
    return MarketingIssuer(parse_templates(text)) if text else RecordingIssuer()


def offer_for(member_id: str, segment: str, p_alive: float, gap: float | None) -> WinBackOffer:
    """The coupon for a churned member of ``segment``."""
    coupon = COUPON_BY_SEGMENT.get(segment, DEFAULT_COUPON)
    why = (f"p_alive {p_alive:.2f} after an expected gap of {gap:.0f} days" if gap
           else f"p_alive {p_alive:.2f} (one purchase)")
    return WinBackOffer(member_id, segment, coupon, why)


async def record_win_back(session: AsyncSession, period: str, offers: list[WinBackOffer],
                          issuer: WinBackIssuer | None = None) -> int:
    """Hand ``offers`` to marketing and record each once per period; returns new actions."""
    issuer = issuer or configured_issuer()
    since = (date.fromisoformat(period) - timedelta(days=COOLDOWN_DAYS - 1)).isoformat()
    done = set((await session.scalars(select(WinBackAction.member_id).where(
        WinBackAction.period >= since, WinBackAction.period <= period))).all())
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
