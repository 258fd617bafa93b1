"""Sale builders shared by the journal, crash and bench code (no pricing engine needed)."""

from __future__ import annotations

from kiosk_agent.wire.base import utcnow
from kiosk_agent.wire.events import OrderCompletedData, OrderLineData, TenderData, VatLine


def make_order(
    n_lines: int = 3,
    unit_price: int = 350,
    out_trade_no: str | None = None,
    method: str = "wechat",
    order_no: str = "",
) -> OrderCompletedData:
    """A paid sale of ``n_lines`` lines of 2 units each, VAT 13%."""
    lines = [
        OrderLineData(
            line_no=i, product_id=f"P{i:03d}", barcode=f"69000000{i:05d}",
            name_zh=f"商品{i}", name_en=f"Item {i}", qty=2, unit_price=unit_price,
            list_amount=2 * unit_price, discount=0, amount=2 * unit_price, vat_rate_bp=1300,
        )
        for i in range(1, n_lines + 1)
    ]
    total = sum(ln.amount for ln in lines)
    net = total * 10000 // 11300
    now = utcnow()
    return OrderCompletedData(
        order_no=order_no, created_at=now, completed_at=now, lines=lines, subtotal=total,
        discount_total=0, total=total, vat=[VatLine(rate_bp=1300, gross=total, net=net,
                                                    tax=total - net)],
        tenders=[TenderData(method=method, amount=total, out_trade_no=out_trade_no,
                            provider_ref="wx-ref" if out_trade_no else None)],
    )
