"""The quick fit check of an event's data says what the path-naming walk says."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud_bridge.ingest.bounds import INT64_MAX, JSON_TEXT_MAX, MAX_DEPTH, _fits, _walk

LEAVES = (
    st.none() | st.booleans() | st.floats(allow_nan=False)
    | st.integers(min_value=-INT64_MAX - 2, max_value=INT64_MAX + 2)
    | st.sampled_from([0, -INT64_MAX, INT64_MAX, -INT64_MAX - 1, INT64_MAX + 1, 1e301])
    | st.text(max_size=3) | st.sampled_from(["x" * JSON_TEXT_MAX, "x" * (JSON_TEXT_MAX + 1)])
)
JSON = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=2), inner, max_size=3), max_leaves=40)


def nested(depth: int, leaf: object) -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_fits_agrees_with_walk(value: object) -> None:
    assert _fits(value) == (_walk(value, "data") is None)


def test_depth_limit() -> None:
    assert _fits(nested(MAX_DEPTH, 1))
    assert not _fits(nested(MAX_DEPTH + 1, 1))
    assert _fits(nested(MAX_DEPTH, []))
    assert not _fits(nested(MAX_DEPTH + 1, []))
    assert _fits({"a": nested(MAX_DEPTH - 1, "x")})
    assert not _fits({"a": nested(MAX_DEPTH, "x")})
