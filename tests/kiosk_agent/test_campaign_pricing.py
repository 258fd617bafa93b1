"""Campaigns at the kiosk: the checkout prices with the campaigns its price book carries,
offline (no link at all here), inside their window, and the sale names them."""

from __future__ import annotations

from datetime import timedelta

from contract.campaigns import Campaign, CampaignTier
from contract.pricebook import PriceBook, parse_price_book
from contract.pricing import Member
from contract.wire import Event, decode
from contract.wire.base import utcnow
from kiosk_agent.checkout import Checkout
from kiosk_agent.journal import Journal
from tests.kiosk_agent.sales import FakePayments, make_book

PAYMENT_CODE = "134567890123456789"  # a WeChat-shaped payment code (test value)


def book_with(*campaigns: Campaign) -> PriceBook:
    """The test book with campaigns, as the kiosk gets it: the published bytes, parsed."""
    book = PriceBook.model_validate({**make_book().model_dump(), "campaigns": campaigns})
    return parse_price_book(book.canonical_bytes())


async def test_the_checkout_prices_with_the_books_campaigns(journal: Journal):
    now = utcnow()
    snacks = Campaign(campaign_id="cmp1", kind="holiday", label_zh="周末零食八折",
                      categories=("snacks",), off_bp=2000, start=now - timedelta(hours=1),
                      end=now + timedelta(hours=1))
    gold = Campaign(campaign_id="cmp2", kind="member_only", label_zh="金卡满10减3",
                    member_levels=("gold",), tiers=(CampaignTier(threshold=1000, off=300),))
    later = Campaign(campaign_id="cmp3", kind="new_product", label_zh="新品", products=("P1",),
                     price=1, start=now + timedelta(days=1))
    co = Checkout(journal, book_with(snacks, gold, later), FakePayments())
    co.scan_product("SKU-CHIPS")  # 6.50 - 20 % = 5.20
    co.scan_product("SKU-WATER")  # 2.00: its launch price starts tomorrow
    assert co.priced.total == 520 + 200
    co.attach_member(Member("m1", "gold"))  # member price 6.00: the campaign 5.20 is better
    assert co.priced.total == 520 + 200  # 7.20 is below 满10
    co.set_quantity(1, 2)
    assert co.priced.total == 2 * 520 + 200 - 300
    co.request_payment()
    result = await co.pay("wechat", PAYMENT_CODE)
    assert result.status == "paid"
    rows = await journal.outbox_pending(10)
    sale = decode(Event, rows[0].payload).data
    assert {d["id"]: d["amount"] for d in sale["discounts"]} == {"cmp1": 260, "cmp2": 300}
    assert sale["total"] == 940
