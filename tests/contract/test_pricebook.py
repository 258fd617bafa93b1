"""Price book: demo book content, look-ups, canonical bytes/hash, validation errors, CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract.pricebook import (
    CatalogError,
    PriceBook,
    Product,
    load_price_book,
    parse_price_book,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "config" / "pricebook.example.json"


def gs1_ok(code: str) -> bool:
    """Independent GS1 check: weights 1,3,1,3... from the left for EAN-13."""
    digits = [int(c) for c in code]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == digits[12]


def raw_demo() -> dict:
    return json.loads(DEMO.read_text(encoding="utf-8"))


def book_from(data: dict) -> PriceBook:
    return parse_price_book(json.dumps(data, ensure_ascii=False))


# -- the demo price book --


def test_demo_book_is_a_plausible_store():
    book = load_price_book(DEMO)
    assert book.version == "demo-2024.1" and book.currency == "CNY"
    assert len(book.products) >= 12
    for p in book.products:
        assert p.name_zh and p.name_en
        assert p.barcodes
        for code in p.barcodes:
            assert len(code) == 13 and code.isdigit() and gs1_ok(code), code
    assert any(p.weighed for p in book.products)
    assert any(p.age_restricted for p in book.products)
    assert any(p.has_member_price for p in book.products)
    assert {p.vat_rate_bp for p in book.products} == {900, 1300}
    assert {pr.kind for pr in book.promotions} == {
        "percentage", "fixed_price", "buy_x_get_y", "bundle",
    }
    tiers = [(t.threshold, t.off) for t in book.full_reductions[0].tiers]
    assert tiers == [(5000, 500), (10000, 1500)]
    assert {c.kind for c in book.coupons} == {"fixed", "percentage"}


def test_lookups_by_barcode_and_id():
    book = load_price_book(DEMO)
    water = book.by_barcode("6921168509256")
    assert water is not None and water.product_id == "nongfu-water-550"
    assert book.by_id("nongfu-water-550") is water
    assert book.by_barcode("6921168509257") is None
    assert book.by_id("nope") is None
    # the index is a dict built once, not a scan of the product list
    assert isinstance(book.index.by_barcode, dict)
    assert len(book.index.by_barcode) == sum(len(p.barcodes) for p in book.products)


def test_a_product_may_have_several_barcodes():
    book = PriceBook(
        version="v",
        products=[Product(product_id="a", barcodes=("6921168509256", "ABC-1"), name_zh="甲",
                          unit_price=1)],
    )
    assert book.by_barcode("ABC-1") is book.by_barcode("6921168509256") is book.by_id("a")


def test_coupon_definition_becomes_an_instance_with_a_code():
    book = load_price_book(DEMO)
    c = book.coupon("cpn-30-5", code="SN-0001")
    assert c is not None and c.code == "SN-0001" and c.key == "SN-0001" and c.value == 500
    assert book.coupon("cpn-30-5").key == "cpn-30-5"
    assert book.coupon("missing") is None


# -- canonical bytes and hash --


def test_hash_is_stable_across_formatting_and_key_order():
    a = load_price_book(DEMO)
    data = raw_demo()
    shuffled = {k: data[k] for k in reversed(list(data))}
    shuffled["products"] = [dict(reversed(list(p.items()))) for p in data["products"]]
    b = parse_price_book(json.dumps(shuffled, indent=4, ensure_ascii=True))
    assert a.canonical_bytes() == b.canonical_bytes()
    assert a.sha256() == b.sha256()
    assert len(a.sha256()) == 64 and a.sha256() == load_price_book(DEMO).sha256()


def test_hash_changes_with_any_price():
    data = raw_demo()
    before = book_from(data).sha256()
    data["products"][0]["unit_price"] += 1
    assert book_from(data).sha256() != before


def test_canonical_bytes_round_trip():
    book = load_price_book(DEMO)
    again = parse_price_book(book.canonical_bytes())
    assert again == book
    assert again.sha256() == book.sha256()
    assert "农夫山泉".encode() in book.canonical_bytes()


# -- validation errors: one line, naming the field --


def one_line_error(data: dict) -> str:
    with pytest.raises(CatalogError) as info:
        book_from(data)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_duplicate_barcode_is_refused():
    data = raw_demo()
    data["products"][1]["barcodes"] = list(data["products"][0]["barcodes"])
    msg = one_line_error(data)
    assert "duplicate barcode 6921168509256" in msg and "coke-330" in msg


def test_duplicate_product_id_is_refused():
    data = raw_demo()
    data["products"][1]["product_id"] = data["products"][0]["product_id"]
    assert "duplicate product_id" in one_line_error(data)


def test_negative_price_is_refused():
    data = raw_demo()
    data["products"][2]["unit_price"] = -1
    msg = one_line_error(data)
    assert "products.2.unit_price" in msg and "greater than or equal to 0" in msg


def test_unknown_product_in_promotion_is_refused():
    data = raw_demo()
    data["promotions"][2]["products"] = ["no-such-thing"]
    msg = one_line_error(data)
    assert "unknown product 'no-such-thing'" in msg and "flash-noodle-350" in msg


def test_unknown_field_is_refused():
    data = raw_demo()
    data["products"][0]["colour"] = "blue"
    msg = one_line_error(data)
    assert "products.0.colour" in msg


def test_wrong_check_digit_is_refused():
    data = raw_demo()
    data["products"][0]["barcodes"] = ["6921168509257"]
    assert "wrong check digit" in one_line_error(data)


def test_member_price_above_list_is_refused():
    data = raw_demo()
    data["products"][0]["member_price"] = 999
    assert "member_price must not exceed unit_price" in one_line_error(data)


def test_bundle_price_is_the_merchants_choice():
    data = raw_demo()
    data["promotions"][4]["price"] = 500  # coke 250 + lays 750 sold for ¥5: honoured
    assert book_from(data).promotions[4].price == 500
    data["promotions"][4]["price"] = 0
    assert "bundle price must be at least 1 fen" in one_line_error(data)


def test_product_in_two_multi_unit_offers_is_refused():
    data = raw_demo()
    data["promotions"].append(
        {"kind": "buy_x_get_y", "promo_id": "coke-b1g1", "label_zh": "买一送一",
         "products": ["coke-330"], "buy": 1, "get": 1}
    )
    assert "already in multi-unit offer 'coke-lays-900'" in one_line_error(data)


def test_weighed_product_in_multi_unit_offer_is_refused():
    data = raw_demo()
    data["promotions"].append(
        {"kind": "buy_x_get_y", "promo_id": "banana-b1g1", "label_zh": "买一送一",
         "products": ["banana"], "buy": 1, "get": 1}
    )
    assert "weighed product 'banana'" in one_line_error(data)


@pytest.mark.parametrize(
    "tiers",
    [
        [{"threshold": 5000, "off": 500}, {"threshold": 10000, "off": 500}],
        [{"threshold": 5000, "off": 500}, {"threshold": 5000, "off": 900}],
        [{"threshold": 500, "off": 500}],
    ],
)
def test_bad_tiers_are_refused(tiers):
    data = raw_demo()
    data["full_reductions"][0]["tiers"] = tiers
    assert "full_reductions.0.tiers" in one_line_error(data)


def test_unknown_category_in_full_reduction_is_refused():
    data = raw_demo()
    data["full_reductions"][0]["exclude_categories"] = ["alcohool"]
    assert "unknown category 'alcohool'" in one_line_error(data)


def test_naive_datetime_in_window_is_refused():
    data = raw_demo()
    data["promotions"][2]["start"] = "2024-01-01T00:00:00"
    assert "promotions.2" in one_line_error(data)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(CatalogError, match="No such file"):
        load_price_book(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogError, match=str(bad)):
        load_price_book(bad)


# -- CSV (products only) --

CSV_TEXT = """product_id,barcodes,name_zh,name_en,unit_price,member_price,vat_rate_bp,category,age_restricted,weighed,active
water,6921168509256,农夫山泉 550ml,Water 550ml,200,180,1300,drinks,,,
banana,2000010000005|B-1,香蕉,Banana,798,,900,produce,no,yes,1
beer,6903250100213,青岛啤酒,Tsingtao,600,,1300,alcohol,是,false,true
"""


def test_csv_products(tmp_path):
    path = tmp_path / "book.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    book = load_price_book(path)
    assert book.version.startswith("csv-") and len(book.version) == 16
    assert load_price_book(path, version="2024-06").version == "2024-06"
    water = book.by_barcode("6921168509256")
    assert water.member_price == 180 and water.vat_rate_bp == 1300 and not water.weighed
    banana = book.by_barcode("B-1")
    assert banana.product_id == "banana" and banana.weighed and banana.member_price is None
    assert banana.vat_rate_bp == 900
    assert book.by_id("beer").age_restricted and book.by_id("beer").active
    assert book.promotions == () and book.sha256() == load_price_book(path).sha256()


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("product_id,name_zh,unit_price\nx,甲,abc\n", "line 2: unit_price must be an integer"),
        ("product_id,name_zh,unit_price\nx,甲,-5\n", "line 2: unit_price"),
        ("product_id,name_zh,unit_price,colour\nx,甲,5,red\n", "unknown CSV column(s): colour"),
        ("product_id,name_zh,unit_price,weighed\nx,甲,5,maybe\n", "not a yes/no value"),
        ("product_id,name_zh,unit_price\nx,甲,5\nx,乙,6\n", "duplicate product_id"),
    ],
)
def test_csv_errors(tmp_path, text, expect):
    path = tmp_path / "book.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_price_book(path)
    assert expect in str(info.value)
    assert "\n" not in str(info.value)
