"""Win-back coupons issued through marketing: the template head office chose per segment,
once per member and period, not again within the cool-down, a refused claim not issued."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cloud_bridge.analytics import winback
from cloud_bridge.analytics.models import WinBackAction
from cloud_bridge.analytics.winback import (
    MarketingIssuer,
    RecordingIssuer,
    WinBackOffer,
    configured_issuer,
    parse_templates,
    record_win_back,
)
from cloud_bridge.marketing import service as marketing
from cloud_bridge.marketing.models import Coupon, CouponTemplate


def offer(member: str, segment: str) -> WinBackOffer:
    return WinBackOffer(member, segment, winback.COUPON_BY_SEGMENT.get(segment, 500), "test")


async def template(db, value: int, total: int = 100) -> int:
    async with db.session() as s:
        t = await marketing.create_template(
            s, created_by="boss", name_zh=f"回归礼券 {value // 100} 元",
            name_en="Welcome back", kind="fixed", value=value, threshold=value * 3,
            valid_days=14, total_limit=total, per_user_limit=1, categories=[],
            exclude_categories=[])
        return t.id


async def statuses(db) -> dict[tuple[str, str], str]:
    async with db.session() as s:
        rows = (await s.scalars(select(WinBackAction))).all()
    return {(a.member_id, a.period): a.status for a in rows}


async def wallets(db) -> dict[str, list[int]]:
    async with db.session() as s:
        rows = (await s.scalars(select(Coupon).order_by(Coupon.owner))).all()
    out: dict[str, list[int]] = {}
    for c in rows:
        out.setdefault(c.owner, []).append(c.template_id)
    return out


async def test_coupons_go_into_the_members_wallets_once(db):
    big, small = await template(db, 2000), await template(db, 500, total=1)
    issuer = MarketingIssuer({"at_risk": big, "*": small})
    offers = [offer("M1", "at_risk"), offer("M2", "lost"), offer("M3", "potential")]
    async with db.session() as s:
        assert await record_win_back(s, "2026-03-01", offers, issuer) == 3
    # M2 took the last coupon of the small template; M3's claim was refused, not issued
    assert await wallets(db) == {"M1": [big], "M2": [small]}
    assert await statuses(db) == {("M1", "2026-03-01"): "issued",
                                  ("M2", "2026-03-01"): "issued",
                                  ("M3", "2026-03-01"): "intended"}
    async with db.session() as s:
        t = await s.get(CouponTemplate, small)
        assert t.issued == 1  # the refused claim took no slot
        # the same night again, and within the cool-down: nothing more
        assert await record_win_back(s, "2026-03-01", offers, issuer) == 0
        assert await record_win_back(s, "2026-03-30", offers, issuer) == 0
    assert len(await wallets(db)) == 2
    async with db.session() as s:  # after the cool-down, churned still: a new offer
        assert await record_win_back(s, "2026-03-31", [offer("M1", "at_risk")],
                                     MarketingIssuer({"at_risk": await template(db, 2000)}))
    assert len((await wallets(db))["M1"]) == 2


async def test_an_unknown_template_issues_nothing(db):
    async with db.session() as s:
        assert await record_win_back(s, "2026-03-01", [offer("M1", "lost")],
                                     MarketingIssuer({"lost": 999_999})) == 1
    assert await wallets(db) == {} and await statuses(db) == {("M1", "2026-03-01"): "intended"}


def test_the_setting_names_templates_per_segment(monkeypatch):
    assert parse_templates("at_risk=12, lost=13,*=14") == {"at_risk": 12, "lost": 13, "*": 14}
    for bad in ("at_risk", "at_risk=x", "=3", "lost=-1"):
        with pytest.raises(ValueError):
            parse_templates(bad)
    monkeypatch.delenv(winback.TEMPLATES_ENV, raising=False)
    assert isinstance(configured_issuer(), RecordingIssuer)
    monkeypatch.setenv(winback.TEMPLATES_ENV, "*=7")
    issuer = configured_issuer()
    assert isinstance(issuer, MarketingIssuer) and issuer.templates == {"*": 7}
