"""Self-service look-ups for shoppers: where is my order, my refund, my invoice; when is
the store open (its service hours and the coming holidays)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cloud_bridge.errors import NotFound
from cloud_bridge.openapi import Call, Route
from common.jsontypes import JsonObject

from . import schemas
from .api_common import TAG, M, db
from .models_more import BusinessHours, CalendarDay
from .sla import ALL_STORES, DEFAULT_HOURS

# Shopper-facing names of order statuses (zh, en).
ORDER_STATUS_TEXT = {
    "created": ("待支付", "awaiting payment"), "paid": ("已支付", "paid"),
    "pending_shipment": ("待发货", "awaiting shipment"), "shipped": ("已发货", "shipped"),
    "delivered": ("已送达", "delivered"), "completed": ("已完成", "completed"),
    "cancelled": ("已取消", "cancelled"),
    "partially_refunded": ("部分退款", "partially refunded"), "refunded": ("已退款", "refunded"),
    "returned": ("已退货", "returned"),
}
REFUND_STATUS_TEXT = {"requested": ("退款申请中", "requested"),
                      "processing": ("退款处理中", "processing"),
                      "succeeded": ("退款成功", "refunded"), "failed": ("退款失败", "failed")}
WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
# How far ahead the coming holidays and make-up working days are listed.
CALENDAR_AHEAD = timedelta(days=60)


async def order_status(call: Call) -> JsonObject:
    """My order's status, refunds and invoice, in words a shopper reads."""
    from cloud_bridge import orders

    async with db(call).session() as s:
        try:
            order = await orders.get_order(s, call.path["order_no"])
        except NotFound:
            order = None
        if order is None or order.openid != call.openid:
            raise NotFound(f"order {call.path['order_no']} not found")
        detail = await orders.order_detail(s, order, staff=True)
    zh, en = ORDER_STATUS_TEXT.get(order.status, (order.status, order.status))
    return {
        "order_no": order.order_no, "store": order.store, "status": order.status,
        "status_zh": zh, "status_en": en, "total": order.total,
        "refunded_total": order.refunded_total, "currency": order.currency,
        "carrier": order.carrier, "tracking_no": order.tracking_no,
        "refunds": [{"amount": r["amount"], "status": r["status"],
                     "status_zh": REFUND_STATUS_TEXT[r["status"]][0],
                     "status_en": REFUND_STATUS_TEXT[r["status"]][1],
                     "requested_at": r["created_at"], "updated_at": r["updated_at"]}
                    for r in detail["refunds"] if r["status"] in REFUND_STATUS_TEXT],
        "invoice_status": detail["invoice"]["status"] if detail["invoice"] else None,
    }


async def opening_hours(call: Call) -> JsonObject:
    """A store's service hours by weekday and its coming holidays and make-up days."""
    store = call.path["store"]
    today = datetime.now(UTC).date()
    async with db(call).session() as s:
        rows = (await s.scalars(select(BusinessHours).where(BusinessHours.store == store)
                                .order_by(BusinessHours.weekday))).all()
        days = (await s.scalars(select(CalendarDay).where(
            CalendarDay.store.in_((store, ALL_STORES)),
            CalendarDay.day >= today.isoformat(),
            CalendarDay.day <= (today + CALENDAR_AHEAD).isoformat())
            .order_by(CalendarDay.day))).all()
    hours = ({r.weekday: (r.opens, r.closes) for r in rows} if rows else DEFAULT_HOURS)
    by_day = {}
    for d in sorted(days, key=lambda d: d.store != ALL_STORES):
        by_day[d.day] = d
    return {
        "store": store,
        "week": [{"weekday": wd, "weekday_zh": WEEKDAYS_ZH[wd],
                  "opens": hours[wd][0] if wd in hours else None,
                  "closes": hours[wd][1] if wd in hours else None} for wd in range(7)],
        "days": [{"day": k, "kind": d.kind, "name": d.name} for k, d in sorted(by_day.items())],
    }


async def wallet(call: Call) -> JsonObject:
    """My points and stored value in one look (the members and payments domains' records);
    404 for a shopper who has not joined the membership."""
    from cloud_bridge import keys as app_keys
    from cloud_bridge.members import service as members
    from cloud_bridge.payments.models import MemberBalance

    async with db(call).read() as s:
        m = await members.member_of(s, call.app[app_keys.CONFIG_KEY].mp.app_id, call.openid)
        bal = await s.get(MemberBalance, m.id)
        return {"member_id": m.id, "level": m.level, "points": m.points,
                "stored_value": bal.balance if bal is not None else 0,
                "currency": bal.currency if bal is not None else "CNY"}


ROUTES = [
    Route("GET", f"{M}/self-service/wallet", wallet, "My points and stored value", TAG,
          auth="mp", response=schemas.SvcWallet, responses={404: "not a member yet"}),
    Route("GET", f"{M}/self-service/orders/{{order_no}}", order_status,
          "My order's status, refunds and invoice", TAG, auth="mp",
          response=schemas.SvcOrderStatus),
    Route("GET", f"{M}/stores/{{store}}/opening-hours", opening_hours,
          "A store's service hours and coming holidays", TAG, auth="mp",
          response=schemas.SvcOpeningHours),
]
