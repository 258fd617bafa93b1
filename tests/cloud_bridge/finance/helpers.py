"""Builders of the finance tests: sales through the real ingest, refunds, top-ups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cloud_bridge import orders
from cloud_bridge.ingest import store_events
from cloud_bridge.payments.providers.stored_value import StoredValueProvider
from contract.wire.events import ORDER_COMPLETED, Event, uuid7

TZ = "Asia/Shanghai"


def sale_data(order_no: str, lines: list[tuple[str, int, int, int]], tenders: list[tuple],
              at: datetime, vat: bool = True, member_id: str | None = None) -> dict[str, Any]:
    """``order.completed`` data; ``lines`` are ``(product_id, qty, unit_price, vat_bp)``,
    ``tenders`` ``(method, amount)`` or ``(method, amount, out_trade_no)``."""
    out_lines, by_rate = [], {}
    for i, (pid, qty, price, rate) in enumerate(lines, 1):
        amount = qty * price
        out_lines.append({"line_no": i, "product_id": pid, "name_zh": pid, "qty": qty,
                          "unit_price": price, "list_amount": amount, "discount": 0,
                          "amount": amount, "vat_rate_bp": rate})
        by_rate[rate] = by_rate.get(rate, 0) + amount
    total = sum(ln["amount"] for ln in out_lines)
    vat_lines = []
    for rate, gross in sorted(by_rate.items()):
        net = (gross * 10000 * 2 + (10000 + rate)) // (2 * (10000 + rate))
        vat_lines.append({"rate_bp": rate, "gross": gross, "net": net, "tax": gross - net})
    return {
        "order_no": order_no, "created_at": at.isoformat(), "completed_at": at.isoformat(),
        "lines": out_lines, "subtotal": total, "discount_total": 0, "total": total,
        "vat": vat_lines if vat else [], "member_id": member_id,
        "tenders": [{"method": t[0], "amount": t[1],
                     "out_trade_no": t[2] if len(t) > 2 else f"T{order_no}{j}"}
                    for j, t in enumerate(tenders)],
    }


async def ingest_sales(db, store: str, sales: list[dict[str, Any]], kiosk: str = "k1",
                       seq0: int = 0) -> None:
    """Store ``order.completed`` events exactly as the MQTT ingest does."""
    items = []
    for i, data in enumerate(sales):
        ev = Event(event_id=uuid7(), type=ORDER_COMPLETED, store=store, kiosk=kiosk,
                   seq=seq0 + i, data=data)
        items.append((store, kiosk, ev.model_dump_json().encode()))
    result = await store_events(db, items, worker="test", tz=TZ)
    assert not result.rejected, result.rejected


async def refund(db, order_no: str, amount: int, succeeded: bool = True) -> str:
    """A staff refund request executed by the payments side; its out_refund_no."""
    async with db.session() as s:
        o = await orders.get_order(s, order_no)
        req = await orders.request_refund(s, o, amount, "damaged", "admin:t")
        await orders.record_refund(s, req.id, succeeded=succeeded, actor="payments")
        return req.out_refund_no


async def top_up(db, member_id: str, amount: int, key: str) -> int:
    return await StoredValueProvider(db).top_up(member_id, amount, key)
