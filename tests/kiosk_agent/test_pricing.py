"""Pricing engine: hand-computed examples in fen, stacking rules, properties."""

from __future__ import annotations

from pathlib import Path

from kiosk_agent.catalog import load_price_book
from kiosk_agent.pricing import CartLine, Member, PricingContext, price_cart

ROOT = Path(__file__).resolve().parents[2]


def test_demo_book_prices_a_basket():
    book = load_price_book(ROOT / "config" / "pricebook.example.json")
    cart = price_cart(book, [CartLine("nongfu-water-550", 2), CartLine("mengniu-milk-250")])
    assert cart.subtotal == 750
    assert cart.total == 750
    member = PricingContext(member=Member("m1", "regular", 0))
    cart = price_cart(book, [CartLine("nongfu-water-550", 2), CartLine("mengniu-milk-250")], member)
    # water member price 180 x2; milk: member-only 15% off 350 -> 297 beats member price 320
    assert [ln.amount for ln in cart.lines] == [360, 297]
    assert cart.total == sum(ln.amount for ln in cart.lines) == 657
