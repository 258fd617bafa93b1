"""Ingest validation: a sale whose amounts do not add up is refused with the field at fault."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from cloud_bridge.ingest.validation import sale_arithmetic_problem
from contract.wire.events import OrderCompletedData
from tests.cloud_bridge.bridge_helpers import order_data

ORDER_NO = "S1-K1-20260301-000001"
LINES = st.lists(
    st.tuples(st.sampled_from(["p-milk", "p-bread", "p-egg"]), st.integers(1, 20),
              st.integers(1, 100_000)),
    min_size=1, max_size=6,
)
# Where a forged or broken sale can be off, and the start of the reason naming it.
BREAKS = {
    "line amount": ("lines", "lines.1.amount"),
    "subtotal": ("subtotal", "subtotal"),
    "discount total": ("discount_total", "discount_total"),
    "total": ("total", "total"),
    "tender": ("tenders", "tenders"),
}


def sale(data: dict) -> OrderCompletedData:
    return OrderCompletedData.model_validate(data)


@given(LINES)
def test_a_sale_that_adds_up_is_accepted(lines: list[tuple[str, int, int]]) -> None:
    assert sale_arithmetic_problem(sale(order_data(ORDER_NO, lines))) is None


@given(LINES, st.sampled_from(sorted(BREAKS)), st.integers(1, 10_000))
def test_one_amount_off_is_refused_naming_the_field(
    lines: list[tuple[str, int, int]], where: str, fen: int
) -> None:
    data = copy.deepcopy(order_data(ORDER_NO, lines))
    key, reason = BREAKS[where]
    if key == "lines":
        data["lines"][0]["amount"] += fen
    elif key == "tenders":
        data["tenders"][0]["amount"] += fen
    else:
        data[key] += fen
    problem = sale_arithmetic_problem(sale(data))
    assert problem is not None and problem.startswith(reason), problem


def test_tenders_in_another_currency_and_negative_points_are_refused() -> None:
    data = order_data(ORDER_NO)
    data["tenders"][0]["currency"] = "USD"
    assert sale_arithmetic_problem(sale(data)) == "tenders.0.currency: USD in a sale in CNY"
    data = order_data(ORDER_NO)
    data["points_earned"] = -1
    assert sale_arithmetic_problem(sale(data)) == "points_earned/points_redeemed: negative"
