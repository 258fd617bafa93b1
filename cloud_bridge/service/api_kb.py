"""Routes of the knowledge base: staff write, version and publish FAQ articles; shoppers
search and read the published ones (``/api/v1/admin/service/kb/...``,
``/api/v1/mp/service/...faq...``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import auth
from cloud_bridge.errors import Forbidden, NotFound
from cloud_bridge.openapi import Call, QueryModel, RequestModel, Route, ShortText
from common.jsontypes import JsonObject

from . import kb, schemas
from .api_common import ID_SCHEMA, TAG, A, M, db, path_id
from .models_kb import KbArticle, KbVersion
from .runtime import runtime

Html = Annotated[str, StringConstraints(min_length=1, max_length=kb.MAX_HTML,
                                        pattern=r"^[^\x00]+$")]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]
Word = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[^\x00]+$")]


class ArticleBody(RequestModel):
    store: ShortText | None = Field(default=None, description="None: the whole chain")
    category: schemas.KbCategory
    title: Title
    body_html: Html


async def _readable(s: AsyncSession, call: Call, article_id: int) -> KbArticle:
    """An article staff may read: their store's or the chain's (another store's is 404)."""
    art = await s.get(KbArticle, article_id)
    p = call.principal
    if art is None or not (p.chain_wide or art.store is None or art.store == p.store):
        raise NotFound(f"article {article_id} not found")
    return art


async def _writable(s: AsyncSession, call: Call, article_id: int) -> KbArticle:
    art = await _readable(s, call, article_id)
    if art.store is None and not call.principal.chain_wide:
        raise Forbidden("only head office edits the chain's articles")
    return art


async def add_article(call: Call) -> JsonObject:
    """A new article (version 1, a draft until published)."""
    b = call.body_as(ArticleBody)
    if b.store is None:
        if not call.principal.chain_wide:
            raise Forbidden("only head office writes articles for the whole chain")
    else:
        call.principal.check_store(b.store)
    async with db(call).session() as s:
        art, ver = await kb.create(s, store=b.store, category=b.category, title=b.title,
                                   body_html=b.body_html, editor=call.principal.actor)
        return {**kb.article_json(art, staff=True), "versions": [kb.version_json(ver)]}


class ListQuery(QueryModel):
    store: ShortText | None = None
    status: schemas.KbStatus | None = None
    category: schemas.KbCategory | None = None


async def list_articles(call: Call) -> JsonObject:
    """Articles staff may read (their store's and the chain's), newest change first."""
    q = call.query_as(ListQuery)
    store = call.principal.store_scope(q.store)
    stmt = select(KbArticle).order_by(KbArticle.updated_at.desc(), KbArticle.id.desc())
    if store is not None:
        stmt = stmt.where((KbArticle.store == store) | KbArticle.store.is_(None))
    if q.status:
        stmt = stmt.where(KbArticle.status == q.status)
    if q.category:
        stmt = stmt.where(KbArticle.category == q.category)
    async with db(call).read() as s:
        rows = (await s.scalars(stmt.limit(500))).all()
        return {"items": [kb.article_json(a, staff=True) for a in rows]}


async def article_detail(call: Call) -> JsonObject:
    """One article with every version (the latest first)."""
    async with db(call).read() as s:
        art = await _readable(s, call, path_id(call, "article_id"))
        vers = (await s.scalars(select(KbVersion).where(KbVersion.article_id == art.id)
                                .order_by(KbVersion.version.desc()))).all()
        return {**kb.article_json(art, staff=True), "versions": [kb.version_json(v) for v in vers]}


class EditBody(RequestModel):
    base_version: int = Field(ge=1, le=10**6, description="the version this edit started from")
    title: Title
    body_html: Html
    category: schemas.KbCategory | None = None


async def edit_article(call: Call) -> JsonObject:
    """Save a new version (409 if someone saved since ``base_version``)."""
    b = call.body_as(EditBody)

    async def work(s: AsyncSession) -> JsonObject:
        art = await _writable(s, call, path_id(call, "article_id"))
        ver = await kb.edit(s, art, title=b.title, body_html=b.body_html,
                            editor=call.principal.actor, base_version=b.base_version,
                            category=b.category)
        return {**kb.article_json(art, staff=True), "versions": [kb.version_json(ver)]}

    return await db(call).transact(work)


class PublishBody(RequestModel):
    version: int | None = Field(default=None, ge=1, le=10**6,
                                description="default: the latest version")


async def publish_article(call: Call) -> JsonObject:
    """Publish a version: shoppers and the search see it from now on."""
    async def work(s: AsyncSession) -> JsonObject:
        art = await _writable(s, call, path_id(call, "article_id"))
        await kb.publish(s, art, call.body_as(PublishBody).version)
        return kb.article_json(art, staff=True)

    return await db(call).transact(work)


class UnpublishBody(RequestModel):
    archive: bool = False


async def unpublish_article(call: Call) -> JsonObject:
    """Take an article back to draft (or archive it): shoppers no longer see it."""
    async def work(s: AsyncSession) -> JsonObject:
        art = await _writable(s, call, path_id(call, "article_id"))
        await kb.unpublish(art, archive=call.body_as(UnpublishBody).archive)
        return kb.article_json(art, staff=True)

    return await db(call).transact(work)


async def get_synonyms(call: Call) -> JsonObject:
    """The search's synonym groups (chain-wide)."""
    async with db(call).read() as s:
        return {"groups": await kb.synonyms(s)}


class SynonymsBody(RequestModel):
    groups: list[Annotated[list[Word], Field(min_length=2, max_length=20)]] = Field(
        max_length=1000)


async def put_synonyms(call: Call) -> JsonObject:
    """Replace the synonym groups (head office)."""
    async def work(s: AsyncSession) -> JsonObject:
        await kb.set_synonyms(s, call.body_as(SynonymsBody).groups)
        return {"groups": await kb.synonyms(s)}

    return await db(call).transact(work)


class FaqQuery(QueryModel):
    q: Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00]*$")] | None = None
    category: schemas.KbCategory | None = None
    limit: int = Field(default=10, ge=1, le=50)


async def store_faq(call: Call) -> JsonObject:
    """A store's FAQ: with ``q``, the best matches (Chinese words, synonyms); without,
    every published article (of the store and the chain) by category."""
    q = call.query_as(FaqQuery)
    store = call.path["store"]
    async with db(call).read() as s:
        if q.q and q.q.strip():
            hits = await runtime(call.app).kb.search(s, store, q.q, category=q.category,
                                                     limit=q.limit)
            rows = {a.id: a for a in await s.scalars(
                select(KbArticle).where(KbArticle.id.in_([h[0] for h in hits])))}
            items: list[tuple[KbArticle, float | None]] = [
                (rows[i], round(score, 4)) for i, score in hits if i in rows]
        else:
            stmt = select(KbArticle).where(kb.visible_to(store))
            if q.category:
                stmt = stmt.where(KbArticle.category == q.category)
            rows_ = (await s.scalars(stmt.order_by(KbArticle.category, KbArticle.id)
                                     .limit(q.limit))).all()
            items = [(a, None) for a in rows_]  # listed, not searched: no score
    return {"query": q.q, "items": [
        {"id": a.id, "category": a.category, "title": a.title or "",
         "snippet": kb.snippet(a.body_text), "score": score} for a, score in items]}


async def faq_article(call: Call) -> JsonObject:
    """One published article (a draft or archived one is 404)."""
    async with db(call).read() as s:
        art = await s.get(KbArticle, path_id(call, "article_id"))
        if art is None or art.status != "published":
            raise NotFound(f"article {call.path['article_id']} not found")
        return kb.article_json(art, staff=False)


AR = {"article_id": ID_SCHEMA}
ROUTES = [
    Route("POST", f"{A}/kb/articles", add_article, "Write a knowledge-base article", TAG,
          auth="admin", body=ArticleBody, status=201, response=schemas.SvcKbArticleDetail),
    Route("GET", f"{A}/kb/articles", list_articles, "Knowledge-base articles", TAG,
          auth="admin", query=ListQuery, response=schemas.SvcKbArticleList),
    Route("GET", f"{A}/kb/articles/{{article_id}}", article_detail,
          "An article with its versions", TAG, auth="admin", path_params=AR,
          response=schemas.SvcKbArticleDetail),
    Route("PUT", f"{A}/kb/articles/{{article_id}}", edit_article, "Save a new version", TAG,
          auth="admin", path_params=AR, body=EditBody, response=schemas.SvcKbArticleDetail,
          responses={409: "someone saved since base_version, or archived"}),
    Route("POST", f"{A}/kb/articles/{{article_id}}/publish", publish_article,
          "Publish a version", TAG, auth="admin", path_params=AR, body=PublishBody,
          response=schemas.SvcKbArticle),
    Route("POST", f"{A}/kb/articles/{{article_id}}/unpublish", unpublish_article,
          "Unpublish or archive", TAG, auth="admin", path_params=AR, body=UnpublishBody,
          response=schemas.SvcKbArticle),
    Route("GET", f"{A}/kb/synonyms", get_synonyms, "Search synonyms", TAG, auth="admin",
          response=schemas.SvcKbSynonyms),
    Route("PUT", f"{A}/kb/synonyms", put_synonyms, "Replace the search synonyms", TAG,
          auth="admin", body=SynonymsBody, roles=(auth.HEAD_OFFICE,),
          response=schemas.SvcKbSynonyms),
    Route("GET", f"{M}/stores/{{store}}/faq", store_faq, "Search or list a store's FAQ", TAG,
          auth="mp", query=FaqQuery, response=schemas.SvcKbHits),
    Route("GET", f"{M}/faq/{{article_id}}", faq_article, "Read a FAQ article", TAG, auth="mp",
          path_params=AR, response=schemas.SvcKbArticle),
]
