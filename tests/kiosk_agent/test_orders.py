"""Orders: a priced cart becomes the committed sale, discounts and their labels included."""

from __future__ import annotations

from pathlib import Path

from contract import pricebook as catalog
from contract import pricing
from contract.wire.base import utcnow
from contract.wire.events import OrderCompletedData, TenderData
from kiosk_agent.orders import build_order

BOOK = Path(__file__).parents[2] / "config" / "pricebook.example.json"


def test_build_order_carries_the_labelled_discounts():
    book = catalog.load_price_book(BOOK)
    lines = [pricing.CartLine("ksf-beef-noodle", 2), pricing.CartLine("nongfu-water-550", 3)]
    ctx = pricing.PricingContext(member=pricing.Member("m1", "gold", 0), now=utcnow())
    priced = pricing.price_cart(book, lines, ctx)
    order = build_order(priced, tenders=[TenderData(method="wechat", amount=priced.total)],
                        order_no="k1-20261129-0001", member_id="m1")
    by_id = {d.id: d for d in order.discounts}
    assert set(by_id) == {"flash-noodle-350", "member_price"}
    assert by_id["flash-noodle-350"].label_zh == "限时秒杀 红烧牛肉面 ¥3.50"
    assert by_id["flash-noodle-350"].kind == "fixed_price"
    assert by_id["member_price"].label_en == "Member price"
    assert sum(d.amount for d in order.discounts) == order.discount_total == priced.discount_total
    assert [ln.promotions for ln in order.lines] == [["flash-noodle-350"], ["member_price"]]
    # The labels survive the journal/wire round trip.
    again = OrderCompletedData.model_validate_json(order.model_dump_json())
    assert again.discounts == order.discounts


def test_old_order_messages_without_discounts_still_parse():
    old = {
        "order_no": "k1-20261129-0001", "created_at": "2026-11-29T10:00:00Z",
        "completed_at": "2026-11-29T10:01:00Z", "subtotal": 200, "discount_total": 0,
        "total": 200, "lines": [{
            "line_no": 1, "product_id": "p1", "name_zh": "水", "qty": 1, "unit_price": 200,
            "list_amount": 200, "discount": 0, "amount": 200, "vat_rate_bp": 1300,
            "promotions": ["member_price"]}],
    }
    assert OrderCompletedData.model_validate(old).discounts == []
