"""Tables of the games domain (migration branch ``games``, 0981).

A lucky draw has prizes with weights and stock; every draw is one row of
``game_draws`` (the audit: the random number, the weights' fingerprint, what was won).
Prize stock moves only by ``UPDATE ... SET issued = issued + 1 WHERE issued < stock``,
so it is never oversold however many shoppers draw at once; a member's draws of one
day are numbered (``UNIQUE(game_id, member_id, day, day_seq)``), so two concurrent
draws of one member cannot both pass the daily cap.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, BigId, UtcDateTime, now


class LuckyDraw(Base):
    """One lucky draw game: draft (editable) -> live (frozen) -> ended."""

    __tablename__ = "game_lucky_draws"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str | None] = mapped_column(String(64), index=True)  # NULL: chain-wide
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8), index=True)  # draft | live | ended
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    daily_cap: Mapped[int] = mapped_column(Integer)  # draws per member per store day
    member_cap: Mapped[int] = mapped_column(Integer)  # draws per member in the whole game
    points_cost: Mapped[int] = mapped_column(Integer, default=0)  # points a draw costs
    # Fingerprint of prizes, weights and caps, taken when the game went live.
    config_hash: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    went_live_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Prize(Base):
    """A prize: its weight, its stock (``None``: unlimited, the fallback only), what it gives."""

    __tablename__ = "game_prizes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("game_lucky_draws.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # coupon | points | nothing
    coupon_template_id: Mapped[int | None] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int | None] = mapped_column(Integer)
    issued: Mapped[int] = mapped_column(Integer, default=0)
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)


class Draw(Base):
    """One draw, kept for audit: who, when, the random number, what was won and why."""

    __tablename__ = "game_draws"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("game_lucky_draws.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(32), index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10))  # store-local YYYY-MM-DD
    day_seq: Mapped[int] = mapped_column(Integer)
    roll: Mapped[int] = mapped_column(BigInteger)  # secrets.randbelow(total_weight)
    total_weight: Mapped[int] = mapped_column(BigInteger)
    config_hash: Mapped[str] = mapped_column(String(64))
    drawn_prize_id: Mapped[int] = mapped_column(BigInteger)  # what the roll landed on
    prize_id: Mapped[int | None] = mapped_column(BigInteger)  # what was given (None: nothing)
    outcome: Mapped[str] = mapped_column(String(16))  # won | out_of_stock | unavailable | fallback
    points_spent: Mapped[int] = mapped_column(Integer, default=0)
    points_won: Mapped[int] = mapped_column(Integer, default=0)
    coupon_id: Mapped[str | None] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("game_id", "member_id", "day", "day_seq",
                                       name="uq_game_draws_day_seq"),
                      UniqueConstraint("game_id", "member_id", "request_id",
                                       name="uq_game_draws_request"))
