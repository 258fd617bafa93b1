"""The advertised offer, end to end: 满50减5 at exactly ¥50.00 is priced ¥45.00 and the
printed receipt (``kiosk-agent receipt``) names the offer."""

from __future__ import annotations

from contract.pricebook import FullReduction, PriceBook, Product, Tier
from contract.pricing import CartLine, price_cart
from contract.wire.events import TenderData
from kiosk_agent.cli import build_parser
from kiosk_agent.orders import build_order


def test_receipt_names_the_offer_at_its_threshold(tmp_path):
    book = PriceBook(version="t", products=(Product(
        product_id="oil", name_zh="金龙鱼花生油", name_en="Peanut oil", unit_price=2500,
        vat_rate_bp=900, category="grocery"),), full_reductions=(FullReduction(
            reduction_id="fr-50-5", label_zh="满50减5", label_en="¥5 off ¥50",
            tiers=(Tier(threshold=5000, off=500),)),))
    priced = price_cart(book, [CartLine("oil", 2)])
    assert priced.total == 4500
    order = build_order(priced, tenders=[TenderData(method="wechat", amount=4500,
                                                    out_trade_no="s1-k1-20261205-0001-1")],
                        order_no="s1-k1-20261205-0001")
    path = tmp_path / "order.json"
    path.write_text(order.model_dump_json())
    out = tmp_path / "r.bin"
    args = build_parser(("kiosk_agent.cli_receipt",)).parse_args(
        ["receipt", "--order", str(path), "--escpos", str(out), "--encoding", "gb18030"])
    assert args.func(args) == 0
    text = out.read_bytes().decode("gb18030", errors="replace")
    assert "满50减5" in text and "-5.00" in text and "45.00" in text
    # The QR code carries the order's unguessable claim token (mini-program claim proof).
    assert order.receipt_token and len(order.receipt_token) >= 22
    assert f"s1-k1-20261205-0001?t={order.receipt_token}" in text
