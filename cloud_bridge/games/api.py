"""Lucky draw routes: staff under ``/api/v1/admin/games/lucky-draws`` (head office for the
chain, store staff for their store; another store's game is 404), shoppers under
``/api/v1/mp/games/lucky-draws`` (members only; draws of the caller only)."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject

from .. import keys
from ..db import Database
from ..errors import Forbidden, NotFound
from ..members.service import member_of
from ..openapi import Call, Route
from . import schemas, service
from .models import Draw, LuckyDraw, Prize

A = "/api/v1/admin/games/lucky-draws"
M = "/api/v1/mp/games/lucky-draws"
T = "games"
GAME = {"game_id": {"type": "integer", "minimum": 1, "maximum": 10**15}}
NOT_MEMBER = {404: "the caller has not registered as a member"}


def _db(call: Call) -> Database:
    return call.app[keys.DB_KEY]


async def _visible(s: AsyncSession, call: Call, lock: bool = False) -> LuckyDraw:
    game = await service.get(s, int(call.path["game_id"]), lock=lock)
    p = call.principal
    if game.store is not None and not p.chain_wide and game.store != p.store:
        raise NotFound(f"lucky draw {game.id} not found")
    return game


def _may_change(call: Call, game: LuckyDraw) -> None:
    if game.store is None and not call.principal.chain_wide:
        raise Forbidden("only head office runs chain-wide games")


async def _json(s: AsyncSession, game: LuckyDraw, staff: bool) -> JsonObject:
    return service.game_json(game, await service.prizes_of(s, game.id), staff=staff)


def _config(b: schemas.ConfigBody | schemas.LuckyDrawBody) -> service.GameConfig:
    return {"name_zh": b.name_zh, "name_en": b.name_en, "starts_at": b.starts_at,
            "ends_at": b.ends_at, "daily_cap": b.daily_cap, "member_cap": b.member_cap,
            "points_cost": b.points_cost}


def _prizes(b: schemas.ConfigBody | schemas.LuckyDrawBody) -> list[service.PrizeConfig]:
    return [{"name_zh": p.name_zh, "name_en": p.name_en, "kind": p.kind,
             "coupon_template_id": p.coupon_template_id, "points": p.points,
             "weight": p.weight, "stock": p.stock, "fallback": p.fallback} for p in b.prizes]


async def create_game(call: Call) -> JsonObject:
    """A new lucky draw (a draft: editable until it goes live)."""
    b = call.body_as(schemas.LuckyDrawBody)
    p = call.principal
    if b.store is None and not p.chain_wide:
        raise Forbidden("store staff make games for their own store only: give store")
    if b.store is not None:
        p.check_store(b.store)
    async with _db(call).session() as s:
        game = await service.create(s, created_by=p.actor, store=b.store,
                                    prizes=_prizes(b), **_config(b))
        return await _json(s, game, True)


async def list_games(call: Call) -> JsonObject:
    """Lucky draws, newest first (store staff: their store's and the chain's)."""
    q = call.query_as(schemas.GamesQuery)
    store = call.principal.store_scope(q.store)
    cond = [] if store is None else [or_(LuckyDraw.store == store, LuckyDraw.store.is_(None))]
    if q.status:
        cond.append(LuckyDraw.status == q.status)
    async with _db(call).session() as s:
        total = await s.scalar(select(func.count()).select_from(LuckyDraw).where(*cond))
        rows = (await s.scalars(select(LuckyDraw).where(*cond).order_by(LuckyDraw.id.desc())
                                .limit(q.limit).offset(q.offset))).all()
        return {"total": total, "items": [await _json(s, g, True) for g in rows]}


async def get_game(call: Call) -> JsonObject:
    """One lucky draw with its prizes, weights, stock and what was given."""
    async with _db(call).session() as s:
        return await _json(s, await _visible(s, call), True)


async def edit_game(call: Call) -> JsonObject:
    """Replace a draft's configuration; refused (409) once it is live or ended."""
    b = call.body_as(schemas.ConfigBody)
    async with _db(call).session() as s:
        game = await _visible(s, call, lock=True)
        _may_change(call, game)
        game = await service.replace_config(s, game.id, _prizes(b), **_config(b))
        return await _json(s, game, True)


async def start_game(call: Call) -> JsonObject:
    """Go live: the configuration is frozen."""
    async with _db(call).session() as s:
        game = await _visible(s, call)
        _may_change(call, game)
        return await _json(s, await service.start(s, game.id), True)


async def end_game(call: Call) -> JsonObject:
    """End a live game: no more draws."""
    async with _db(call).session() as s:
        game = await _visible(s, call)
        _may_change(call, game)
        return await _json(s, await service.end(s, game.id), True)


async def audit(call: Call) -> JsonObject:
    """Every draw of the game, newest first: who, the roll, the prize drawn and given."""
    q = call.query_as(schemas.DrawsQuery)
    async with _db(call).session() as s:
        game = await _visible(s, call)
        if game.store is None and not call.principal.chain_wide:
            raise Forbidden("the draws of a chain-wide game are head office's to audit")
        cond = [Draw.game_id == game.id]
        total = await s.scalar(select(func.count()).select_from(Draw).where(*cond))
        rows = (await s.scalars(select(Draw).where(*cond)
                                .order_by(Draw.created_at.desc(), Draw.id)
                                .limit(q.limit).offset(q.offset))).all()
        prizes = {p.id: p for p in await service.prizes_of(s, game.id)}
        return {"total": total, "items": [service.draw_json(d, prizes, staff=True)
                                          for d in rows]}


async def _member_id(s: AsyncSession, call: Call) -> str:
    m = await member_of(s, call.app[keys.CONFIG_KEY].mp.app_id, call.openid)
    return m.id


async def live_games(call: Call) -> JsonObject:
    """The lucky draws open now (of a store, and the chain's), with each prize's chance."""
    q = call.query_as(schemas.LiveGamesQuery)
    cond = [LuckyDraw.status == service.LIVE]
    if q.store:
        cond.append(or_(LuckyDraw.store == q.store, LuckyDraw.store.is_(None)))
    async with _db(call).session() as s:
        await _member_id(s, call)
        total = await s.scalar(select(func.count()).select_from(LuckyDraw).where(*cond))
        rows = (await s.scalars(select(LuckyDraw).where(*cond).order_by(LuckyDraw.id)
                                .limit(q.limit).offset(q.offset))).all()
        return {"total": total, "items": [await _json(s, g, False) for g in rows]}


async def play(call: Call) -> JsonObject:
    """Draw once (the server draws; a retry with the same request id returns the same)."""
    tz = str(call.app[keys.CONFIG_KEY].bridge.timezone)

    request_id = call.body_as(schemas.DrawBody).request_id

    async def work(s: AsyncSession) -> JsonObject:
        member_id = await _member_id(s, call)
        d = await service.draw(s, int(call.path["game_id"]), member_id, request_id, tz)
        prizes = {p.id: p for p in await service.prizes_of(s, d.game_id)}
        return service.draw_json(d, prizes, staff=False)

    return await _db(call).transact(work)


async def my_draws(call: Call) -> JsonObject:
    """My draws of one game, newest first."""
    q = call.query_as(schemas.DrawsQuery)
    async with _db(call).session() as s:
        member_id = await _member_id(s, call)
        game = await service.get(s, int(call.path["game_id"]))
        cond = [Draw.game_id == game.id, Draw.member_id == member_id]
        total = await s.scalar(select(func.count()).select_from(Draw).where(*cond))
        rows = (await s.scalars(select(Draw).where(*cond)
                                .order_by(Draw.created_at.desc(), Draw.id)
                                .limit(q.limit).offset(q.offset))).all()
        prizes = {p.id: p for p in (await s.scalars(
            select(Prize).where(Prize.game_id == game.id))).all()}
        return {"total": total, "items": [service.draw_json(d, prizes, staff=False)
                                          for d in rows]}


G = f"{A}/{{game_id}}"
ROUTES = [
    Route("POST", A, create_game, "Create a lucky draw", T, auth="admin",
          body=schemas.LuckyDrawBody, status=201, response=schemas.GameLuckyDraw,
          responses={400: "unfair or incomplete configuration"}),
    Route("GET", A, list_games, "Lucky draws", T, auth="admin", query=schemas.GamesQuery,
          response=schemas.GameLuckyDrawList),
    Route("GET", G, get_game, "One lucky draw", T, auth="admin", path_params=GAME,
          response=schemas.GameLuckyDraw, responses={404: "no such game"}),
    Route("PUT", G, edit_game, "Edit a draft lucky draw", T, auth="admin", path_params=GAME,
          body=schemas.ConfigBody, response=schemas.GameLuckyDraw,
          responses={400: "unfair or incomplete configuration", 404: "no such game",
                     409: "live or ended: the configuration is frozen"}),
    Route("POST", f"{G}/start", start_game, "Start a lucky draw", T, auth="admin",
          path_params=GAME, response=schemas.GameLuckyDraw,
          responses={404: "no such game", 409: "not a draft, or a prize's coupon is gone"}),
    Route("POST", f"{G}/end", end_game, "End a lucky draw", T, auth="admin",
          path_params=GAME, response=schemas.GameLuckyDraw,
          responses={404: "no such game", 409: "not live"}),
    Route("GET", f"{G}/draws", audit, "Every draw of a lucky draw (audit)", T, auth="admin",
          path_params=GAME, query=schemas.DrawsQuery, response=schemas.GameDrawList,
          responses={403: "a chain-wide game's draws: head office only",
                     404: "no such game"}),
    Route("GET", M, live_games, "Lucky draws open now", T, auth="mp",
          query=schemas.LiveGamesQuery,
          response=schemas.GameLuckyDrawList, responses=NOT_MEMBER),
    Route("POST", f"{M}/{{game_id}}/draw", play, "Draw", T, auth="mp", path_params=GAME,
          body=schemas.DrawBody, status=201, response=schemas.GameDraw,
          responses={404: "not a member, or no such game",
                     409: "not open, a cap reached, or not enough points"}),
    Route("GET", f"{M}/{{game_id}}/draws", my_draws, "My draws", T, auth="mp",
          path_params=GAME, query=schemas.DrawsQuery, response=schemas.GameDrawList,
          responses={404: "not a member, or no such game"}),
]
