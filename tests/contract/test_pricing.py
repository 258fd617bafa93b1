"""Pricing engine: hand-computed examples in fen, stacking rules, properties (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.campaigns import CAMPAIGN_KINDS, Campaign, CampaignTier
from contract.pricebook import (
    BundleItem,
    BundlePromotion,
    BuyXGetYPromotion,
    Coupon,
    FixedPricePromotion,
    FullReduction,
    PercentagePromotion,
    PriceBook,
    Product,
    Tier,
    load_price_book,
    parse_price_book,
)
from contract.pricing import (
    CartLine,
    Member,
    PricingContext,
    PricingError,
    allocate,
    price_cart,
    round_half_up,
    vat_breakdown,
)
from contract.wire.events import OrderCompletedData, OrderLineData

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo() -> PriceBook:
    """The demo price book shipped in config/."""
    return load_price_book(ROOT / "config" / "pricebook.example.json")


def mkbook(products, promotions=(), full_reductions=(), coupons=()) -> PriceBook:
    return PriceBook(
        version="t",
        products=tuple(products),
        promotions=tuple(promotions),
        full_reductions=tuple(full_reductions),
        coupons=tuple(coupons),
    )


def prod(pid, price, *, member=None, vat=1300, cat="general", weighed=False, active=True):
    return Product(product_id=pid, name_zh=pid, name_en=pid, unit_price=price,
                   member_price=member, vat_rate_bp=vat, category=cat, weighed=weighed,
                   active=active)


MEMBER = Member("m1", "regular", 0)


# -- helpers --


def test_round_half_up_and_allocate():
    assert round_half_up(5, 10) == 1 and round_half_up(4, 10) == 0 and round_half_up(15, 10) == 2
    assert allocate(10, [1, 1, 1]) == [4, 3, 3]
    assert allocate(1, [5, 5]) == [1, 0]  # tie goes to the lower line_no
    assert allocate(7, [100, 0, 300]) == [2, 0, 5]  # 1.75 / 0 / 5.25: remainder to the .75
    assert allocate(0, [0, 0]) == [0, 0]
    with pytest.raises(PricingError):
        allocate(1, [0, 0])


def test_vat_breakdown_tax_inclusive():
    # 13 %: 400 / 1.13 = 353.98 -> 354 net, 46 tax; 9 %: 350 / 1.09 = 321.10 -> 321, 29
    vat = vat_breakdown({1300: 400, 900: 350})
    assert [(v.rate_bp, v.gross, v.net, v.tax) for v in vat] == [(900, 350, 321, 29),
                                                                  (1300, 400, 354, 46)]
    # exactly half a fen rounds up: 113 / 1.13 = 100.0; 1.5 fen -> 2 at 0 %... use 6 %: 53/1.06=50
    assert vat_breakdown({600: 53})[0].net == 50
    assert vat_breakdown({0: 999})[0].tax == 0


# -- the demo book --


def test_list_prices_and_vat(demo):
    cart = price_cart(demo, [CartLine("nongfu-water-550", 2), CartLine("mengniu-milk-250")])
    assert (cart.subtotal, cart.discount_total, cart.total) == (750, 0, 750)
    assert [(v.rate_bp, v.gross, v.net, v.tax) for v in cart.vat] == [(900, 350, 321, 29),
                                                                       (1300, 400, 354, 46)]
    assert cart.applied == [] and cart.points_earned == 0 and cart.currency == "CNY"
    assert cart.catalog_version == "demo-2024.1"
    line = cart.lines[0]
    assert (line.line_no, line.barcode, line.name_zh, line.unit_price) == (
        1, "6921168509256", "农夫山泉 饮用天然水 550ml", 200)


def test_member_price_vs_member_only_promotion_best_per_line(demo):
    ctx = PricingContext(member=MEMBER)
    cart = price_cart(demo, [CartLine("nongfu-water-550", 2), CartLine("mengniu-milk-250")], ctx)
    # water: member price 180 x 2; milk: member-only 15 % off 350 -> 350 - 53 = 297 beats 320
    assert [ln.amount for ln in cart.lines] == [360, 297]
    assert cart.lines[0].promotions == ["member_price"]
    assert cart.lines[1].promotions == ["member-dairy-85"]  # not both
    assert cart.total == 657 and cart.discount_total == 93
    assert [(a.id, a.kind, a.amount) for a in cart.applied] == [
        ("member_price", "member_price", 40), ("member-dairy-85", "percentage", 53)]
    assert cart.applied[0].label_zh == "会员价"
    # points earned: 657 fen -> 6 points at 1x
    assert cart.points_earned == 6


def test_weighed_item_rounds_half_up(demo):
    cart = price_cart(demo, [CartLine("banana", weight_g=1234)])
    assert cart.lines[0].list_amount == 985  # 798 * 1.234 = 984.732
    assert cart.lines[0].qty == 1 and cart.lines[0].weight_g == 1234
    cart = price_cart(demo, [CartLine("banana", weight_g=1234)], PricingContext(member=MEMBER))
    assert cart.lines[0].amount == 861  # 698 * 1.234 = 861.332
    book = mkbook([prod("w", 799, weighed=True)])
    assert price_cart(book, [CartLine("w", weight_g=500)]).total == 400  # 399.5 -> 400


def test_flash_sale_window_uses_ctx_now(demo):
    lines = [CartLine("ksf-beef-noodle", 2)]
    assert price_cart(demo, lines).total == 900  # no clock: windowed offers do not apply
    assert price_cart(demo, lines, PricingContext(now=NOW)).total == 700
    late = datetime(2030, 1, 1, tzinfo=UTC)  # end is 2030-01-01T00:00+08:00, exclusive
    assert price_cart(demo, lines, PricingContext(now=late)).total == 900
    with pytest.raises(PricingError, match="timezone"):
        price_cart(demo, lines, PricingContext(now=datetime(2025, 1, 1)))


def test_buy_two_get_one_is_all_or_nothing_against_unit_offers(demo):
    # rice crackers 690, also in "snacks 10 % off" (621 each)
    three = price_cart(demo, [CartLine("wangwang-xuebing-84", 3)])
    assert three.total == 1380 and three.lines[0].promotions == ["xuebing-b2g1"]
    two = price_cart(demo, [CartLine("wangwang-xuebing-84", 2)])
    assert two.total == 1242 and two.lines[0].promotions == ["snacks-90"]  # 2 x 621 < 1380
    five = price_cart(demo, [CartLine("wangwang-xuebing-84", 2), CartLine("wangwang-xuebing-84", 3)])
    assert five.total == 4 * 690
    # the free unit is the last in the dearest-first order: line 2's third unit
    assert [ln.amount for ln in five.lines] == [1380, 1380]


def test_buy_x_get_y_free_units_are_the_cheapest():
    book = mkbook(
        [prod("a", 1000), prod("b", 500), prod("c", 300)],
        [BuyXGetYPromotion(promo_id="b1g1", label_zh="买一送一", products=("a", "b", "c"),
                           buy=1, get=1)],
    )
    cart = price_cart(book, [CartLine("c"), CartLine("a"), CartLine("b")])
    # sorted a(1000) b(500) c(300): groups (a, b free) (c paid, partial group)
    assert [ln.amount for ln in cart.lines] == [300, 1000, 0]
    assert cart.lines[2].discounts == {"b1g1": 500}
    book = mkbook([prod("a", 100)],
                  [BuyXGetYPromotion(promo_id="b1g2", label_zh="买一送二", products=("a",),
                                     buy=1, get=2)])
    # a partial last group still gets its free units: 4 units = (1 paid, 2 free) (1 paid)
    assert price_cart(book, [CartLine("a", 4)]).total == 200
    assert price_cart(book, [CartLine("a", 2)]).total == 100


def test_bundle_price_split_over_its_lines(demo):
    cart = price_cart(demo, [CartLine("coke-330", 2), CartLine("lays-original-70")])
    # one set 900 + one coke 250 = 1150 < coke 500 + lays at 10 % off 675 = 1175
    assert cart.total == 1150
    # bundle discount 250 + 750 - 900 = 100 split 250:750 -> 25 / 75
    assert [ln.amount for ln in cart.lines] == [475, 675]
    assert cart.lines[0].discounts == {"coke-lays-900": 25}
    assert cart.lines[1].discounts == {"coke-lays-900": 75}


def test_full_reduction_thresholds_are_literal():
    book = mkbook(
        [prod("x", 1000), prod("y", 1)],
        full_reductions=[FullReduction(reduction_id="fr", label_zh="满50减5，满100减15",
                                       tiers=(Tier(threshold=5000, off=500),
                                              Tier(threshold=10000, off=1500)))],
    )

    def total(n: int, extra: int = 0) -> int:
        lines = [CartLine("x", n)] + ([CartLine("y", extra)] if extra else [])
        return price_cart(book, lines).total

    assert total(4) == 4000
    assert total(4, 999) == 4999  # ¥49.99: below the threshold, no discount
    assert total(5) == 4500  # 满50减5 at ¥50.00 pays ¥45.00, as advertised
    assert total(5, 499) == 4999  # ¥54.99 - ¥5
    assert total(9, 999) == 9499  # ¥99.99 - ¥5
    assert total(10) == 8500  # 满100减15 at ¥100.00 pays ¥85.00
    assert total(12) == 10500  # ¥120 - ¥15


def test_advertised_examples_on_the_demo_book(demo):
    """The offers as the posters in the demo store say them, at exactly the threshold."""
    # rice ¥69.90 is in the 满50减5/满100减15 categories: ¥64.90
    assert price_cart(demo, [CartLine("wuchang-rice-5kg")]).total == 6990 - 500
    c30 = demo.coupon("cpn-30-5", code="A1")  # 满30减5 coupon
    eggs = demo.by_id("eggs-10").unit_price
    n = -(-3000 // eggs)  # the fewest eggs reaching ¥30
    cart = price_cart(demo, [CartLine("eggs-10", n)], PricingContext(coupons=(c30,)))
    assert cart.coupons == ["A1"] and cart.total == n * eggs - 500
    labels = {a.id: a.label_zh for a in cart.applied}
    assert labels["A1"]  # the receipt names the offer


def test_full_reduction_respects_categories_and_allocates_to_eligible_lines(demo):
    ctx = PricingContext(member=MEMBER)
    lines = [CartLine("wuchang-rice-5kg"), CartLine("tsingtao-classic-500", 2)]
    cart = price_cart(demo, lines, ctx)
    # rice member price 6490 >= 5000 + 499: the full ¥5; beer (alcohol) excluded and untouched
    assert cart.lines[0].discounts == {"member_price": 500, "fr-50-5-100-15": 500}
    assert cart.lines[1].discount == 0 and cart.lines[1].amount == 1200
    assert cart.total == 5990 + 1200
    assert cart.age_restricted


def test_coupons_threshold_percentage_cap_category_and_stacking(demo):
    c30 = demo.coupon("cpn-30-5", code="A1")
    dairy = demo.coupon("cpn-dairy-90", code="D1")
    new3 = demo.coupon("cpn-new-member-3", code="N1")
    lines = [CartLine("eggs-10"), CartLine("mengniu-milk-250", 4)]  # 1580 + 1400 = 2980
    cart = price_cart(demo, lines, PricingContext(coupons=(c30, dairy)))
    # below the ¥30 threshold: only the dairy coupon can work: 10 % of 1400 = 140
    assert cart.coupons == ["D1"] and cart.coupons_unused == ["A1"] and cart.total == 2840
    assert cart.lines[1].discounts == {"D1": 140} and cart.lines[0].discount == 0
    lines = [CartLine("eggs-10", 2), CartLine("mengniu-milk-250", 4)]  # 3160 + 1400 = 4560
    cart = price_cart(demo, lines, PricingContext(coupons=(dairy, c30)))
    # only one non-stackable coupon: 500 beats 140
    assert cart.coupons == ["A1"] and cart.total == 4060 and cart.coupons_unused == ["D1"]
    # the stackable new-member coupon needs a member
    cart = price_cart(demo, lines, PricingContext(coupons=(c30, new3)))
    assert cart.coupons == ["A1"] and "N1" in cart.coupons_unused
    cart = price_cart(demo, lines, PricingContext(member=MEMBER, coupons=(c30, new3)))
    # member: milk -15 % = 297 x 4 = 1188; 3160 + 1188 = 4348; -500 -300
    assert cart.coupons == ["A1", "N1"] and cart.total == 4348 - 800
    # the same coupon twice counts once
    cart = price_cart(demo, lines, PricingContext(coupons=(c30, c30)))
    assert cart.coupons == ["A1"] and cart.coupons_unused == ["A1"] and cart.total == 4060


def test_category_coupon_base_is_what_its_goods_still_cost():
    # A buy-one-get-one across two categories, and a ¥5 coupon for category "a" only.
    book = mkbook(
        [prod("a", 1000, cat="a"), prod("b", 1000, cat="b")],
        [BuyXGetYPromotion(promo_id="b1g1", label_zh="买一送一", products=("a", "b"),
                           buy=1, get=1)],
    )
    ctx = PricingContext(coupons=(Coupon(coupon_id="a5", kind="fixed", value=500,
                                         categories=("a",)),))
    both = price_cart(book, [CartLine("a"), CartLine("b")], ctx)
    # "a" is paid (¥10, the first of the pair), "b" is free: the coupon's goods cost ¥10.
    assert both.total == 500 and both.coupons == ["a5"]
    assert [ln.amount for ln in both.lines] == [500, 0]
    assert price_cart(book, [CartLine("a")], ctx).total == 500
    assert price_cart(book, [CartLine("b")], ctx).total == 1000


def test_percentage_coupon_cap():
    book = mkbook([prod("m", 5000, cat="dairy")])
    c = Coupon(coupon_id="d", kind="percentage", value=1000, cap=300)
    assert price_cart(book, [CartLine("m")], PricingContext(coupons=(c,))).total == 4700
    assert price_cart(book, [CartLine("m")], PricingContext(
        coupons=(c.model_copy(update={"cap": None}),))).total == 4500


def test_percentage_coupon_threshold_is_literal():
    book = mkbook([prod("x", 100)])
    c = Coupon(coupon_id="p10", kind="percentage", value=1000, threshold=3000)
    ctx = PricingContext(coupons=(c,))
    assert price_cart(book, [CartLine("x", 29)], ctx).total == 2900
    assert price_cart(book, [CartLine("x", 30)], ctx).total == 2700  # 10 % from ¥30.00
    assert price_cart(book, [CartLine("x", 34)], ctx).total == 3060


def test_configured_bundle_price_is_honoured():
    """A merchant may sell a set below its dearest items (here 2 x ¥5 + ¥3 for ¥6)."""
    book = mkbook([prod("a", 500), prod("b", 300)],
                  [BundlePromotion(promo_id="set6", label_zh="超值组合¥6",
                                   items=(BundleItem(product_id="a", qty=2),
                                          BundleItem(product_id="b", qty=1)), price=600)])
    cart = price_cart(book, [CartLine("a", 2), CartLine("b")])
    assert cart.total == 600 and [a.label_zh for a in cart.applied] == ["超值组合¥6"]
    check_invariants(cart)


def test_coupon_never_below_zero():
    book = mkbook([prod("g", 100)])
    c = Coupon(coupon_id="big", kind="fixed", value=5000)
    cart = price_cart(book, [CartLine("g")], PricingContext(coupons=(c,)))
    assert cart.total == 0 and cart.lines[0].amount == 0 and cart.applied[-1].amount == 100


def test_points_redemption_capped_and_earning_multiplier():
    book = mkbook([prod("r", 10000)])
    gold = Member("g1", "gold", 3000)
    cart = price_cart(book, [CartLine("r")], PricingContext(member=gold, redeem_points=2000))
    assert cart.points_redeemed == 2000 and cart.total == 8000
    assert cart.points_earned == 120  # 80 yuan x 1.5
    # at most half the order, at most the balance
    cart = price_cart(book, [CartLine("r")], PricingContext(member=gold, redeem_points=9000))
    assert cart.points_redeemed == 3000 and cart.total == 7000
    rich = Member("g2", "platinum", 90000)
    cart = price_cart(book, [CartLine("r")], PricingContext(member=rich, redeem_points=90000))
    assert cart.points_redeemed == 5000 and cart.total == 5000 and cart.points_earned == 100
    # no member, no points either way
    cart = price_cart(book, [CartLine("r")], PricingContext(redeem_points=500))
    assert cart.points_redeemed == 0 and cart.points_earned == 0 and cart.total == 10000
    points = [a for a in price_cart(book, [CartLine("r")], PricingContext(
        member=gold, redeem_points=100)).applied if a.kind == "points"]
    assert points[0].amount == 100 and "100" in points[0].label_zh


def test_member_levels_and_member_only_offers():
    book = mkbook(
        [prod("a", 1000)],
        [PercentagePromotion(promo_id="gold-20", label_zh="金卡八折", products=("a",),
                             off_bp=2000, member_levels=("gold",))],
    )
    assert price_cart(book, [CartLine("a")]).total == 1000
    assert price_cart(book, [CartLine("a")], PricingContext(member=MEMBER)).total == 1000
    gold = PricingContext(member=Member("g", "gold", 0))
    assert price_cart(book, [CartLine("a")], gold).total == 800


def test_whole_stack_on_the_demo_book(demo):
    ctx = PricingContext(
        member=Member("m9", "gold", 3000),
        coupons=(demo.coupon("cpn-30-5", "X1"), demo.coupon("cpn-new-member-3")),
        redeem_points=1000,
        now=NOW,
    )
    lines = [
        CartLine("coke-330", 2), CartLine("lays-original-70"), CartLine("wangwang-xuebing-84", 3),
        CartLine("banana", weight_g=1234), CartLine("ksf-beef-noodle", 2),
        CartLine("mengniu-milk-250", 6), CartLine("wuchang-rice-5kg"),
    ]
    cart = price_cart(demo, lines, ctx)
    # line stage: 1150 (bundle) + 1380 (b2g1) + 861 + 700 + 1782 + 6490 = 12363
    # 满减: >= 100 yuan, 12363 - 9499 > 1500 -> 1500; coupons 500 + 300; points 1000 of 3000
    assert cart.subtotal == 500 + 750 + 2070 + 985 + 900 + 2100 + 6990
    assert cart.total == 12363 - 1500 - 800 - 1000 == 9063
    assert [a.id for a in cart.applied] == [
        "member_price", "flash-noodle-350", "member-dairy-85", "xuebing-b2g1", "coke-lays-900",
        "fr-50-5-100-15", "X1", "cpn-new-member-3", "points",
    ]
    assert cart.points_redeemed == 1000 and cart.points_earned == 135  # 90.63 x 1.5
    check_invariants(cart)
    for a in cart.applied:
        assert a.label_zh and a.label_en


def test_wire_conversion(demo):
    cart = price_cart(demo, [CartLine("banana", weight_g=500), CartLine("coke-330", 3)],
                      PricingContext(member=MEMBER))
    wire = [ln.to_wire() for ln in cart.lines]
    assert all(isinstance(w, OrderLineData) for w in wire)
    assert wire[0].weight_g == 500 and wire[1].qty == 3 and wire[0].amount == cart.lines[0].amount
    order = OrderCompletedData(
        order_no="k1-20250601-0001", created_at=NOW, completed_at=NOW, lines=wire,
        subtotal=cart.subtotal, discount_total=cart.discount_total, total=cart.total,
        vat=cart.vat, member_id=cart.member_id, points_earned=cart.points_earned,
        catalog_version=cart.catalog_version,
    )
    assert order.total == sum(line.amount for line in order.lines)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        (CartLine("nope"), "unknown product"),
        (CartLine("wlj-herbal-tea-310"), "not on sale"),
        (CartLine("coke-330", 0), "qty"),
        (CartLine("banana"), "needs weight_g"),
        (CartLine("banana", 2, 300), "qty 1"),
        (CartLine("coke-330", 1, 300), "not sold by weight"),
    ],
)
def test_bad_lines_are_refused(demo, line, match):
    with pytest.raises(PricingError, match=match):
        price_cart(demo, [CartLine("coke-330"), line])


def test_empty_cart_is_zero(demo):
    cart = price_cart(demo, [], PricingContext(member=MEMBER, redeem_points=100))
    assert cart.total == 0 and cart.lines == [] and cart.vat == []


# -- properties --

CATS = ("a", "b")
START = NOW - timedelta(days=1)
END = NOW + timedelta(days=1)
windows = st.sampled_from([(None, None), (START, END), (START - timedelta(days=9), START)])


@st.composite
def books(draw) -> PriceBook:
    n = draw(st.integers(2, 5))
    products = []
    for i in range(n):
        price = draw(st.integers(1, 4000))
        products.append(Product(
            product_id=f"p{i}", barcodes=(f"B{i}",), name_zh=f"商品{i}", unit_price=price,
            member_price=draw(st.none() | st.integers(0, price)),
            vat_rate_bp=draw(st.sampled_from([0, 600, 900, 1300])),
            category=draw(st.sampled_from(CATS)),
            weighed=(i == n - 1) and draw(st.booleans()),
        ))
    pids = [p.product_id for p in products]
    cats = sorted({p.category for p in products})
    prices = {p.product_id: p.unit_price for p in products}
    promos = []
    for k in range(draw(st.integers(0, 2))):
        start, end = draw(windows)
        targets = draw(st.lists(st.sampled_from(pids), min_size=1, max_size=2, unique=True))
        by_cat = draw(st.booleans())
        promos.append(PercentagePromotion(
            promo_id=f"pct{k}", label_zh="折扣", off_bp=draw(st.integers(1, 10000)),
            products=() if by_cat else tuple(targets),
            categories=(draw(st.sampled_from(cats)),) if by_cat else (),
            member_only=draw(st.booleans()), start=start, end=end,
        ))
    for k in range(draw(st.integers(0, 2))):
        pid = draw(st.sampled_from(pids))
        promos.append(FixedPricePromotion(
            promo_id=f"fix{k}", label_zh="特价", products=(pid,),
            price=draw(st.integers(0, prices[pid])), member_only=draw(st.booleans()),
        ))
    free = list(draw(st.permutations([p.product_id for p in products if not p.weighed])))
    if free and draw(st.booleans()):
        take = draw(st.integers(1, min(2, len(free))))
        members, free = free[:take], free[take:]
        promos.append(BuyXGetYPromotion(
            promo_id="bxgy", label_zh="买赠", products=tuple(members),
            buy=draw(st.integers(1, 3)), get=draw(st.integers(1, 2)),
        ))
    if free and draw(st.booleans()):
        take = draw(st.integers(1, min(2, len(free))))
        items = tuple(BundleItem(product_id=pid, qty=draw(st.integers(1, 2)))
                      for pid in free[:take])
        listed = sum(prices[i.product_id] * i.qty for i in items)
        promos.append(BundlePromotion(promo_id="bundle", label_zh="组合",
                                      items=items, price=draw(st.integers(1, listed))))
    reductions = []
    for k in range(draw(st.integers(0, 2))):
        thresholds = sorted(draw(st.lists(st.integers(2, 12000), min_size=1, max_size=3,
                                          unique=True)))
        offs, prev = [], 0
        for t in thresholds:
            lo = prev + 1
            if lo >= t:
                break
            prev = draw(st.integers(lo, min(t - 1, lo + 2000)))
            offs.append(prev)
        tiers = tuple(Tier(threshold=t, off=o) for t, o in zip(thresholds, offs, strict=False))
        if not tiers:
            continue
        inc = draw(st.lists(st.sampled_from(cats), max_size=1))
        reductions.append(FullReduction(
            reduction_id=f"fr{k}", label_zh="满减", tiers=tiers, categories=tuple(inc),
            member_only=draw(st.booleans()),
        ))
    return mkbook(products, promos, reductions)


coupons = st.builds(
    Coupon,
    coupon_id=st.sampled_from(["c1", "c2", "c3", "c4"]),
    kind=st.just("fixed"),
    value=st.integers(1, 3000),
    threshold=st.integers(0, 8000),
    categories=st.lists(st.sampled_from(CATS), max_size=1).map(tuple),
    stackable=st.booleans(),
    member_only=st.booleans(),
) | st.builds(
    Coupon,
    coupon_id=st.sampled_from(["c5", "c6"]),
    kind=st.just("percentage"),
    value=st.integers(1, 10000),
    cap=st.none() | st.integers(1, 2000),
    threshold=st.integers(0, 8000),
    exclude_categories=st.lists(st.sampled_from(CATS), max_size=1).map(tuple),
    stackable=st.booleans(),
)


@st.composite
def scenarios(draw):
    book = draw(books())
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        p = draw(st.sampled_from(book.products))
        if p.weighed:
            lines.append(CartLine(p.product_id, 1, draw(st.integers(1, 3000))))
        else:
            lines.append(CartLine(p.product_id, draw(st.integers(1, 4))))
    member = draw(st.none() | st.builds(
        Member, member_id=st.just("m"), level=st.sampled_from(["regular", "gold", "vip?"]),
        points_balance=st.integers(0, 6000)))
    ctx = PricingContext(
        member=member,
        coupons=tuple(draw(st.lists(coupons, max_size=3))),
        redeem_points=draw(st.integers(0, 6000)),
        now=draw(st.sampled_from([None, NOW])),
    )
    return book, lines, ctx


def check_invariants(cart) -> None:
    assert cart.total >= 0
    assert cart.total == sum(ln.amount for ln in cart.lines)
    assert cart.subtotal == sum(ln.list_amount for ln in cart.lines)
    assert cart.total == cart.subtotal - cart.discount_total
    for ln in cart.lines:
        assert 0 <= ln.amount <= ln.list_amount
        assert ln.discount == ln.list_amount - ln.amount == sum(ln.discounts.values())
        assert all(v > 0 for v in ln.discounts.values())
        ln.to_wire()
    # every discount's per-line allocations add up exactly to what the cart shows
    assert {a.id for a in cart.applied} == {k for ln in cart.lines for k in ln.discounts}
    for a in cart.applied:
        assert a.amount == sum(ln.discounts.get(a.id, 0) for ln in cart.lines) > 0
    assert sum(a.amount for a in cart.applied) == cart.discount_total
    for v in cart.vat:
        assert v.net + v.tax == v.gross
        assert v.net == round_half_up(v.gross * 10000, 10000 + v.rate_bp)
        assert v.gross == sum(ln.amount for ln in cart.lines if ln.vat_rate_bp == v.rate_bp)
    assert sum(v.gross for v in cart.vat) == cart.total


PROPS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(scenarios())
def test_property_invariants_and_determinism(scenario):
    book, lines, ctx = scenario
    cart = price_cart(book, lines, ctx)
    check_invariants(cart)
    assert price_cart(book, lines, ctx) == cart
    if ctx.member is None:
        assert cart.points_redeemed == 0 and cart.points_earned == 0
    else:
        assert cart.points_redeemed <= min(ctx.redeem_points, ctx.member.points_balance)


@PROPS
@given(scenarios(), st.randoms(use_true_random=False))
def test_property_line_order_does_not_change_the_total(scenario, rnd):
    book, lines, ctx = scenario
    shuffled = list(lines)
    rnd.shuffle(shuffled)
    a = price_cart(book, lines, ctx)
    b = price_cart(book, shuffled, ctx)
    assert a.total == b.total and a.discount_total == b.discount_total
    assert sorted((x.id, x.amount) for x in a.applied) == sorted((x.id, x.amount) for x in b.applied)
    assert a.points_earned == b.points_earned and a.points_redeemed == b.points_redeemed


# "Removing a line never raises the total" is not a property of real retail: with a
# literal 满50减5 a ¥50.00 cart pays ¥45.00 and the same cart minus ¥0.01 pays ¥49.99
# (docs/pricing.md). What holds instead: reaching a threshold gives the whole discount.
@settings(max_examples=200, deadline=None)
@given(st.integers(1, 500), st.integers(1, 60), st.integers(2, 20000), st.integers(1, 3000))
def test_property_full_reduction_is_all_or_nothing_at_its_threshold(price, qty, threshold, off):
    off = 1 + off % (threshold - 1)  # a tier's discount is below its threshold
    book = mkbook([prod("x", price)], full_reductions=[FullReduction(
        reduction_id="fr", label_zh="满减", tiers=(Tier(threshold=threshold, off=off),))])
    base = price * qty
    cart = price_cart(book, [CartLine("x", qty)])
    assert cart.total == (max(base - off, 0) if base >= threshold else base)
    check_invariants(cart)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=30))
def test_property_allocation_is_exact(amount, weights):
    if sum(weights) == 0:
        return
    amount = amount % (sum(weights) + 1)
    shares = allocate(amount, weights)
    assert sum(shares) == amount
    assert all(0 <= s <= w for s, w in zip(shares, weights, strict=True))
    # each share is within one fen of the exact proportional share
    total = sum(weights)
    assert all(abs(s * total - amount * w) < total for s, w in zip(shares, weights, strict=True))


def test_thirty_line_cart_is_fast(demo):
    import time

    sellable = [p for p in demo.products if p.active]
    lines = [CartLine(p.product_id, weight_g=800) if p.weighed else CartLine(p.product_id, 2)
             for p in sellable] * 3
    lines = lines[:30]
    ctx = PricingContext(member=Member("m", "gold", 3000), now=NOW, redeem_points=1000,
                         coupons=(demo.coupon("cpn-30-5", "A"), demo.coupon("cpn-new-member-3")))
    price_cart(demo, lines, ctx)
    t0 = time.perf_counter()
    for _ in range(50):
        price_cart(demo, lines, ctx)
    per_cart = (time.perf_counter() - t0) / 50
    # generous bound so a loaded CI box doesn't flake; ~0.3 ms here
    assert per_cart < 0.02


# -- campaigns (contract.campaigns): compiled into the engine, shipped in the book --

def cmp_book(products, campaigns=(), promotions=(), full_reductions=()) -> PriceBook:
    return PriceBook(version="t", products=tuple(products), promotions=tuple(promotions),
                     full_reductions=tuple(full_reductions), campaigns=tuple(campaigns))


def test_campaigns_of_each_kind_price_as_advertised():
    goods = [prod("milk", 1000, cat="dairy"), prod("tea", 2500, cat="drinks"),
             prod("newbar", 800, cat="snacks")]
    holiday = Campaign(campaign_id="cmp1", kind="holiday", label_zh="国庆八折",
                       categories=("dairy",), off_bp=2000, start=START, end=END)
    launch = Campaign(campaign_id="cmp2", kind="new_product", label_zh="新品尝鲜价",
                      products=("newbar",), price=500)
    gold = Campaign(campaign_id="cmp3", kind="member_only", label_zh="金卡专享九折",
                    member_levels=("gold",), categories=("drinks",), off_bp=1000)
    fr = Campaign(campaign_id="cmp4", kind="full_reduction", label_zh="满50减5",
                  tiers=(CampaignTier(threshold=5000, off=500),))
    book = cmp_book(goods, [holiday, launch, gold, fr])
    lines = [CartLine("milk", 2), CartLine("tea", 1), CartLine("newbar", 2)]
    # 1600 (milk -20 %) + 2500 (tea: not gold) + 1000 (launch price) = 5100 >= 5000: -500
    cart = price_cart(book, lines, PricingContext(now=NOW))
    assert cart.total == 4600
    assert {a.id: a.amount for a in cart.applied} == {"cmp1": 400, "cmp2": 600, "cmp4": 500}
    check_invariants(cart)
    # a gold member also gets 10 % off the tea: 1600 + 2250 + 1000 = 4850, below 满50
    gold_cart = price_cart(book, lines, PricingContext(member=Member("m", "gold"), now=NOW))
    assert gold_cart.total == 4850 and "cmp3" in {a.id for a in gold_cart.applied}
    silver = price_cart(book, lines, PricingContext(member=Member("m", "silver"), now=NOW))
    assert silver.total == 4600 and "cmp3" not in {a.id for a in silver.applied}
    # after the holiday window the milk is list price again: 2000 + 2500 + 1000 - 500
    later = price_cart(book, lines, PricingContext(now=END + timedelta(seconds=1)))
    assert later.total == 5000 and "cmp1" not in {a.id for a in later.applied}


def test_campaign_full_reduction_threshold_is_literal():
    book = cmp_book([prod("x", 1000)], [Campaign(
        campaign_id="cmp9", kind="full_reduction", label_zh="满50减5",
        tiers=(CampaignTier(threshold=5000, off=500),))])
    assert price_cart(book, [CartLine("x", 5)]).total == 4500  # ¥50.00 pays ¥45.00
    assert price_cart(book, [CartLine("x", 4)]).total == 4000


def test_a_campaign_never_makes_the_cart_dearer_than_without_it():
    # The 2 % holiday discount takes ¥51.00 below the book's 满50减10: priced without it
    # the shopper pays ¥41.00, with it ¥49.98; the engine keeps ¥41.00.
    book = cmp_book([prod("x", 5100)], [Campaign(
        campaign_id="cmp5", kind="holiday", label_zh="节日", products=("x",), off_bp=200,
        start=START, end=END)], full_reductions=[FullReduction(
            reduction_id="fr", label_zh="满50减10", tiers=(Tier(threshold=5000, off=1000),))])
    cart = price_cart(book, [CartLine("x")], PricingContext(now=NOW))
    assert cart.total == 4100 and [a.id for a in cart.applied] == ["fr"]


@pytest.mark.parametrize("fields,match", [
    ({"kind": "holiday", "off_bp": 1000, "categories": ("a",)}, "start and end"),
    ({"kind": "new_product", "price": 100, "categories": ("a",)}, "per product"),
    ({"kind": "member_only", "off_bp": 1000, "products": ("p",)}, "member_levels"),
    ({"kind": "full_reduction"}, "needs tiers"),
    ({"kind": "full_reduction", "tiers": ({"threshold": 100, "off": 100},)}, "below"),
    ({"kind": "holiday", "off_bp": 10, "price": 5, "products": ("p",), "start": START,
      "end": END}, "not both"),
])
def test_campaigns_that_cannot_work_are_refused(fields, match):
    with pytest.raises(ValueError, match=match):
        Campaign(campaign_id="c", label_zh="x", **fields)


def test_a_book_refuses_campaigns_on_goods_it_does_not_sell():
    c = Campaign(campaign_id="cmp1", kind="new_product", label_zh="新品", products=("zz",),
                 off_bp=100)
    with pytest.raises(ValueError, match="unknown product"):
        cmp_book([prod("x", 100)], [c])
    assert c.fitted({"x"}, {"general"}) is None
    both = Campaign(campaign_id="cmp2", kind="holiday", label_zh="节", products=("x", "zz"),
                    off_bp=100, start=START, end=END)
    assert both.fitted({"x"}, {"general"}).products == ("x",)


@st.composite
def campaign_lists(draw, book: PriceBook, max_size: int = 3):
    pids = [p.product_id for p in book.products]
    cats = sorted({p.category for p in book.products})
    out = []
    for k in range(draw(st.integers(0, max_size))):
        kind = draw(st.sampled_from(CAMPAIGN_KINDS))
        start, end = draw(windows)
        if kind == "holiday" and start is None:
            start, end = START, END
        levels = draw(st.sampled_from([(), ("gold",), ("gold", "silver")]))
        if kind == "member_only" and not levels:
            levels = ("gold",)
        reduction = kind == "full_reduction" or (kind == "member_only" and draw(st.booleans()))
        common = {"campaign_id": f"cmp{k}", "kind": kind, "label_zh": f"活动{k}",
                  "start": start, "end": end, "member_levels": levels}
        if reduction:
            t = draw(st.integers(2, 12000))
            tiers = [CampaignTier(threshold=t, off=draw(st.integers(1, t - 1)))]
            out.append(Campaign(tiers=tuple(tiers),
                                categories=tuple(draw(st.lists(st.sampled_from(cats),
                                                               max_size=1))), **common))
            continue
        targets = tuple(draw(st.lists(st.sampled_from(pids), min_size=1, max_size=2,
                                      unique=True)))
        if kind != "new_product" and draw(st.booleans()):
            out.append(Campaign(categories=(draw(st.sampled_from(cats)),),
                                off_bp=draw(st.integers(1, 10000)), **common))
        elif draw(st.booleans()):
            out.append(Campaign(products=targets, off_bp=draw(st.integers(1, 10000)), **common))
        else:
            top = min(book.by_id(p).unit_price for p in targets)
            out.append(Campaign(products=targets, price=draw(st.integers(0, top + 100)),
                                **common))
    return tuple(out)


@st.composite
def campaign_scenarios(draw, max_campaigns: int = 3):
    book, lines, ctx = draw(scenarios())
    campaigns = draw(campaign_lists(book, max_campaigns))
    # several carts per book: the book and its campaigns cost most of the generating
    carts = [lines] + [draw(st.lists(st.sampled_from(lines), max_size=6)) for _ in range(5)
                       if lines]
    return book, book.model_copy(update={"campaigns": campaigns}), carts, ctx


def _rebook(book: PriceBook, **fields) -> PriceBook:
    """``book`` with other fields, validated again (so its index follows them)."""
    return PriceBook.model_validate({**book.model_dump(), **fields})


def _with_campaigns(book: PriceBook, campaigns) -> PriceBook:
    """The book as the cloud builds it: its campaigns compiled into its index."""
    return _rebook(book, campaigns=campaigns)


# 400 books with campaigns, up to 6 carts each: thousands of carts per run.
CAMPAIGN_PROPS = settings(max_examples=400, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])


@CAMPAIGN_PROPS
@given(campaign_scenarios())
def test_property_kiosk_and_cloud_price_campaign_carts_identically(scenario):
    """The cloud prices on the book it compiled; the kiosk on the bytes it downloaded."""
    base, book, carts, ctx = scenario
    cloud = _with_campaigns(base, book.campaigns)
    kiosk = parse_price_book(cloud.canonical_bytes())
    assert kiosk.sha256() == cloud.sha256()
    for lines in carts:
        on_cloud = price_cart(cloud, lines, ctx)
        check_invariants(on_cloud)  # never negative, exact to the fen
        assert price_cart(kiosk, lines, ctx) == on_cloud


@PROPS
@given(campaign_scenarios(max_campaigns=1))
def test_property_a_campaign_never_makes_a_cart_dearer(scenario):
    base, book, carts, ctx = scenario
    cloud = _with_campaigns(base, book.campaigns)
    for lines in carts:
        assert price_cart(cloud, lines, ctx).total <= price_cart(base, lines, ctx).total


@PROPS
@given(campaign_scenarios())
def test_property_campaigns_outside_their_window_change_nothing(scenario):
    base, book, carts, ctx = scenario
    timed = tuple(c for c in book.campaigns if c.end is not None)
    if not timed:
        return
    cloud = _with_campaigns(base, timed)
    after = PricingContext(member=ctx.member, coupons=ctx.coupons,
                           redeem_points=ctx.redeem_points, now=NOW + timedelta(days=30))
    plain = base
    for lines in carts:
        a, b = price_cart(cloud, lines, after), price_cart(plain, lines, after)
        assert (a.total, a.applied, a.lines) == (b.total, b.applied, b.lines)


@PROPS
@given(campaign_scenarios())
def test_property_the_best_single_full_reduction_applies(scenario):
    """Without coupons and points: one 满减 at most, the one worth most on its own."""
    base, book, carts, ctx = scenario
    campaigns = tuple(c for c in book.campaigns if c.is_reduction)
    cloud = _with_campaigns(base, campaigns)
    ctx = PricingContext(member=ctx.member, now=ctx.now)
    reductions = [*base.full_reductions, *(c.reduction() for c in campaigns)]
    for lines in carts:
        cart = price_cart(cloud, lines, ctx)
        got = [a.amount for a in cart.applied if a.kind == "full_reduction"]
        assert len(got) <= 1
        none = price_cart(_rebook(base, full_reductions=[]), lines, ctx).total
        alone = [none - price_cart(_rebook(base, full_reductions=[r]), lines, ctx).total
                 for r in reductions]
        assert sum(got) == max([0, *alone])
