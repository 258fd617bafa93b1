"""Suggested articles while a shopper types a chat message (the ``typing`` frame)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import select

from cloud_bridge.keys import DB_KEY
from common.jsontypes import JsonObject

from .kb import snippet
from .models_kb import KbArticle
from .runtime import runtime

SUGGESTIONS = 3

Suggest = Callable[[str, str], Awaitable[list[JsonObject]]]


def suggest_for_chat(app: web.Application) -> Suggest:
    """A ``suggest(store, text)`` coroutine for the chat socket: the best few published
    articles of the store and the chain for what the shopper has typed so far."""
    db = app[DB_KEY]
    search = runtime(app).kb

    async def suggest(store: str, text: str) -> list[JsonObject]:
        async with db.read() as s:
            hits = await search.search(s, store, text, limit=SUGGESTIONS)
            if not hits:
                return []
            rows = {a.id: a for a in await s.scalars(
                select(KbArticle).where(KbArticle.id.in_([h[0] for h in hits])))}
        return [{"id": i, "title": rows[i].title, "snippet": snippet(rows[i].body_text)}
                for i, _ in hits if i in rows]

    return suggest
