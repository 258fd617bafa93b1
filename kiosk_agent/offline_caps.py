"""Offline caps, enforced at the moment of sale.

While the kiosk cannot reach the cloud it may still take a member's stored value (the
balance is settled when the sale arrives). That is credit the chain extends blind, so it
is capped, and every cap is checked when the shopper pays, not later:

* **per sale**: ``[offline] max_offline_sale_fen``;
* **24 hours**: stored value taken offline in the last 24 h (a rolling window, so the
  running total goes back down as old sales leave it) plus this sale stays within
  ``max_offline_stored_value_fen``;
* **age of the oldest unsent event**: past ``max_oldest_unsent_s`` the kiosk has been
  cut off too long to keep extending credit;
* **queue count**: past ``max_queue_depth`` queued events.

A refused sale is a failed attempt with its own reason code and a message for the
shopper in Chinese and English (nothing is charged; they can pay another way or ask
staff).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import OfflineSection
    from .journal import Journal

# The window of the running offline total: a day of trading.
OFFLINE_WINDOW_S = 24 * 3600

REASONS: dict[str, tuple[str, str]] = {
    "offline_sale_cap": ("网络中断，本单金额超过离线储值支付上限，请联系店员",
                         "We are offline: this sale is above the offline stored-value limit. "
                         "Please ask staff."),
    "offline_daily_cap": ("网络中断，今日离线储值支付已达上限，请联系店员",
                          "We are offline: today's offline stored-value limit is reached. "
                          "Please ask staff."),
    "offline_too_long": ("网络中断时间过长，暂停离线支付，请联系店员",
                         "We have been offline too long; offline payment is paused. "
                         "Please ask staff."),
    "offline_no_snapshot": ("网络中断，请出示小程序最新会员码后再用储值支付",
                            "We are offline: show a current member code from the "
                            "mini-program to pay with stored value."),
    "offline_over_balance": ("网络中断，本单金额超过会员码显示的储值余额",
                             "We are offline: this sale is more than the stored value "
                             "your member code shows."),
    "offline_queue_full": ("待上传订单过多，暂停离线支付，请联系店员",
                           "Too many sales are waiting to upload; offline payment is paused. "
                           "Please ask staff."),
}


@dataclass(frozen=True, slots=True)
class OfflineRefusal:
    """Why an offline sale is refused: a reason code and the shopper's message."""

    reason: str
    zh: str
    en: str
    detail: str


async def offline_spent(journal: Journal, now: float | None = None) -> int:
    """Stored value taken offline in the last :data:`OFFLINE_WINDOW_S` (fen)."""
    since = (time.time() if now is None else now) - OFFLINE_WINDOW_S
    return sum(a.amount for a in await journal.payment_attempts(status="paid")
               if a.provider == "stored_value" and a.reason == "offline"
               and a.created_at >= since)


async def check_offline_sale(journal: Journal, limits: OfflineSection, amount: int,
                             now: float | None = None, *,
                             member_balance: int | object | None = ...,
                             ) -> OfflineRefusal | None:
    """The refusal for an offline stored-value sale of ``amount`` fen, or ``None`` if allowed.

    Args:
        journal: the kiosk's journal (outbox statistics, paid attempts).
        limits: the ``[offline]`` section (:class:`kiosk_agent.config.OfflineSection`).
        amount: this sale's amount in fen.
        member_balance: the stored value in the member code's signed snapshot (fen);
            ``None``: the member came without one (an old code), so nothing is known
            of their balance and offline stored value is refused. Not given: the
            caller checks the balance itself.
    """
    t = time.time() if now is None else now

    def refuse(reason: str, detail: str) -> OfflineRefusal:
        zh, en = REASONS[reason]
        return OfflineRefusal(reason, zh, en, detail)

    stats = await journal.outbox_stats()
    age = t - stats.oldest_created_at if stats.oldest_created_at else 0.0
    if age >= limits.max_oldest_unsent_s:
        return refuse("offline_too_long", f"oldest unsent event {age:.0f}s old")
    if stats.depth >= limits.max_queue_depth:
        return refuse("offline_queue_full", f"{stats.depth} events queued")
    if member_balance is None:
        return refuse("offline_no_snapshot", "no signed member snapshot")
    if isinstance(member_balance, int) and amount > member_balance:
        return refuse("offline_over_balance",
                      f"{amount} > {member_balance} fen in the member code's snapshot")
    if amount > limits.max_offline_sale_fen:
        return refuse("offline_sale_cap", f"{amount} > {limits.max_offline_sale_fen} fen")
    spent = await offline_spent(journal, t)
    if spent + amount > limits.max_offline_stored_value_fen:
        return refuse("offline_daily_cap",
                      f"{spent} + {amount} > {limits.max_offline_stored_value_fen} fen in 24 h")
    return None
