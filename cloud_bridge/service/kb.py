"""The knowledge base: FAQ articles with versions, sanitised rich text, and Chinese search.

Staff write an article as HTML; it is cleaned by an allow-list (nh3, the ammonia
sanitiser: no scripts, no event handlers, no ``javascript:`` links, no styles) before it
is stored, so what a shopper's mini-program renders is safe whoever wrote it. Every save
is a new version; publishing copies a version's text onto the article, which is what
shoppers and the search see. The search index (:class:`cloud_bridge.textsearch.Bm25Index`)
is rebuilt when the published articles or the synonyms change, checked by one cheap
query per search, so several bridge workers stay in step without messages.
"""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import nh3
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.textsearch import Bm25Index, synonym_map
from common.jsontypes import JsonObject

from .models_kb import KbArticle, KbSynonyms, KbVersion

CATEGORIES = ("returns", "payment", "membership", "delivery", "store", "invoice", "products",
              "other")
STATUSES = ("draft", "published", "archived")
ALLOWED_TAGS = {"p", "br", "b", "strong", "i", "em", "u", "ul", "ol", "li", "h3", "h4",
                "blockquote", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "span"}
ALLOWED_ATTRS = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}
MAX_HTML = 20_000
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def clean_html(raw: str) -> str:
    """The article's HTML through the allow-list (links and images http(s) only)."""
    if len(raw) > MAX_HTML:
        raise InvalidRequest(f"article body is longer than {MAX_HTML} characters")
    return nh3.clean(raw, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRS,
                     url_schemes={"http", "https"}, link_rel="noopener noreferrer")


def plain_text(clean: str) -> str:
    """The words of cleaned HTML, for the search and for chat suggestions."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", clean))).strip()


def article_json(a: KbArticle, *, staff: bool) -> JsonObject:
    out: JsonObject = {"id": a.id, "store": a.store, "category": a.category,
                           "title": a.title, "body_html": a.body_html,
                           "updated_at": a.updated_at.isoformat()}
    if staff:
        out.update(status=a.status, latest_version=a.latest_version,
                   published_version=a.published_version, created_by=a.created_by)
    return out


def version_json(v: KbVersion) -> JsonObject:
    return {"version": v.version, "title": v.title, "body_html": v.body_html,
            "editor": v.editor, "created_at": v.created_at.isoformat()}


def _now() -> datetime:
    return datetime.now(UTC)


async def create(s: AsyncSession, *, store: str | None, category: str, title: str,
                 body_html: str, editor: str) -> tuple[KbArticle, KbVersion]:
    art = KbArticle(store=store, category=category, status="draft", latest_version=1,
                    created_by=editor, updated_at=_now())
    s.add(art)
    await s.flush()
    ver = KbVersion(article_id=art.id, version=1, title=title, body_html=clean_html(body_html),
                    editor=editor)
    s.add(ver)
    await s.flush()
    return art, ver


async def get_version(s: AsyncSession, article_id: int, version: int) -> KbVersion:
    v = await s.scalar(select(KbVersion).where(KbVersion.article_id == article_id,
                                               KbVersion.version == version))
    if v is None:
        raise NotFound(f"article {article_id} has no version {version}")
    return v


async def edit(s: AsyncSession, art: KbArticle, *, title: str, body_html: str, editor: str,
               base_version: int, category: str | None) -> KbVersion:
    """A new version. ``base_version`` is the version the editor started from: if someone
    saved meanwhile, this edit would silently drop theirs, so it is refused (409)."""
    if art.status == "archived":
        raise Conflict(f"article {art.id} is archived")
    if base_version != art.latest_version:
        raise Conflict(f"article {art.id} is at version {art.latest_version}, "
                       f"not {base_version}: reload and edit again")
    art.latest_version += 1
    if category is not None:
        art.category = category
    art.updated_at = _now()
    ver = KbVersion(article_id=art.id, version=art.latest_version, title=title,
                    body_html=clean_html(body_html), editor=editor)
    s.add(ver)
    await s.flush()
    return ver


async def publish(s: AsyncSession, art: KbArticle, version: int | None) -> None:
    if art.status == "archived":
        raise Conflict(f"article {art.id} is archived")
    ver = await get_version(s, art.id, version or art.latest_version)
    art.status = "published"
    art.published_version = ver.version
    art.title = ver.title
    art.body_html = ver.body_html
    art.body_text = plain_text(ver.body_html)
    art.updated_at = _now()


async def unpublish(art: KbArticle, *, archive: bool) -> None:
    art.status = "archived" if archive else "draft"
    art.published_version = None
    art.title = art.body_html = art.body_text = None
    art.updated_at = _now()


def visible_to(store: str) -> ColumnElement[bool]:
    """Published articles a shopper of ``store`` may read: its own and the chain's."""
    return (KbArticle.status == "published") & or_(KbArticle.store.is_(None),
                                                   KbArticle.store == store)


async def set_synonyms(s: AsyncSession, groups: list[list[str]]) -> int:
    for row in (await s.scalars(select(KbSynonyms))).all():
        await s.delete(row)
    for group in groups:
        s.add(KbSynonyms(words=sorted({w.strip().lower() for w in group if w.strip()}),
                         updated_at=_now()))
    await s.flush()
    return len(groups)


async def synonyms(s: AsyncSession) -> list[list[str]]:
    return [list(r.words) for r in (await s.scalars(select(KbSynonyms).order_by(KbSynonyms.id)))]


# ------------------------------------------------------------------ search


@dataclass(slots=True)
class _Built:
    stamp: tuple[object, ...]  # only compared with the next one
    index: Bm25Index
    synonyms: dict[str, set[str]]
    stores: dict[int, str | None]


class KbSearch:
    """The search over published articles, rebuilt when they or the synonyms change."""

    def __init__(self) -> None:
        self._built: _Built | None = None
        self._lock = asyncio.Lock()

    async def _stamp(self, s: AsyncSession) -> tuple[object, ...]:
        """One statement: published count and newest change, newest change of any article
        (unpublishing changes updated_at but drops the article from the published count),
        and the synonyms' count and newest change."""
        published = KbArticle.status == "published"
        row = (await s.execute(select(
            select(func.count(KbArticle.id)).where(published).scalar_subquery(),
            select(func.max(KbArticle.updated_at)).where(published).scalar_subquery(),
            select(func.max(KbArticle.updated_at)).scalar_subquery(),
            select(func.count(KbSynonyms.id)).scalar_subquery(),
            select(func.max(KbSynonyms.updated_at)).scalar_subquery(),
        ))).one()
        return tuple(row)

    async def _index(self, s: AsyncSession) -> _Built:
        stamp = await self._stamp(s)
        if self._built is not None and self._built.stamp == stamp:
            return self._built
        async with self._lock:
            if self._built is not None and self._built.stamp == stamp:
                return self._built
            rows = (await s.execute(select(KbArticle.id, KbArticle.store, KbArticle.title,
                                           KbArticle.body_text)
                                    .where(KbArticle.status == "published"))).all()
            index = Bm25Index()
            for art_id, _store, title, body in rows:
                index.add(art_id, title or "", body or "")
            self._built = _Built(stamp, index, synonym_map(await synonyms(s)),
                                 {r[0]: r[1] for r in rows})
            return self._built

    async def search(self, s: AsyncSession, store: str, query: str, *,
                     category: str | None = None, limit: int = 10) -> list[tuple[int, float]]:
        built = await self._index(s)
        allowed = {i for i, st in built.stores.items() if st is None or st == store}
        hits = built.index.search(query, synonyms=built.synonyms, allowed=allowed,
                                  limit=limit if category is None else 10 * limit)
        if category is not None:
            found = await s.execute(select(KbArticle.id, KbArticle.category)
                                    .where(KbArticle.id.in_([h[0] for h in hits])))
            cats = dict(found.tuples().all())
            hits = [h for h in hits if cats.get(h[0]) == category][:limit]
        return hits


def snippet(text: str | None, limit: int = 80) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit - 1] + "…"
