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


EVENT_HEAD = (b'{"event_id":"e-0000001","type":"note","store":"s1","kiosk":"k1","seq":1,'
              b'"ts":"2026-03-01T04:00:00+00:00"')
# What pydantic's JSON parser and json.loads might read apart: the fast decode must
# accept and refuse exactly as contract.wire.base.decode does, with the same reason.
ODD_PAYLOADS = [
    EVENT_HEAD + b',"v":1,"data":{"n":123456789012345678901234567890}}',
    EVENT_HEAD + b',"v":1,"data":{"n":1e400,"m":NaN,"i":-Infinity}}',
    EVENT_HEAD + b',"v":1,"data":{"s":"\\ud800"}}',  # a lone surrogate
    EVENT_HEAD + b',"v":1,"data":{"s":"\xed\xa0\x80"}}',  # invalid UTF-8
    EVENT_HEAD + b',"v":1,"data":{"a":1,"a":2}}',
    b"\xef\xbb\xbf" + EVENT_HEAD + b',"v":1}',  # a byte order mark
    EVENT_HEAD + b',"v":1}\xff',
    EVENT_HEAD + b',"v":true}',
    EVENT_HEAD + b',"v":0}',
    EVENT_HEAD + b',"v":"1"}',
    EVENT_HEAD + b'}',  # no v
    EVENT_HEAD + b',"v":1,"seq":-1}',
    b'[1, 2]',
    b'"text"',
    EVENT_HEAD + b',"v":1,"data":{"d":' + b'[' * 3000 + b']' * 3000 + b'}}',  # deep
    EVENT_HEAD + b',"v":1,"data":{"s":"\\u0000"}}',
]


def test_fast_event_decode_reads_as_decode() -> None:
    from cloud_bridge.ingest.validation import _decode_event
    from contract.wire.base import WireError, decode
    from contract.wire.events import Event

    for payload in ODD_PAYLOADS:
        try:
            expected: object = decode(Event, payload).model_dump()
        except WireError as err:
            expected = ("refused", err.reason)
        try:
            got: object = _decode_event(payload).model_dump()
        except WireError as err:
            got = ("refused", err.reason)
        assert repr(got) == repr(expected), payload[:80]
