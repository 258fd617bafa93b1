"""Offline caps at the moment of sale: a member paying with stored value while the kiosk
is offline is refused, with the reason in Chinese and English, past any of the four caps;
the 24-hour total rolls (old offline sales leave it)."""

from __future__ import annotations

import asyncio
import time

import pytest

from contract.wire.events import MemberProofData
from kiosk_agent.config import OfflineSection
from kiosk_agent.journal import Journal
from kiosk_agent.offline_caps import OFFLINE_WINDOW_S
from kiosk_agent.payments import KioskPayments


class OfflineLink:
    """The link while the shop's internet is down: never connected, nothing sent."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()

    async def request(self, *a, **kw):  # pragma: no cover - offline: never called
        raise AssertionError("nothing may be sent while offline")


@pytest.fixture
async def journal(tmp_path):
    """A real journal file."""
    async with Journal(tmp_path / "journal.db", "S1", "K1") as j:
        yield j


def payments(journal, **limits) -> KioskPayments:
    gw = KioskPayments(OfflineLink(), journal)
    gw.offline_limits = OfflineSection(**{
        "max_offline_sale_fen": 2000, "max_offline_stored_value_fen": 3000,
        "max_oldest_unsent_s": 3600, "max_queue_depth": 50, **limits})
    return gw


# The member's signed code showed this much stored value (plenty: the caps decide).
RICH = MemberProofData(code="S1.a.b", level="regular", points=0, stored_value=10**6)


async def pay(gw, n: int, amount: int, proof: MemberProofData | None = RICH):
    return await gw.charge(f"S1-K1-20261205-{n:04d}", f"S1-K1-20261205-{n:04d}-1",
                           "stored_value", amount, "CNY", None, member_id="M1",
                           member_proof=proof)


def told(out, zh: str, en: str) -> bool:
    return out.status == "failed" and zh in out.message_zh and en in out.message_en


async def test_per_sale_cap(journal):
    gw = payments(journal)
    assert (await pay(gw, 1, 2000)).status == "paid"
    out = await pay(gw, 2, 2001)
    assert out.reason == "offline_sale_cap" and told(out, "超过离线储值支付上限", "above")


async def test_24h_total_cap_and_its_window_rolls(journal):
    gw = payments(journal)
    assert (await pay(gw, 1, 1500)).status == "paid"
    assert (await pay(gw, 2, 1500)).status == "paid"
    out = await pay(gw, 3, 1)
    assert out.reason == "offline_daily_cap" and told(out, "今日离线储值", "today's")
    # A day later the first two sales have left the window: the total is back down.
    old = time.time() - OFFLINE_WINDOW_S - 60
    await journal._call(journal._tx, lambda c: c.execute(
        "UPDATE payment_attempts SET created_at = ?", (old,)))
    assert (await pay(gw, 4, 1500)).status == "paid"


async def test_oldest_unsent_age_cap(journal):
    gw = payments(journal, max_oldest_unsent_s=600)
    await journal.append_events([("device.fault", {"device": "printer"})])
    assert (await pay(gw, 1, 100)).status == "paid"
    await journal._call(journal._tx, lambda c: c.execute(
        "UPDATE outbox SET created_at = ?", (time.time() - 601,)))
    out = await pay(gw, 2, 100)
    assert out.reason == "offline_too_long" and told(out, "网络中断时间过长", "offline too long")


async def test_queue_count_cap(journal):
    gw = payments(journal, max_queue_depth=3)
    await journal.append_events([("device.fault", {"n": i}) for i in range(2)])
    assert (await pay(gw, 1, 100)).status == "paid"
    await journal.append_events([("device.fault", {"n": 9})])
    out = await pay(gw, 2, 100)
    assert out.reason == "offline_queue_full" and told(out, "待上传订单过多", "waiting to upload")
    # Refused sales charged nothing: only the paid ones are paid in the journal.
    paid = [a for a in await journal.payment_attempts(status="paid")]
    assert [a.amount for a in paid] == [100]


async def test_offline_stored_value_stays_within_the_members_signed_snapshot(journal):
    gw = payments(journal)
    poor = MemberProofData(code="S1.a.b", level="regular", points=0, stored_value=800)
    out = await pay(gw, 1, 801, poor)
    assert out.reason == "offline_over_balance" and told(out, "储值余额", "stored value")
    assert (await pay(gw, 2, 800, poor)).status == "paid"
    # An old (HMAC) code carries no snapshot: nothing is known of the balance.
    out = await pay(gw, 3, 100, None)
    assert out.reason == "offline_no_snapshot" and told(out, "会员码", "member code")
    assert (await journal.outbox_stats()).depth == 0  # nothing committed by a refusal
