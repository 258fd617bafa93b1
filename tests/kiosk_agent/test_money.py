"""Money helpers: integer fen only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk_agent.money import Money, MoneyError, format_minor, parse_yuan


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
