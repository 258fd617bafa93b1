"""Routes of the members' community: members post and comment (word filter, rate limits)
and report; staff of the store (head office: all) review reported and held items."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import Field, StringConstraints
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import auth
from cloud_bridge.errors import Forbidden, NotFound
from cloud_bridge.openapi import Call, QueryModel, RequestModel, Route, ShortText, Text
from common.jsontypes import JsonObject

from . import attachments, community, schemas
from .api_common import ID_SCHEMA, TAG, A, M, db, path_id
from .api_tickets import IMAGE_BODY, IMAGE_ERRORS
from .models_community import CommunityComment, CommunityPost
from .runtime import runtime

C = "/community"
NOT_MEMBER = {403: "the caller is not a registered member"}
PostText = Annotated[str, StringConstraints(min_length=1, max_length=community.MAX_POST,
                                            pattern=r"^[^\x00]*\S[^\x00]*$")]
CommentText = Annotated[str, StringConstraints(min_length=1, max_length=community.MAX_COMMENT,
                                               pattern=r"^[^\x00]*\S[^\x00]*$")]
WordText = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00]+$")]


async def _member_id(s: AsyncSession, call: Call) -> str:
    """The caller's member id; a shopper who has not registered is refused (403)."""
    from cloud_bridge import keys
    from cloud_bridge.members.service import find_member

    m = await find_member(s, call.app[keys.CONFIG_KEY].mp.app_id, call.openid)
    if m is None:
        raise Forbidden("社区仅限会员发帖、评论和举报，请先注册会员 / "
                        "only members post, comment and report: register as a member first")
    return m.id


async def upload_image(call: Call) -> JsonObject:
    """An image for my next post (members; checked by content)."""
    data = await call.request.read()
    async with db(call).session() as s:
        await _member_id(s, call)
        att = await attachments.save_image(s, runtime(call.app).storage, data,
                                           store=call.query_as(ImageQuery).store or "all",
                                           owner=call.principal.actor, purpose="community")
        return attachments.attachment_json(att)


class ImageQuery(QueryModel):
    store: ShortText | None = None


class PostBody(RequestModel):
    store: ShortText | None = Field(default=None, description="None: a chain-wide topic")
    text: PostText
    image_ids: list[ShortText] = Field(default_factory=list, max_length=community.MAX_IMAGES)


async def add_post(call: Call) -> JsonObject:
    """Post (members): held for review when a review word matches, 400 on a blocked word,
    429 past the hourly limit."""
    b = call.body_as(PostBody)

    async def work(s: AsyncSession) -> JsonObject:
        member = await _member_id(s, call)
        post = await community.create_post(s, store=b.store, member_id=member,
                                           openid=call.openid, actor=call.principal.actor,
                                           text=b.text, images=b.image_ids)
        return community.post_json(post, call.openid, 0)

    return await db(call).transact(work)


class PostsQuery(QueryModel):
    store: ShortText | None = Field(default=None, description="a store's posts and the "
                                    "chain-wide ones; none: chain-wide topics only")
    before_id: int | None = Field(default=None, ge=1, le=10**15)
    limit: int = Field(default=20, ge=1, le=100)


async def list_posts(call: Call) -> JsonObject:
    """Posts, newest first: visible ones, and my own held or hidden ones (marked)."""
    q = call.query_as(PostsQuery)
    stmt = select(CommunityPost).where(
        (CommunityPost.status == "visible")
        | ((CommunityPost.openid == call.openid) & (CommunityPost.status != "deleted")))
    where = CommunityPost.store.is_(None)
    stmt = stmt.where(or_(where, CommunityPost.store == q.store) if q.store else where)
    if q.before_id:
        stmt = stmt.where(CommunityPost.id < q.before_id)
    async with db(call).read() as s:
        rows = (await s.scalars(stmt.order_by(CommunityPost.id.desc()).limit(q.limit))).all()
        counts = await community.comment_counts(s, [p.id for p in rows])
        return {"items": [community.post_json(p, call.openid, counts.get(p.id, 0))
                          for p in rows]}


async def _readable_post(s: AsyncSession, call: Call) -> CommunityPost:
    post = await community.get_post(s, path_id(call, "post_id"))
    if not community.readable(post, call.openid):
        raise NotFound(f"post {post.id} not found")
    return post


async def post_detail(call: Call) -> JsonObject:
    """One post with its comments (visible ones, and mine)."""
    async with db(call).read() as s:
        post = await _readable_post(s, call)
        rows = (await s.scalars(select(CommunityComment).where(
            CommunityComment.post_id == post.id,
            (CommunityComment.status == "visible")
            | ((CommunityComment.openid == call.openid) & (CommunityComment.status != "deleted")))
            .order_by(CommunityComment.id).limit(500))).all()
        visible = sum(1 for c in rows if c.status == "visible")
        return {**community.post_json(post, call.openid, visible),
                "comment_items": [community.comment_json(c, call.openid) for c in rows]}


class CommentBody(RequestModel):
    text: CommentText


async def add_comment(call: Call) -> JsonObject:
    """Comment on a visible post (members; word filter; 429 past the per-minute limit)."""
    async def work(s: AsyncSession) -> JsonObject:
        post = await _readable_post(s, call)
        if post.status != "visible":
            raise NotFound(f"post {post.id} not found")
        member = await _member_id(s, call)
        c = await community.create_comment(s, post, member_id=member, openid=call.openid,
                                           text=call.body_as(CommentBody).text)
        return community.comment_json(c, call.openid)

    return await db(call).transact(work)


class ReportBody(RequestModel):
    kind: Literal["post", "comment"]
    id: int = Field(ge=1, le=10**15)
    reason: Literal["spam", "abuse", "illegal", "fraud", "other"]


async def add_report(call: Call) -> JsonObject:
    """Report a post or comment (members, once each); enough reports hold it for review."""
    b = call.body_as(ReportBody)

    async def work(s: AsyncSession) -> JsonObject:
        item: CommunityPost | CommunityComment | None
        if b.kind == "post":
            item = await s.get(CommunityPost, b.id, with_for_update=True)
        else:
            item = await s.get(CommunityComment, b.id, with_for_update=True)
        if item is None or not community.readable(item, call.openid):
            raise NotFound(f"{b.kind} {b.id} not found")
        member = await _member_id(s, call)
        await community.report(s, item, member_id=member, reason=b.reason)
        return {"kind": b.kind, "id": item.id, "reported": True}

    return await db(call).transact(work)


# ------------------------------------------------------------------ staff


# A post or a comment: what staff moderate, typed as the caller read it.
ItemT = TypeVar("ItemT", CommunityPost, CommunityComment)


class QueueQuery(QueryModel):
    store: ShortText | None = None
    status: Literal["held", "hidden", "reported", "visible", "deleted"] = "held"


async def queue(call: Call) -> JsonObject:
    """Posts and comments to review: held (the default), hidden, reported (any report), or
    any status; the caller's store (head office: any store, or all with chain-wide topics)."""
    q = call.query_as(QueueQuery)
    store = call.principal.store_scope(q.store)
    async with db(call).read() as s:
        posts = (await s.scalars(_queued(CommunityPost, store, q.status))).all()
        counts = await community.comment_counts(s, [p.id for p in posts])
        comments = (await s.scalars(_queued(CommunityComment, store, q.status))).all()
        return {"posts": [community.post_json(p, None, counts.get(p.id, 0), staff=True)
                          for p in posts],
                "comments": [community.comment_json(c, None, staff=True) for c in comments]}


def _queued(table: type[ItemT], store: str | None, status: str) -> Select[tuple[ItemT]]:
    """A review queue's rows of one table: of one store (or all), by status or reported."""
    stmt = select(table)
    if store is not None:
        stmt = stmt.where(table.store == store)
    stmt = stmt.where(table.report_count > 0) if status == "reported" \
        else stmt.where(table.status == status)
    return stmt.order_by(table.id).limit(500)


class ModerateBody(RequestModel):
    action: Literal["hide", "restore", "delete"]
    note: Text | None = None


def _staff_item(call: Call, item: ItemT | None, what: str, item_id: int) -> ItemT:
    p = call.principal
    if item is None or (item.store is not None and not p.chain_wide and item.store != p.store):
        raise NotFound(f"{what} {item_id} not found")
    if item.store is None and not p.chain_wide:
        raise Forbidden("only head office moderates chain-wide topics")
    return item


async def moderate_post(call: Call) -> JsonObject:
    """Hide, restore or delete a post (recorded: who, when, why)."""
    async def work(s: AsyncSession) -> JsonObject:
        pid = path_id(call, "post_id")
        post = _staff_item(call, await s.get(CommunityPost, pid, with_for_update=True),
                           "post", pid)
        b = call.body_as(ModerateBody)
        community.moderate(post, b.action, call.principal.actor, b.note)
        counts = await community.comment_counts(s, [post.id])
        return community.post_json(post, None, counts.get(post.id, 0), staff=True)

    return await db(call).transact(work)


async def moderate_comment(call: Call) -> JsonObject:
    """Hide, restore or delete a comment (recorded: who, when, why)."""
    async def work(s: AsyncSession) -> JsonObject:
        cid = path_id(call, "comment_id")
        c = _staff_item(call, await s.get(CommunityComment, cid, with_for_update=True),
                        "comment", cid)
        b = call.body_as(ModerateBody)
        community.moderate(c, b.action, call.principal.actor, b.note)
        return community.comment_json(c, None, staff=True)

    return await db(call).transact(work)


async def get_words(call: Call) -> JsonObject:
    """The forbidden words (normalised) and what each does."""
    async with db(call).read() as s:
        return {"words": await community.words(s)}


class WordBody(RequestModel):
    word: WordText
    action: Literal["block", "review"]


class WordsBody(RequestModel):
    words: list[WordBody] = Field(max_length=community.MAX_WORDS)


async def put_words(call: Call) -> JsonObject:
    """Replace the forbidden words (head office)."""
    async def work(s: AsyncSession) -> JsonObject:
        await community.set_words(s, [(w.word, w.action) for w in call.body_as(WordsBody).words],
                                  call.principal.actor)
        return {"words": await community.words(s)}

    return await db(call).transact(work)


P = {"post_id": ID_SCHEMA}
LIMITED = {429: "too many posts or comments: wait Retry-After seconds"}
ROUTES = [
    Route("POST", f"{M}{C}/images", upload_image, "Upload an image for a post", TAG,
          auth="mp", query=ImageQuery, raw_body=IMAGE_BODY, status=201,
          response=schemas.SvcAttachment, responses={**IMAGE_ERRORS, **NOT_MEMBER}),
    Route("POST", f"{M}{C}/posts", add_post, "Post in the community", TAG, auth="mp",
          body=PostBody, status=201, response=schemas.SvcCommunityPost,
          responses={400: "a forbidden word, or images not mine", **NOT_MEMBER, **LIMITED}),
    Route("GET", f"{M}{C}/posts", list_posts, "Community posts", TAG, auth="mp",
          query=PostsQuery, response=schemas.SvcCommunityPostList),
    Route("GET", f"{M}{C}/posts/{{post_id}}", post_detail, "A post with its comments", TAG,
          auth="mp", path_params=P, response=schemas.SvcCommunityPostDetail),
    Route("POST", f"{M}{C}/posts/{{post_id}}/comments", add_comment, "Comment on a post", TAG,
          auth="mp", path_params=P, body=CommentBody, status=201,
          response=schemas.SvcCommunityComment,
          responses={400: "a forbidden word", **NOT_MEMBER, **LIMITED}),
    Route("POST", f"{M}{C}/reports", add_report, "Report a post or comment", TAG, auth="mp",
          body=ReportBody, status=201, response=schemas.SvcCommunityReport,
          responses={409: "reported already", **NOT_MEMBER}),
    Route("GET", f"{A}{C}/queue", queue, "Community items to review", TAG, auth="admin",
          query=QueueQuery, response=schemas.SvcCommunityQueue),
    Route("POST", f"{A}{C}/posts/{{post_id}}/moderate", moderate_post,
          "Hide, restore or delete a post", TAG, auth="admin", path_params=P,
          body=ModerateBody, response=schemas.SvcCommunityPostStaff),
    Route("POST", f"{A}{C}/comments/{{comment_id}}/moderate", moderate_comment,
          "Hide, restore or delete a comment", TAG, auth="admin",
          path_params={"comment_id": ID_SCHEMA}, body=ModerateBody,
          response=schemas.SvcCommunityCommentStaff),
    Route("GET", f"{A}{C}/words", get_words, "Forbidden words", TAG, auth="admin",
          response=schemas.SvcCommunityWords),
    Route("PUT", f"{A}{C}/words", put_words, "Replace the forbidden words", TAG, auth="admin",
          body=WordsBody, roles=(auth.HEAD_OFFICE,), response=schemas.SvcCommunityWords),
]
