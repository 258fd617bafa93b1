"""Sale builders shared by the journal, crash and bench code (no pricing engine needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contract.pricebook import PriceBook, Product
from contract.wire.base import utcnow
from contract.wire.events import OrderCompletedData, OrderLineData, TenderData, VatLine


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


def make_book() -> PriceBook:
    return PriceBook(
        version="test-1",
        products=(
            Product(product_id="P1", barcodes=("SKU-WATER",), name_zh="矿泉水",
                    name_en="Water", unit_price=200),
            Product(product_id="P2", barcodes=("SKU-CHIPS",), name_zh="薯片", name_en="Chips",
                    unit_price=650, member_price=600, category="snacks"),
            Product(product_id="P3", barcodes=("SKU-BEER",), name_zh="啤酒", name_en="Beer",
                    unit_price=800, age_restricted=True, category="alcohol"),
            Product(product_id="P4", barcodes=("SKU-APPLE",), name_zh="苹果", name_en="Apples",
                    unit_price=1200, weighed=True, category="fruit"),
        ),
    )


def files_containing(folder: Path, needle: bytes) -> list[Path]:
    return [f for f in folder.rglob("*") if f.is_file() and needle in f.read_bytes()]


@dataclass
class Outcome:
    status: str
    provider_ref: str | None = None
    reason: str | None = None
    masked: str | None = None


class FakePayments:
    """Returns queued outcomes (or raises queued exceptions); records out_trade_nos."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, str, str, int, str]] = []
        self.members: list[str | None] = []  # member_id of each call

    async def charge(self, order_no, out_trade_no, provider, amount, currency, auth_code, *,
                     member_id=None, member_proof=None):
        self.calls.append((order_no, out_trade_no, provider, amount, currency))
        self.members.append(member_id)
        outcome = self.outcomes.pop(0) if self.outcomes else Outcome("paid", "wx-1")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
