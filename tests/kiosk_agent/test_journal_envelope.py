"""The journal's event encoder writes exactly the bytes ``Event(...).encode()`` writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_core import to_json

from contract.wire.events import Event, uuid7
from kiosk_agent.journal import envelope
from kiosk_agent.journal.envelope import EventEncoder, encode_ts

ids = st.text(min_size=1, max_size=64)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)
stamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                      timezones=st.just(UTC))


def test_the_fast_encoding_is_in_use():
    assert envelope.EXACT, f"Event fields changed: {tuple(Event.model_fields)}"


@settings(max_examples=300, deadline=None)
@given(store=ids, kiosk=ids, etype=ids, seq=st.integers(0, 2**62), ts=stamps,
       data=st.dictionaries(st.text(max_size=12), json_values, max_size=6))
def test_bytes_equal_the_models(store, kiosk, etype, seq, ts, data):
    event_id = uuid7()
    expected = Event(event_id=event_id, type=etype, store=store, kiosk=kiosk, seq=seq, ts=ts,
                     data=data).encode()
    got = EventEncoder(store, kiosk).encode(event_id, etype, seq, encode_ts(ts), to_json(data))
    assert got == expected


def test_whole_seconds_and_other_zones_too():
    enc = EventEncoder("store1", "kiosk1")
    for ts in (datetime(2026, 12, 6, 8, 0, 0, tzinfo=UTC),
               datetime(2026, 12, 6, 8, 0, 0, 5, tzinfo=UTC).astimezone(
                   datetime.now().astimezone().tzinfo),
               datetime(2026, 12, 6, 16, 0, tzinfo=UTC) + timedelta(microseconds=999999)):
        expected = Event(event_id="e" * 36, type="t", store="store1", kiosk="kiosk1", seq=3,
                         ts=ts, data={"k": "值"}).encode()
        assert enc.encode("e" * 36, "t", 3, encode_ts(ts), to_json({"k": "值"})) == expected


def test_what_the_model_refuses_is_refused(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(ValidationError):
        EventEncoder("", "kiosk1")
    enc = EventEncoder("store1", "kiosk1")
    ts = encode_ts(datetime.now(UTC))
    with pytest.raises(ValidationError):
        enc.encode(uuid7(), "", 1, ts, b"{}")
    with pytest.raises(ValidationError):
        enc.encode(uuid7(), "t", -1, ts, b"{}")
    with pytest.raises(ValidationError):
        enc.encode("short", "t", 1, ts, b"{}")
    # A changed Event model: every event goes through the model, same bytes.
    monkeypatch.setattr(envelope, "EXACT", False)
    now = datetime.now(UTC)
    assert enc.encode("e" * 36, "t", 1, encode_ts(now), b'{"a":[1,null]}') == Event(
        event_id="e" * 36, type="t", store="store1", kiosk="kiosk1", seq=1, ts=now,
        data={"a": [1, None]}).encode()
