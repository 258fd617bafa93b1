"""Keyword segmentation, the price index and phone masking on hand-made inputs."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud_bridge.analytics.competitors import parse_price_list, price_index
from cloud_bridge.analytics.events import mask_phones
from cloud_bridge.analytics.keywords import keyword_report, tokenize
from cloud_bridge.errors import InvalidRequest


def test_tokenize_cuts_chinese_queries_into_words():
    assert "牛奶" in tokenize("进口牛奶 1L")
    assert tokenize("！！的") == []
    assert tokenize("Milk milk") == ["milk"]


def test_keyword_report_top_rising_zero():
    d1, d2 = date(2026, 3, 1), date(2026, 3, 2)  # previous day, this day
    rows = ([(d1, "牛奶", 5)] + [(d2, q, 5) for q in ("牛奶", "鲜牛奶", "牛奶", "酸奶")]
            + [(d2, "榴莲", 0)] * 3 + [(d2, "榴莲 ", 0)])
    s = pl.DataFrame(rows, schema={"business_date": pl.Date, "keyword": pl.Utf8,
                                   "result_count": pl.Int64}, orient="row")
    r = keyword_report(s, d2, d2)
    top = dict(zip(r["top"]["term"], r["top"]["searches"], strict=True))
    assert top["牛奶"] == 3 and top["榴莲"] == 4
    rising = dict(zip(r["rising"]["term"], r["rising"]["growth"], strict=True))
    assert rising["牛奶"] == pytest.approx((3 + 1) / (1 + 1)) and rising["榴莲"] == 5.0
    assert r["zero_result"].to_dicts() == [{"keyword": "榴莲", "searches": 4}]


def test_price_list_parsing_and_refusals():
    rows = parse_price_list("\ufeffBarcode,Price\n6901234567892,12.5\n", date(2026, 3, 1))
    assert rows == [("6901234567892", 1250, "2026-03-01")]
    for bad, why in [("code,price\n1,2", "columns"), ("barcode,price\n12ab,1", "line 2"),
                     ("barcode,price\n69012345,1.234", "yuan amount"),
                     ("barcode,price,observed_on\n69012345,1,2026-13-01", "not a date"),
                     ("barcode,price\n", "no rows")]:
        with pytest.raises(InvalidRequest, match=why):
            parse_price_list(bad, date(2026, 3, 1))


def test_price_index_by_category():
    own = pl.DataFrame({"barcode": ["1", "2", "3"], "product_id": ["a", "b", "c"],
                        "category": ["乳品", "乳品", "零食"], "list_price": [1100, 900, 500]})
    market = pl.DataFrame({"competitor": ["x", "x", "y", "x"], "barcode": ["1", "2", "2", "1"],
                           "observed_on": ["2026-03-01", "2026-03-01", "2026-03-01",
                                           "2026-02-01"],
                           "price": [1000, 1000, 800, 2000]})
    index, above = price_index(own, market)
    # barcode 1: latest x 1000; barcode 2: mean(1000, 800) = 900 -> 100 * 2000 / 1900
    assert index.to_dicts() == [{"key": "乳品", "matched": 2, "own_total": 2000,
                                 "market_total": 1900.0, "index": pytest.approx(2000 / 19)}]
    assert above["product_id"].to_list() == ["a"] and above["above_by"][0] == pytest.approx(0.1)


@given(st.text(alphabet="0123456789 -+86", min_size=0, max_size=30))
def test_no_mobile_number_survives_masking(text):
    import re

    masked = mask_phones("x" + text + "y")
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", masked)


def test_mask_phones_examples():
    assert mask_phones("call 13812345678 now") == "call [phone] now"
    assert mask_phones("+86 138-1234-5678") == "[phone]"
    assert mask_phones("6901234567892") == "6901234567892"  # a barcode is not a phone
