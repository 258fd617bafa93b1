"""Money helpers: integer fen only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.money import (
    Money,
    MoneyError,
    format_minor,
    major_text,
    parse_major,
    parse_yuan,
)


@given(fen=st.integers(-(10**12), 10**12))
def test_format_then_parse_round_trips(fen):
    assert parse_yuan(format_minor(fen).replace("¥", "")) == fen


def test_format_examples():
    assert format_minor(1230) == "¥12.30"
    assert format_minor(5) == "¥0.05"
    assert format_minor(-100, "USD") == "-$1.00"
    assert format_minor(500, "JPY") == "¥500"


def test_parse_refuses_three_decimals_and_text():
    for bad in ("1.234", "abc", "1.x"):
        with pytest.raises(MoneyError):
            parse_yuan(bad)


def test_money_refuses_mixed_currencies():
    with pytest.raises(MoneyError):
        Money(amount=1, currency="CNY") + Money(amount=1, currency="USD")
    assert (Money(amount=150) + Money(amount=50)).amount == 200
    with pytest.raises(ValueError):
        Money(amount=1, currency="cny")


@given(amount=st.integers(-(10**15), 10**15), currency=st.sampled_from(["CNY", "USD", "JPY"]))
def test_major_text_then_parse_major_round_trips(amount, currency):
    assert parse_major(major_text(amount, currency), currency) == amount


def test_major_text_examples():
    assert major_text(1230) == "12.30"
    assert major_text(5) == "0.05"
    assert major_text(1010, "USD") == "10.10"
    assert major_text(-7, "CNY") == "-0.07"
    assert major_text(500, "JPY") == "500"


def test_parse_major_is_exact_and_refuses_what_it_cannot_represent():
    assert parse_major("12.3") == 1230 and parse_major(" 0.07 ") == 7
    assert parse_major("500", "JPY") == 500 and parse_major("-1.5") == -150
    # "12.345" used to be truncated to 1234 fen by int(Decimal(x) * 100).
    for bad in ("12.345", "", ".", "-", "abc", "1e3", "NaN", "Infinity", "1,000", "+1",
                "\u0661\u0662", "\u00b2", "1.2.3", "5.5"):
        with pytest.raises(MoneyError):
            parse_major(bad, "JPY" if bad == "5.5" else "CNY")
    with pytest.raises(MoneyError):
        parse_major(None)  # type: ignore[arg-type]


@given(st.text(max_size=12))
def test_parse_major_raises_only_money_error(text):
    try:
        assert isinstance(parse_major(text), int)
    except MoneyError:
        pass
