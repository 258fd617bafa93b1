"""Satisfaction surveys (会员满意度调查, MEM-5/MEM-10): NPS (0-10) and CSAT (1-5) after a
purchase, one answer per (member, survey, order), results per store and per month.

NPS is the share of promoters (9-10) minus the share of detractors (0-6), in percent
points (-100..100); CSAT is the share of satisfied answers (4-5) and the mean score.
An answer is about one of the member's own paid orders, in the survey's store (or any
store for a chain-wide survey), within ``answer_days`` of its payment; the store and
the month (store time) are kept on the answer for the results.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject

from .. import orders
from ..errors import Conflict, InvalidRequest, NotFound
from ..models import Order
from ..models import now as utcnow
from .models import MemberRecord
from .models_programs import Survey, SurveyAnswer

SCALES = {"nps": (0, 10), "csat": (1, 5)}
# Orders looked at for the shopper's list of surveys to answer (the newest first).
PENDING_ORDERS = 50


async def get_survey(s: AsyncSession, survey_id: int) -> Survey:
    survey = await s.get(Survey, survey_id)
    if survey is None:
        raise NotFound(f"survey {survey_id} not found")
    return survey


def _member_orders(member: MemberRecord) -> ColumnElement[bool]:
    return or_(Order.member_id == member.id, Order.openid == member.openid)


def _answerable(survey: Survey, order: Order, at: datetime) -> str | None:
    """Why ``order`` cannot be rated in ``survey`` (``None``: it can)."""
    if survey.status != "active":
        return "this survey is closed"
    if order.status not in orders.SOLD or order.paid_at is None:
        return "only a paid order can be rated"
    if survey.store is not None and order.store != survey.store:
        return "this survey is about another store"
    if order.paid_at < at - timedelta(days=survey.answer_days):
        return "this order is too old to be rated"
    return None


async def answer(s: AsyncSession, member: MemberRecord, survey_id: int, order_no: str,
                 score: int, comment: str | None, tz: str,
                 at: datetime | None = None) -> SurveyAnswer:
    """Record the member's answer about one of their orders (once).

    Raises:
        NotFound: no such survey, or not the member's order. InvalidRequest: the score is
        off the survey's scale. Conflict: closed, not answerable, or answered already.
    """
    at = at or utcnow()
    survey = await get_survey(s, survey_id)
    order = await s.scalar(select(Order).where(Order.order_no == order_no,
                                               _member_orders(member)))
    if order is None:
        raise NotFound(f"order {order_no} not found")
    low, high = SCALES[survey.kind]
    if not low <= score <= high:
        raise InvalidRequest(f"a {survey.kind} score is {low}..{high}")
    why = _answerable(survey, order, at)
    if why is not None:
        raise Conflict(why)
    row = SurveyAnswer(survey_id=survey.id, member_id=member.id, order_no=order.order_no,
                       store=order.store, month=at.astimezone(ZoneInfo(tz)).strftime("%Y-%m"),
                       score=score, comment=comment, created_at=at)
    try:
        async with s.begin_nested():
            s.add(row)
    except IntegrityError:
        raise Conflict("you answered this survey for this order already") from None
    return row


async def pending(s: AsyncSession, member: MemberRecord,
                  at: datetime | None = None) -> list[tuple[Survey, Order]]:
    """(survey, order) pairs the member can still answer, newest order first."""
    at = at or utcnow()
    surveys = (await s.scalars(select(Survey).where(Survey.status == "active")
                               .order_by(Survey.id))).all()
    if not surveys:
        return []
    longest = max(sv.answer_days for sv in surveys)
    recent = (await s.scalars(select(Order).where(
        _member_orders(member), Order.status.in_(orders.SOLD),
        Order.paid_at >= at - timedelta(days=longest))
        .order_by(Order.paid_at.desc()).limit(PENDING_ORDERS))).all()
    done = set((await s.execute(select(SurveyAnswer.survey_id, SurveyAnswer.order_no).where(
        SurveyAnswer.member_id == member.id))).tuples().all())
    return [(sv, o) for o in recent for sv in surveys
            if (sv.id, o.order_no) not in done and _answerable(sv, o, at) is None]


def _result(kind: str, scores: list[int]) -> JsonObject:
    n = len(scores)
    out: JsonObject = {"responses": n, "mean": round(sum(scores) / n, 2) if n else None}
    if kind == "nps":
        promoters = sum(1 for x in scores if x >= 9)
        detractors = sum(1 for x in scores if x <= 6)
        out.update(promoters=promoters, passives=n - promoters - detractors,
                   detractors=detractors,
                   nps=round(100 * (promoters - detractors) / n, 1) if n else None)
    else:
        satisfied = sum(1 for x in scores if x >= 4)
        out.update(satisfied=satisfied,
                   csat=round(100 * satisfied / n, 1) if n else None)
    return out


async def results(s: AsyncSession, survey: Survey, store: str | None,
                  month: str | None) -> list[JsonObject]:
    """One result per (store, month) of the survey's answers, oldest month first."""
    cond = [SurveyAnswer.survey_id == survey.id]
    if store is not None:
        cond.append(SurveyAnswer.store == store)
    if month is not None:
        cond.append(SurveyAnswer.month == month)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for st, mo, score in (await s.execute(select(SurveyAnswer.store, SurveyAnswer.month,
                                                 SurveyAnswer.score).where(*cond))).tuples():
        groups[(st, mo)].append(score)
    return [{"store": st, "month": mo, **_result(survey.kind, scores)}
            for (st, mo), scores in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0]))]


def survey_json(sv: Survey) -> JsonObject:
    low, high = SCALES[sv.kind]
    return {"id": sv.id, "store": sv.store, "kind": sv.kind, "title_zh": sv.title_zh,
            "title_en": sv.title_en, "question_zh": sv.question_zh,
            "question_en": sv.question_en, "scale_min": low, "scale_max": high,
            "answer_days": sv.answer_days, "status": sv.status,
            "created_at": sv.created_at.isoformat()}


def answer_json(a: SurveyAnswer) -> JsonObject:
    return {"id": a.id, "survey_id": a.survey_id, "order_no": a.order_no, "store": a.store,
            "month": a.month, "score": a.score, "comment": a.comment,
            "created_at": a.created_at.isoformat()}
