"""Builders shared by the cloud bridge tests: kiosk events as a kiosk would publish them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from contract.wire.events import ORDER_COMPLETED, Event, uuid7


def order_data(order_no: str, lines: list[tuple[str, int, int]] | None = None,
               at: datetime | None = None) -> dict[str, Any]:
    """``order.completed`` data; ``lines`` are ``(product_id, qty, unit_price)``."""
    at = at or datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    lines = lines or [("p-milk", 2, 450), ("p-bread", 1, 800)]
    out_lines = []
    for i, (pid, qty, price) in enumerate(lines, 1):
        out_lines.append({
            "line_no": i, "product_id": pid, "name_zh": f"商品{pid}", "name_en": pid,
            "qty": qty, "unit_price": price, "list_amount": qty * price, "discount": 0,
            "amount": qty * price, "vat_rate_bp": 1300,
        })
    total = sum(ln["amount"] for ln in out_lines)
    return {
        "order_no": order_no, "created_at": at.isoformat(), "completed_at": at.isoformat(),
        "lines": out_lines, "subtotal": total, "discount_total": 0, "total": total,
        "tenders": [{"method": "wechat", "amount": total, "out_trade_no": "T" + order_no}],
        "receipt_token": receipt_token(order_no),
    }


def receipt_token(order_no: str) -> str:
    """The receipt QR token the kiosk printed for ``order_no`` (deterministic in tests)."""
    return hashlib.sha256(f"receipt:{order_no}".encode()).hexdigest()[:24]


def order_event(store: str, kiosk: str, seq: int, order_no: str | None = None,
                lines: list[tuple[str, int, int]] | None = None,
                at: datetime | None = None) -> Event:
    order_no = order_no or f"{store}-{kiosk}-{seq:06d}"
    return Event(event_id=uuid7(), type=ORDER_COMPLETED, store=store, kiosk=kiosk, seq=seq,
                 data=order_data(order_no, lines, at))
