"""Variable-measure EAN-13 (scale labels): layouts per chain in the price book, parsing,
pricing, and the kiosk's scan path (``Agent.handle_scan``)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contract.pricebook import PriceBook, Product, parse_price_book
from contract.pricing import CartLine, PricingError, price_cart
from contract.variable_measure import BarcodeLayout, lookup, make_label, parse_label

PRICE = BarcodeLayout(name="dahua-price", pattern="2FPPPPPVVVVVC", value="price")
WEIGHT = BarcodeLayout(name="aclas-weight", pattern="21PPPPPVVVVVC", value="weight")


def book() -> PriceBook:
    return PriceBook(version="vm", barcode_layouts=(WEIGHT, PRICE), products=(
        Product(product_id="apple", name_zh="红富士苹果", unit_price=1280, weighed=True,
                plu="00123", category="fruit"),
        Product(product_id="pork", name_zh="五花肉", unit_price=3600, weighed=True, plu="77"),
    ))


def test_the_examples_a_scale_prints():
    # Dahua default: 2 + flag + PLU 00123 + price ¥15.36 + check
    code = make_label(PRICE, "00123", 1536, flag="0")
    assert code == "2000123015361" and parse_label(code, [PRICE]).amount == 1536
    # 21 + PLU 00077 + 0.452 kg + check
    code = make_label(WEIGHT, "00077", 452)
    assert len(code) == 13 and code.startswith("2100077")
    label = parse_label(code, [WEIGHT, PRICE])
    assert (label.layout, label.plu, label.value, label.amount) == ("aclas-weight", "00077",
                                                                   "weight", 452)
    assert parse_label(code[:-1] + str((int(code[-1]) + 1) % 10), [WEIGHT]) is None  # check
    assert parse_label("6901234567892", [PRICE]) is None  # not prefix 2


@given(st.sampled_from([PRICE, WEIGHT]), st.integers(0, 99999), st.integers(1, 99999))
def test_make_and_parse_round_trip(layout, plu, amount):
    code = make_label(layout, f"{plu:05d}", amount)
    label = parse_label(code, [layout])
    assert label is not None and (label.plu, label.amount) == (f"{plu:05d}", amount)


@pytest.mark.parametrize("pattern", ["2FPPPPPVVVVV1", "FPPPPPPVVVVVC", "2PPVVPPPVVVVC",
                                     "2PPPPPPPVVVVVC"])
def test_bad_layouts_are_refused_at_load(pattern):
    with pytest.raises(ValidationError):
        BarcodeLayout(name="x", pattern=pattern, value="price")


def test_layouts_live_in_the_price_book_and_keep_old_hashes():
    b = book()
    again = parse_price_book(b.canonical_bytes())
    assert again.barcode_layouts == (WEIGHT, PRICE) and again.sha256() == b.sha256()
    plain = PriceBook(version="p", products=(Product(product_id="x", name_zh="x", unit_price=1),))
    assert b"barcode_layouts" not in plain.canonical_bytes() and b"plu" not in \
        plain.canonical_bytes()


def test_pricing_of_both_kinds():
    b = book()
    product, label = lookup(b, make_label(PRICE, "00123", 1536))
    assert product.product_id == "apple" and label.value == "price"
    cart = price_cart(b, [CartLine("apple", label_amount=1536),
                          CartLine("pork", weight_g=452)])
    assert [ln.amount for ln in cart.lines] == [1536, 1627]  # 36.00/kg x 0.452 = 16.272
    with pytest.raises(PricingError):
        price_cart(b, [CartLine("apple", weight_g=10, label_amount=1536)])


async def test_kiosk_scans_scale_labels(tmp_path):
    from kiosk_agent.agent import Agent
    from kiosk_agent.config import AgentConfig

    config = AgentConfig.model_validate({"journal": {"path": str(tmp_path / "j.db")},
                                         "mqtt": {"enabled": False}})
    agent = Agent(config, book=book())
    runner = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.started.wait(), 5)
    try:
        for code in (make_label(PRICE, "00123", 1536), make_label(WEIGHT, "00077", 452)):
            assert await agent.handle_scan(SimpleNamespace(kind="product", text=code)) is None
        assert agent.checkout.priced.total == 1536 + 1627
        unknown = make_label(PRICE, "55555", 100)
        refusal = await agent.handle_scan(SimpleNamespace(kind="product", text=unknown))
        assert refusal is not None and refusal.code == "unknown_product"
    finally:
        agent.stop()
        await asyncio.wait_for(runner, 5)
