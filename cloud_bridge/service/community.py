"""The members' community: posts and comments, the word filter, rate limits, reports.

* Only registered members write (posts, comments, reports); any shopper reads.
* The word filter: head office keeps a list of forbidden words, each ``block`` (the text
  is refused) or ``review`` (the text is kept but held until staff restore it). Text and
  words are compared after :func:`normalise`: NFKC (full-width letters and digits become
  half-width), case folded, and every space, punctuation mark, symbol and control
  character dropped, so ``Ｆ.Ｏ.Ｏ`` or ``代 开-发 票`` still match ``foo`` / ``代开发票``.
  Matching is a scan of every start position against the set of words per length: a few
  thousand words cost a handful of set look-ups per character.
* Rate limits count the member's own rows in the database, so every bridge worker agrees.
* Reports: once per member and item; at ``REPORT_HIDE_AT`` distinct reports the item is
  held for review, whatever staff decided before it was reported again.
"""

from __future__ import annotations

import asyncio
import unicodedata
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import Conflict, InvalidRequest, NotFound, TooManyRequests
from common.jsontypes import JsonObject

from .models import Attachment
from .models_community import CommunityComment, CommunityPost, CommunityReport, CommunityWord

MAX_IMAGES = 6
MAX_POST = 1000
MAX_COMMENT = 500
MAX_WORDS = 5000
POSTS_PER_HOUR = 5
COMMENTS_PER_MINUTE = 5
REPORT_HIDE_AT = 3
REPORT_REASONS = ("spam", "abuse", "illegal", "fraud", "other")
ACTIONS = ("block", "review")
_DROP = ("Z", "P", "S", "C")  # separators, punctuation, symbols, controls


def _now() -> datetime:
    return datetime.now(UTC)


def normalise(text: str) -> str:
    """The text as the filter compares it (see the module's notes)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in _DROP)


class WordMatcher:
    """The forbidden words, by length, for a scan of every start position."""

    def __init__(self, words: dict[str, str]) -> None:
        self.words = words  # normalised word -> action
        self.lengths = sorted({len(w) for w in words})

    def find(self, text: str) -> tuple[str, str] | None:
        """The first match ``(word, action)``, a ``block`` word before a ``review`` one."""
        t = normalise(text)
        found: tuple[str, str] | None = None
        for i in range(len(t)):
            for n in self.lengths:
                if i + n > len(t):
                    break
                action = self.words.get(t[i:i + n])
                if action == "block":
                    return t[i:i + n], action
                if action is not None and found is None:
                    found = (t[i:i + n], action)
        return found


class WordFilter:
    """The matcher of the stored list, rebuilt when the list changes (one cheap query per
    text screened), so several bridge workers follow an edit without messages."""

    def __init__(self) -> None:
        # (count, highest id, newest created_at): only compared with the next one.
        self._stamp: tuple[object, ...] | None = None
        self._matcher = WordMatcher({})
        self._lock = asyncio.Lock()

    async def matcher(self, s: AsyncSession) -> WordMatcher:
        # Replacing the list writes every row anew with a fresh created_at, so the stamp
        # changes even where SQLite hands out the same ids again.
        stamp = tuple((await s.execute(select(func.count(CommunityWord.id),
                                              func.max(CommunityWord.id),
                                              func.max(CommunityWord.created_at)))).one())
        if stamp != self._stamp:
            async with self._lock:
                rows = (await s.execute(select(CommunityWord.word, CommunityWord.action))).all()
                self._matcher = WordMatcher({w: a for w, a in rows})
                self._stamp = stamp
        return self._matcher


FILTER = WordFilter()


async def screen(s: AsyncSession, text: str) -> str:
    """``visible`` or ``held`` for a text; a ``block`` word refuses it (400)."""
    hit = (await FILTER.matcher(s)).find(text)
    if hit is None:
        return "visible"
    if hit[1] == "block":
        raise InvalidRequest("内容包含不允许发布的词语，请修改后再发 / "
                             "the text contains a word that may not be posted")
    return "held"


async def set_words(s: AsyncSession, words: list[tuple[str, str]], actor: str) -> None:
    """Replace the list (words are stored normalised; duplicates keep the stricter action)."""
    if len(words) > MAX_WORDS:
        raise InvalidRequest(f"at most {MAX_WORDS} words")
    wanted: dict[str, str] = {}
    for word, action in words:
        w = normalise(word)
        if not w:
            raise InvalidRequest(f"{word!r} is only spaces or punctuation")
        if wanted.get(w) != "block":
            wanted[w] = action
    for row in (await s.scalars(select(CommunityWord))).all():
        await s.delete(row)
    await s.flush()
    at = _now()
    for w, action in sorted(wanted.items()):
        s.add(CommunityWord(word=w, action=action, created_by=actor, created_at=at))
    await s.flush()


async def words(s: AsyncSession) -> list[dict[str, str]]:
    rows = await s.execute(select(CommunityWord.word, CommunityWord.action)
                           .order_by(CommunityWord.word))
    return [{"word": w, "action": a} for w, a in rows]


# ------------------------------------------------------------------ rate limits


async def _limit(s: AsyncSession, table: type[CommunityPost] | type[CommunityComment],
                 member_id: str, most: int, window: timedelta, what: str) -> None:
    since = _now() - window
    recent = (await s.scalars(select(table.created_at)
                              .where(table.member_id == member_id, table.created_at > since)
                              .order_by(table.created_at.desc()).limit(most))).all()
    if len(recent) >= most:
        oldest = recent[-1]
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        wait = int((oldest + window - _now()).total_seconds()) + 1
        raise TooManyRequests(f"发得太快了，请稍后再试 / too many {what}: at most {most} per "
                              f"{int(window.total_seconds() // 60)} min", retry_after=wait)


# ------------------------------------------------------------------ writing


async def create_post(s: AsyncSession, *, store: str | None, member_id: str, openid: str,
                      actor: str, text: str, images: list[str]) -> CommunityPost:
    await _limit(s, CommunityPost, member_id, POSTS_PER_HOUR, timedelta(hours=1), "posts")
    if len(images) > MAX_IMAGES or len(set(images)) != len(images):
        raise InvalidRequest(f"at most {MAX_IMAGES} different images")
    for att_id in images:
        att = await s.get(Attachment, att_id)
        if att is None or att.owner != actor or att.purpose != "community" or att.used:
            raise InvalidRequest(f"image {att_id} is not one of your unused community uploads")
        att.used = True
    post = CommunityPost(store=store, member_id=member_id, openid=openid, text=text,
                         images=images, status=await screen(s, text), report_count=0,
                         created_at=_now())
    post.held_reason = "word" if post.status == "held" else None
    s.add(post)
    await s.flush()
    return post


async def create_comment(s: AsyncSession, post: CommunityPost, *, member_id: str, openid: str,
                         text: str) -> CommunityComment:
    await _limit(s, CommunityComment, member_id, COMMENTS_PER_MINUTE, timedelta(minutes=1),
                 "comments")
    status = await screen(s, text)
    c = CommunityComment(post_id=post.id, store=post.store, member_id=member_id, openid=openid,
                         text=text, status=status, held_reason="word" if status == "held"
                         else None, report_count=0, created_at=_now())
    s.add(c)
    await s.flush()
    return c


async def report(s: AsyncSession, item: CommunityPost | CommunityComment, *, member_id: str,
                 reason: str) -> None:
    """One member's report; at ``REPORT_HIDE_AT`` reports the item is held for review."""
    if item.member_id == member_id:
        raise InvalidRequest("you cannot report your own text / 不能举报自己的内容")
    kind = "post" if isinstance(item, CommunityPost) else "comment"
    try:
        async with s.begin_nested():
            s.add(CommunityReport(kind=kind, target_id=item.id, member_id=member_id,
                                  reason=reason, created_at=_now()))
    except IntegrityError:
        raise Conflict("you have reported this already / 您已举报过") from None
    item.report_count = await s.scalar(select(func.count(CommunityReport.id)).where(
        CommunityReport.kind == kind, CommunityReport.target_id == item.id)) or 0
    if item.report_count >= REPORT_HIDE_AT and item.status == "visible":
        item.status, item.held_reason = "held", "reports"


def moderate(item: CommunityPost | CommunityComment, action: str, actor: str,
             note: str | None) -> None:
    """Staff: ``hide``, ``restore`` (visible again) or ``delete`` (gone for everyone)."""
    if item.status == "deleted":
        raise Conflict(f"{item.id} is deleted")
    item.status = {"hide": "hidden", "restore": "visible", "delete": "deleted"}[action]
    item.held_reason = "staff" if action == "hide" else None
    item.moderated_by, item.moderated_at, item.moderation_note = actor, _now(), note


# ------------------------------------------------------------------ reading


async def get_post(s: AsyncSession, post_id: int) -> CommunityPost:
    post = await s.get(CommunityPost, post_id)
    if post is None:
        raise NotFound(f"post {post_id} not found")
    return post


def readable(item: CommunityPost | CommunityComment, openid: str) -> bool:
    return item.status == "visible" or (item.openid == openid and item.status != "deleted")


def author_name(member_id: str) -> str:
    return "会员" + member_id[-4:]


def _base(x: CommunityPost | CommunityComment, openid: str | None) -> JsonObject:
    return {"id": x.id, "store": x.store, "author": author_name(x.member_id),
            "mine": openid is not None and x.openid == openid, "text": x.text,
            "status": x.status, "hidden": x.status != "visible",
            "created_at": x.created_at.isoformat()}


def _staff(x: CommunityPost | CommunityComment) -> JsonObject:
    return {"member_id": x.member_id, "held_reason": x.held_reason,
            "report_count": x.report_count, "moderated_by": x.moderated_by,
            "moderated_at": x.moderated_at.isoformat() if x.moderated_at else None,
            "moderation_note": x.moderation_note}


def post_json(p: CommunityPost, openid: str | None, comments: int,
              staff: bool = False) -> JsonObject:
    out = {**_base(p, openid), "images": list(p.images or []), "comments": comments}
    return {**out, **_staff(p)} if staff else out


def comment_json(c: CommunityComment, openid: str | None, staff: bool = False) -> JsonObject:
    out = {**_base(c, openid), "post_id": c.post_id}
    return {**out, **_staff(c)} if staff else out


async def comment_counts(s: AsyncSession, post_ids: list[int]) -> dict[int, int]:
    if not post_ids:
        return {}
    rows = await s.execute(select(CommunityComment.post_id, func.count(CommunityComment.id))
                           .where(CommunityComment.post_id.in_(post_ids),
                                  CommunityComment.status == "visible")
                           .group_by(CommunityComment.post_id))
    return dict(rows.tuples().all())

