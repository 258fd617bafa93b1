"""The lucky draw's rules as plain async functions over a session.

* A game is made as a ``draft`` and may be edited only then; ``start`` freezes it: its
  configuration's fingerprint (prizes, weights, stock, caps, times) is kept and every
  edit is refused (409) while it is ``live`` and after it ``ended``.
* A draw happens on the server: ``secrets.randbelow`` over the summed weights of the
  prizes that still have stock. The prize's stock is then taken by a conditional update;
  when another draw took the last one meanwhile (or the coupon cannot be claimed), the
  fallback prize is given instead. Nothing the shopper sends decides the outcome.
* Caps: ``daily_cap`` draws per member per store day and ``member_cap`` in the whole
  game. A member's draws of a day are numbered (unique), so two draws sent at once cannot
  both take the last one of the day.
* Every draw is one ``game_draws`` row: the roll, the total weight, the fingerprint, the
  prize the roll landed on, the prize given and why; the points it cost and won are
  ledger lines keyed by the draw.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime
from typing import TypedDict, Unpack
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject

from ..db import rows_changed
from ..errors import BridgeError, Conflict, InvalidRequest, NotFound
from ..members import points
from ..models import now as utcnow
from .models import Draw, LuckyDraw, Prize

DRAFT, LIVE, ENDED = "draft", "live", "ended"
WON, OUT_OF_STOCK, UNAVAILABLE, FALLBACK = "won", "out_of_stock", "unavailable", "fallback"


class PrizeConfig(TypedDict):
    """A prize as configured (the fields of :class:`.schemas.PrizeBody`)."""

    name_zh: str
    name_en: str
    kind: str
    coupon_template_id: int | None
    points: int
    weight: int
    stock: int | None
    fallback: bool


class GameConfig(TypedDict):
    """A game's configuration but its prizes and store (:class:`.schemas.ConfigBody`)."""

    name_zh: str
    name_en: str
    starts_at: datetime
    ends_at: datetime
    daily_cap: int
    member_cap: int
    points_cost: int


def check_config(fields: GameConfig, prizes: list[PrizeConfig]) -> None:
    """Refuse a game that cannot be drawn fairly (400)."""
    if fields["ends_at"] <= fields["starts_at"]:
        raise InvalidRequest("ends_at must be after starts_at")
    if fields["daily_cap"] > fields["member_cap"]:
        raise InvalidRequest("daily_cap above member_cap")
    fallbacks = [p for p in prizes if p["fallback"]]
    if len(fallbacks) != 1:
        raise InvalidRequest("exactly one prize must be the fallback")
    if fallbacks[0]["stock"] is not None:
        raise InvalidRequest("the fallback prize has no stock limit (it is what is left)")
    for p in prizes:
        if not p["fallback"] and p["stock"] is None:
            raise InvalidRequest(f"prize {p['name_zh']!r} needs a stock")
        if p["kind"] == "coupon" and p["coupon_template_id"] is None:
            raise InvalidRequest(f"prize {p['name_zh']!r} needs coupon_template_id")
        if p["kind"] == "points" and p["points"] <= 0:
            raise InvalidRequest(f"prize {p['name_zh']!r} needs points")
    if sum(p["weight"] for p in prizes) <= 0:
        raise InvalidRequest("the weights add up to nothing")


def _prize_rows(game_id: int, prizes: list[PrizeConfig]) -> list[Prize]:
    return [Prize(game_id=game_id, position=i, issued=0, name_zh=p["name_zh"],
                  name_en=p["name_en"], kind=p["kind"],
                  coupon_template_id=p["coupon_template_id"], points=p["points"],
                  weight=p["weight"], stock=p["stock"], fallback=p["fallback"])
            for i, p in enumerate(prizes, 1)]


async def create(s: AsyncSession, *, created_by: str, store: str | None,
                 prizes: list[PrizeConfig], **fields: Unpack[GameConfig]) -> LuckyDraw:
    """A new game of ``store`` (``None``: chain-wide), a draft."""
    check_config(fields, prizes)
    game = LuckyDraw(created_by=created_by, status=DRAFT, created_at=utcnow(), store=store,
                     **fields)
    s.add(game)
    await s.flush()
    s.add_all(_prize_rows(game.id, prizes))
    await s.flush()
    return game


async def get(s: AsyncSession, game_id: int, lock: bool = False) -> LuckyDraw:
    game = await s.get(LuckyDraw, game_id, with_for_update=lock)
    if game is None:
        raise NotFound(f"lucky draw {game_id} not found")
    return game


async def prizes_of(s: AsyncSession, game_id: int) -> list[Prize]:
    return list((await s.scalars(select(Prize).where(Prize.game_id == game_id)
                                 .order_by(Prize.position))).all())


async def replace_config(s: AsyncSession, game_id: int, prizes: list[PrizeConfig],
                         **fields: Unpack[GameConfig]) -> LuckyDraw:
    """Edit a draft: its times, caps, cost and prizes. Refused once it went live."""
    game = await get(s, game_id, lock=True)
    if game.status != DRAFT:
        raise Conflict(f"lucky draw {game.id} is {game.status}: its configuration is frozen")
    check_config(fields, prizes)
    for key, value in fields.items():
        setattr(game, key, value)
    for old in await prizes_of(s, game.id):
        await s.delete(old)
    await s.flush()
    s.add_all(_prize_rows(game.id, prizes))
    await s.flush()
    return game


def fingerprint(game: LuckyDraw, prizes: list[Prize]) -> str:
    """SHA-256 of everything that decides a draw (kept at start, written on each draw)."""
    doc = {"caps": [game.daily_cap, game.member_cap, game.points_cost],
           "times": [game.starts_at.isoformat(), game.ends_at.isoformat()],
           "prizes": [[p.id, p.kind, p.coupon_template_id, p.points, p.weight, p.stock,
                       p.fallback] for p in prizes]}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


async def start(s: AsyncSession, game_id: int) -> LuckyDraw:
    """Go live: the configuration is frozen from now on."""
    game = await get(s, game_id, lock=True)
    if game.status != DRAFT:
        raise Conflict(f"lucky draw {game.id} is {game.status} already")
    prizes = await prizes_of(s, game.id)
    from ..marketing.service import get_template

    for p in prizes:
        if p.coupon_template_id is not None:
            try:
                t = await get_template(s, p.coupon_template_id)
            except NotFound as err:
                raise Conflict(f"prize {p.name_zh}: {err}") from None
            if t.store is not None and t.store != game.store:
                raise Conflict(f"prize {p.name_zh}: the coupon belongs to another store")
    if await rows_changed(s, update(LuckyDraw).where(
            LuckyDraw.id == game.id, LuckyDraw.status == DRAFT).values(
            status=LIVE, config_hash=fingerprint(game, prizes), went_live_at=utcnow())) != 1:
        raise Conflict(f"lucky draw {game.id} changed meanwhile")
    await s.refresh(game)
    return game


async def end(s: AsyncSession, game_id: int) -> LuckyDraw:
    """Stop a live game (no more draws); the draws stay for audit."""
    game = await get(s, game_id, lock=True)
    if game.status != LIVE:
        raise Conflict(f"lucky draw {game.id} is {game.status}, not live")
    game.status = ENDED
    return game


def _pick(prizes: list[Prize]) -> tuple[Prize, int, int]:
    """(prize, roll, total weight): a server-side weighted draw over prizes with stock."""
    pool = [p for p in prizes if p.weight > 0 and (p.stock is None or p.issued < p.stock)]
    total = sum(p.weight for p in pool)
    if total <= 0:
        fallback = next(p for p in prizes if p.fallback)
        return fallback, 0, 0
    roll = secrets.randbelow(total)
    upto = 0
    for p in pool:
        upto += p.weight
        if roll < upto:
            return p, roll, total
    raise AssertionError("roll beyond the total weight")


async def _take(s: AsyncSession, prize: Prize) -> bool:
    cond = [Prize.id == prize.id]
    if prize.stock is not None:
        cond.append(Prize.issued < prize.stock)
    return await rows_changed(s, update(Prize).where(*cond)
                              .values(issued=Prize.issued + 1)) == 1


async def _give(s: AsyncSession, d: Draw, prize: Prize, at: datetime) -> bool:
    """Award ``prize`` for draw ``d``; False when its coupon could not be claimed."""
    if prize.kind == "points":
        d.points_won = await points.grant(s, d.member_id, "game", d.id, prize.points, at=at)
    elif prize.kind == "coupon" and prize.coupon_template_id is not None:
        from ..marketing import service as coupons
        from ..marketing.api import _ranks

        try:
            async with s.begin_nested():
                t = await coupons.get_template(s, prize.coupon_template_id)
                rank, need = await _ranks(s, d.member_id, t.min_level)
                c = await coupons.claim(s, t.id, d.member_id, level_rank=rank,
                                        min_level_rank=need, channel="game", at=at)
                d.coupon_id = c.id
        except BridgeError:
            return False
    d.prize_id = prize.id
    return True


async def draw(s: AsyncSession, game_id: int, member_id: str, request_id: str, tz: str,
               at: datetime | None = None) -> Draw:
    """One draw of the member, once per ``request_id``.

    Raises:
        NotFound: no such game. Conflict: not live (or outside its times), a cap reached,
        not enough points for the draw's cost.
    """
    at = at or utcnow()
    before = await s.scalar(select(Draw).where(Draw.game_id == game_id,
                                               Draw.member_id == member_id,
                                               Draw.request_id == request_id))
    if before is not None:
        return before
    game = await get(s, game_id)
    if game.status != LIVE or not game.starts_at <= at < game.ends_at:
        raise Conflict("this lucky draw is not open now")
    day = at.astimezone(ZoneInfo(tz)).date().isoformat()
    mine = select(func.count()).select_from(Draw).where(Draw.game_id == game.id,
                                                        Draw.member_id == member_id)
    if (await s.scalar(mine) or 0) >= game.member_cap:
        raise Conflict("you have used all your draws of this game")
    today = await s.scalar(mine.where(Draw.day == day)) or 0
    if today >= game.daily_cap:
        raise Conflict("you have used all your draws of today")
    prizes = await prizes_of(s, game.id)
    fallback = next(p for p in prizes if p.fallback)
    drawn, roll, total = _pick(prizes)
    d = Draw(id="d" + secrets.token_hex(10), game_id=game.id, member_id=member_id,
             request_id=request_id, day=day, day_seq=today + 1, roll=roll, total_weight=total,
             config_hash=game.config_hash or "", drawn_prize_id=drawn.id, prize_id=None,
             outcome=WON, points_spent=0, points_won=0, created_at=at)
    try:
        async with s.begin_nested():
            s.add(d)
    except IntegrityError:
        # Another draw of the member at the same moment took this number.
        raise Conflict("one draw at a time: try again") from None
    if game.points_cost > 0:
        await points.redeem(s, member_id, game.points_cost, f"game:{d.id}")
        d.points_spent = game.points_cost
    prize, outcome = drawn, (FALLBACK if drawn.fallback else WON)
    if not await _take(s, drawn):
        prize, outcome = fallback, OUT_OF_STOCK
        await _take(s, fallback)
    given = await _give(s, d, prize, at)
    if not given:
        outcome = UNAVAILABLE
        if prize is not fallback:
            # The coupon could not be claimed: the prize goes back, the fallback is given.
            await s.execute(update(Prize).where(Prize.id == prize.id)
                            .values(issued=Prize.issued - 1))
            await _take(s, fallback)
            given = await _give(s, d, fallback, at)
    if not given:
        d.prize_id = None
    d.outcome = outcome
    await s.flush()
    return d


def game_json(game: LuckyDraw, prizes: list[Prize], *, staff: bool) -> JsonObject:
    """The game as the API shows it; shoppers see each prize's chance, staff the weights."""
    total = sum(p.weight for p in prizes) or 1
    rows: list[JsonObject] = []
    out: JsonObject = {"id": game.id, "store": game.store, "name_zh": game.name_zh,
                       "name_en": game.name_en, "status": game.status,
                       "starts_at": game.starts_at.isoformat(),
                       "ends_at": game.ends_at.isoformat(),
                       "daily_cap": game.daily_cap, "member_cap": game.member_cap,
                       "points_cost": game.points_cost, "prizes": rows}
    for p in prizes:
        row: JsonObject = {"id": p.id, "name_zh": p.name_zh, "name_en": p.name_en,
                           "kind": p.kind, "points": p.points, "fallback": p.fallback,
                           "chance_bp": p.weight * 10_000 // total}
        if staff:
            row.update(weight=p.weight, stock=p.stock, issued=p.issued,
                       coupon_template_id=p.coupon_template_id)
        rows.append(row)
    if staff:
        out.update(config_hash=game.config_hash, created_by=game.created_by,
                   created_at=game.created_at.isoformat(),
                   went_live_at=game.went_live_at.isoformat() if game.went_live_at else None)
    return out


def draw_json(d: Draw, prizes: dict[int, Prize], *, staff: bool) -> JsonObject:
    p = prizes.get(d.prize_id) if d.prize_id is not None else None
    out = {"id": d.id, "game_id": d.game_id, "request_id": d.request_id, "day": d.day,
           "outcome": d.outcome, "prize_id": d.prize_id,
           "prize_name_zh": p.name_zh if p else "谢谢参与",
           "prize_name_en": p.name_en if p else "Better luck next time",
           "prize_kind": p.kind if p else "nothing", "points_won": d.points_won,
           "points_spent": d.points_spent, "coupon_id": d.coupon_id,
           "created_at": d.created_at.isoformat()}
    if staff:
        out.update(member_id=d.member_id, day_seq=d.day_seq, roll=d.roll,
                   total_weight=d.total_weight, drawn_prize_id=d.drawn_prize_id,
                   config_hash=d.config_hash)
    return out
